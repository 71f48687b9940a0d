using System.Runtime.Intrinsics;

namespace DistriGen.Tensors.Ops;

/// <summary>
/// Functions of 16 floats at a time, for loops that fuse steps TensorPrimitives would take one pass each for.
/// </summary>
internal static class VectorMath
{
    /// <summary>
    /// eˣ (Cephes' expf: x = n·ln 2 + r, a degree-6 polynomial in r, times 2ⁿ), within 2 ulp for results in float's
    /// normal range. Arguments are clamped to [−87.3, 88.4]: below, zero instead of a denormal (weights that small
    /// vanish in any sum); above, 2¹²⁸ less an ulp or so instead of infinity, which still makes 1/(1 + eˣ) zero.
    /// </summary>
    public static Vector512<float> Exp(Vector512<float> x)
    {
        x = Vector512.Min(Vector512.Max(x, Vector512.Create(-87.33654f)), Vector512.Create(88.3762626647949f));
        var n = Vector512.Round(x * Vector512.Create(1.44269504088896341f));
        var r = Vector512.FusedMultiplyAdd(n, Vector512.Create(-0.693359375f), x);
        r = Vector512.FusedMultiplyAdd(n, Vector512.Create(2.12194440e-4f), r);
        var p = Vector512.Create(1.9875691500e-4f);
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.3981999507e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(8.3334519073e-3f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(4.1665795894e-2f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(1.6666665459e-1f));
        p = Vector512.FusedMultiplyAdd(p, r, Vector512.Create(5.0000001201e-1f));
        p = Vector512.FusedMultiplyAdd(p, r * r, r + Vector512<float>.One);
        // n = 128 (x near the upper clamp) would overflow the exponent field: take 2ⁿ as 2ⁿ⁻¹·2.
        var half = Vector512.ShiftLeft(Vector512.ConvertToInt32(n) + Vector512.Create(126), 23).AsSingle();
        return p * half * Vector512.Create(2f);
    }

    /// <summary>Σx and Σx² of a row in one pass (a row's float sums, in an order fixed by its length alone).</summary>
    public static (float Sum, float Squares) SumAndSquares(ReadOnlySpan<float> x)
    {
        int i = 0;
        float sum = 0, squares = 0;
        if (Vector512.IsHardwareAccelerated && x.Length >= 16)
        {
            ref float from = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
            Vector512<float> s0 = Vector512<float>.Zero, s1 = s0, q0 = s0, q1 = s0;
            for (; i + 32 <= x.Length; i += 32)
            {
                var a = Vector512.LoadUnsafe(ref from, (nuint)i);
                var b = Vector512.LoadUnsafe(ref from, (nuint)(i + 16));
                s0 += a;
                s1 += b;
                q0 = Vector512.FusedMultiplyAdd(a, a, q0);
                q1 = Vector512.FusedMultiplyAdd(b, b, q1);
            }
            for (; i + 16 <= x.Length; i += 16)
            {
                var a = Vector512.LoadUnsafe(ref from, (nuint)i);
                s0 += a;
                q0 = Vector512.FusedMultiplyAdd(a, a, q0);
            }
            sum = Vector512.Sum(s0 + s1);
            squares = Vector512.Sum(q0 + q1);
        }
        for (; i < x.Length; i++)
        {
            sum += x[i];
            squares += x[i] * x[i];
        }
        return (sum, squares);
    }

    /// <summary>
    /// dst = gelu(x) = x · ½(1 + erf(x/√2)), times <paramref name="multiplier"/> when it is not empty (GEGLU's
    /// hidden half), in one pass: erf by Abramowitz–Stegun 7.1.26 (absolute error below 1.5e-7, under float32's
    /// resolution of the result).
    /// </summary>
    public static void Gelu(ReadOnlySpan<float> x, ReadOnlySpan<float> multiplier, Span<float> dst)
    {
        int i = 0;
        bool times = !multiplier.IsEmpty;
        if (Vector512.IsHardwareAccelerated)
        {
            ref float from = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
            ref float by = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(multiplier);
            ref float to = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dst);
            var sign = Vector512.Create(0x80000000u).AsSingle();
            for (; i + 16 <= x.Length; i += 16)
            {
                var v = Vector512.LoadUnsafe(ref from, (nuint)i);
                var z = v * Vector512.Create(0.70710678118654752f);
                var a = Vector512.AndNot(z, sign);
                var t = Vector512<float>.One / Vector512.FusedMultiplyAdd(a, Vector512.Create(0.3275911f),
                    Vector512<float>.One);
                var p = Vector512.FusedMultiplyAdd(t, Vector512.Create(1.061405429f), Vector512.Create(-1.453152027f));
                p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(1.421413741f));
                p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(-0.284496736f));
                p = Vector512.FusedMultiplyAdd(p, t, Vector512.Create(0.254829592f));
                var erfAbs = Vector512<float>.One - p * t * Exp(-(a * a));
                var erf = erfAbs | (z & sign);
                var y = v * Vector512.FusedMultiplyAdd(erf, Vector512.Create(0.5f), Vector512.Create(0.5f));
                if (times) y *= Vector512.LoadUnsafe(ref by, (nuint)i);
                y.StoreUnsafe(ref to, (nuint)i);
            }
        }
        for (; i < x.Length; i++) dst[i] = Gelu(x[i]) * (times ? multiplier[i] : 1f);
    }

    /// <summary>One value of <see cref="Gelu(ReadOnlySpan{float}, ReadOnlySpan{float}, Span{float})"/>.</summary>
    private static float Gelu(float x)
    {
        float z = x * 0.70710678118654752f, a = MathF.Abs(z);
        float t = 1f / (1f + 0.3275911f * a);
        float p = ((((1.061405429f * t - 1.453152027f) * t + 1.421413741f) * t - 0.284496736f) * t + 0.254829592f) * t;
        float erf = MathF.CopySign(1f - p * MathF.Exp(-a * a), z);
        return x * (0.5f + 0.5f * erf);
    }

    /// <summary>dst = (x − mean)·invStd·gamma + beta in one pass (LayerNorm's second step).</summary>
    public static void Normalize(ReadOnlySpan<float> x, float mean, float invStd, ReadOnlySpan<float> gamma,
        ReadOnlySpan<float> beta, Span<float> dst)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            ref float from = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(x);
            ref float g = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(gamma);
            ref float b = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(beta);
            ref float to = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dst);
            var m = Vector512.Create(mean);
            var s = Vector512.Create(invStd);
            for (; i + 16 <= x.Length; i += 16)
            {
                var t = (Vector512.LoadUnsafe(ref from, (nuint)i) - m) * s;
                var shift = Vector512.LoadUnsafe(ref b, (nuint)i);
                Vector512.FusedMultiplyAdd(t, Vector512.LoadUnsafe(ref g, (nuint)i), shift)
                    .StoreUnsafe(ref to, (nuint)i);
            }
        }
        for (; i < x.Length; i++) dst[i] = MathF.FusedMultiplyAdd((x[i] - mean) * invStd, gamma[i], beta[i]);
    }

    /// <summary>
    /// dst = silu(src·scale + shift) = t / (1 + e⁻ᵗ) in one pass (GroupNorm's affine step and SiLU
    /// fused).
    /// </summary>
    public static void ScaleShiftSilu(ReadOnlySpan<float> src, float scale, float shift, Span<float> dst)
    {
        int i = 0;
        if (Vector512.IsHardwareAccelerated)
        {
            var a = Vector512.Create(scale);
            var b = Vector512.Create(shift);
            ref float from = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(src);
            ref float to = ref System.Runtime.InteropServices.MemoryMarshal.GetReference(dst);
            for (; i + 16 <= src.Length; i += 16)
            {
                var t = Vector512.FusedMultiplyAdd(Vector512.LoadUnsafe(ref from, (nuint)i), a, b);
                (t / (Vector512<float>.One + Exp(-t))).StoreUnsafe(ref to, (nuint)i);
            }
        }
        for (; i < src.Length; i++)
        {
            float t = src[i] * scale + shift;
            dst[i] = t / (1f + MathF.Exp(-t));
        }
    }
}

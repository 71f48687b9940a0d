using System.Numerics.Tensors;
using DistriGen.Tensors.Compute;

namespace DistriGen.Tensors.Ops;

public static partial class Ops
{
    public static Tensor Silu(Tensor x)
    {
        if (x.IsMeta) return Tensor.Meta(x.Shape);
        if (KernelsOf("silu", x) is { } device) return device.Silu(x);
        var y = Tensor.HostEmpty(x.Shape);
        using var _ = OpProfiler.Measure(OpCategory.Elementwise, 4L * x.Length);
        x.Span.CopyTo(y.Span);
        ParallelChunks(y.Buffer, y.Length, chunk => VectorMath.ScaleShiftSilu(chunk, 1f, 0f, chunk));
        return y;
    }

    /// <summary>x · sigmoid(1.702 · x), the "quick_gelu" of CLIP's text encoders.</summary>
    public static Tensor QuickGelu(Tensor x)
    {
        if (x.IsMeta) return Tensor.Meta(x.Shape);
        if (KernelsOf("quick_gelu", x) is { } device) return device.QuickGelu(x);
        var y = Tensor.HostEmpty(x.Shape);
        using var _ = OpProfiler.Measure(OpCategory.Elementwise, 5L * x.Length);
        TensorPrimitives.Multiply(x.Span, 1.702f, y.Span);
        TensorPrimitives.Sigmoid(y.Span, y.Span);
        TensorPrimitives.Multiply(y.Span, x.Span, y.Span);
        return y;
    }

    /// <summary>GELU with the exact error function, as torch's default.</summary>
    public static Tensor Gelu(Tensor x)
    {
        if (x.IsMeta) return Tensor.Meta(x.Shape);
        if (KernelsOf("gelu", x) is { } device) return device.Gelu(x);
        var y = Tensor.HostEmpty(x.Shape);
        var src = x.Span;
        var dst = y.Span;
        for (int i = 0; i < src.Length; i += 1024)
        {
            int n = Math.Min(1024, src.Length - i);
            GeluInto(src.Slice(i, n), dst.Slice(i, n));
        }
        return y;
    }

    /// <summary>
    /// dst = gelu(src) = src · ½(1 + erf(src/√2)), vectorised: erf by Abramowitz–Stegun 7.1.26
    /// (absolute error below 1.5e-7, under float32's resolution of the result).
    /// </summary>
    private static void GeluInto(ReadOnlySpan<float> src, Span<float> dst)
    {
        Span<float> z = stackalloc float[src.Length];
        Span<float> t = stackalloc float[src.Length];
        Span<float> e = stackalloc float[src.Length];
        TensorPrimitives.Multiply(src, 0.70710678118654752f, z);
        TensorPrimitives.Abs(z, t);
        TensorPrimitives.Multiply(t, t, e);
        TensorPrimitives.Negate(e, e);
        TensorPrimitives.Exp(e, e);                       // e = exp(-z²)
        TensorPrimitives.Multiply(t, 0.3275911f, t);
        TensorPrimitives.Add(t, 1f, t);
        TensorPrimitives.Reciprocal(t, t);                // t = 1 / (1 + p|z|)
        Span<float> poly = dst;                           // the output is scratch until the end
        TensorPrimitives.Multiply(t, 1.061405429f, poly);
        TensorPrimitives.Add(poly, -1.453152027f, poly);
        TensorPrimitives.MultiplyAdd(poly, t, 1.421413741f, poly);
        TensorPrimitives.MultiplyAdd(poly, t, -0.284496736f, poly);
        TensorPrimitives.MultiplyAdd(poly, t, 0.254829592f, poly);
        TensorPrimitives.Multiply(poly, t, poly);
        TensorPrimitives.Multiply(poly, e, poly);         // 1 − erf(|z|)
        TensorPrimitives.Subtract(1f, poly, poly);        // erf(|z|)
        TensorPrimitives.CopySign(poly, z, poly);         // erf(z)
        TensorPrimitives.Multiply(poly, 0.5f, poly);
        TensorPrimitives.Add(poly, 0.5f, poly);           // Φ(x) = ½(1 + erf(x/√2))
        TensorPrimitives.Multiply(poly, src, dst);
    }

    /// <summary>GEGLU: splits the last axis into (hidden, gate) halves and returns hidden · gelu(gate).</summary>
    public static Tensor Geglu(Tensor x)
    {
        int twoF = x.Dim(-1);
        Shapes.Check(twoF % 2 == 0, "geglu", () => $"the last axis of {Tensor.Format(x.Shape)} must be even.");
        int f = twoF / 2;
        var shape = (int[])x.Shape.Clone();
        shape[^1] = f;
        if (x.IsMeta) return Tensor.Meta(shape);
        if (KernelsOf("geglu", x) is { } device) return device.Geglu(x);
        var y = Tensor.HostEmpty(shape);
        using var _ = OpProfiler.Measure(OpCategory.Elementwise, 20L * y.Length);
        int rows = x.Length / twoF;
        var xd = x.Buffer;
        var yd = y.Buffer;
        ComputeThreads.For((rows + 15) / 16, ComputeThreads.Current, chunk =>
        {
            for (int r = chunk * 16; r < Math.Min(rows, chunk * 16 + 16); r++)
            {
                var hidden = new ReadOnlySpan<float>(xd, r * twoF, f);
                var gate = new ReadOnlySpan<float>(xd, r * twoF + f, f);
                var dst = new Span<float>(yd, r * f, f);
                for (int i = 0; i < f; i += 1024)
                {
                    int n = Math.Min(1024, f - i);
                    GeluInto(gate.Slice(i, n), dst.Slice(i, n));
                }
                TensorPrimitives.Multiply(dst, hidden, dst);
            }
        });
        return y;
    }


    /// <summary>The error function to float precision (W. J. Cody's rational approximations, in double).</summary>
    internal static float Erf(float xf)
    {
        double x = xf, ax = Math.Abs(x);
        double r;
        if (ax < 0.5)
        {
            double t = x * x;
            double num = (((0.185777706184603153 * t + 3.16112374387056560) * t + 113.864154151050156) * t + 377.485237685302021) * t + 3209.37758913846947;
            double den = (((t + 23.6012909523441209) * t + 244.024637934444173) * t + 1282.61652607737228) * t + 2844.23683343917062;
            return (float)(x * num / den);
        }
        if (ax < 4.0)
        {
            double num = (((((((2.56852019228982242e-8 * ax + 0.564188496988670089) * ax + 8.88314979438837594) * ax + 66.1191906371416295) * ax + 298.635138197400131) * ax + 881.952221241769090) * ax + 1712.04761263407058) * ax + 2051.07837782607147) * ax + 1230.33935479799725;
            double den = (((((((ax + 15.7449261107098347) * ax + 117.693950891312499) * ax + 537.181101862009858) * ax + 1621.38957456669019) * ax + 3290.79923573345963) * ax + 4362.61909014324716) * ax + 3439.36767414372164) * ax + 1230.33935480374942;
            r = 1.0 - Math.Exp(-ax * ax) * num / den;
        }
        else
        {
            r = 1.0;
        }
        return (float)(x < 0 ? -r : r);
    }

    private static void ParallelChunks(float[] data, int length, SpanAction action)
    {
        const int Chunk = 1 << 14;
        ComputeThreads.For((length + Chunk - 1) / Chunk, ComputeThreads.Current, i =>
            action(new Span<float>(data, i * Chunk, Math.Min(Chunk, length - i * Chunk))));
    }

    private delegate void SpanAction(Span<float> span);
}

using System.Numerics.Tensors;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using DistriGen.Tensors.Compute;

namespace DistriGen.Tensors.Ops;

public static partial class Ops
{
    private const int QueryBlock = 256;
    private const int KeyBlock = 512;

    /// <summary>
    /// Multi-head scaled-dot-product attention, softmax(q·kᵀ/√d)·v, on token layout: q (B, Nq, C),
    /// k and v (B, Nk, C), C = heads × d with head h in channels [h·d, (h+1)·d). Blocked with an online
    /// softmax, so memory is O(N·d): the Nq×Nk score matrix is never written. With
    /// <paramref name="causal"/> query i attends to keys 0…i only (text encoders).
    /// </summary>
    public static unsafe Tensor Attention(Tensor q, Tensor k, Tensor v, int heads, bool causal = false)
    {
        const string op = "attention";
        Shapes.Rank(q, 3, op, "q");
        Shapes.Rank(k, 3, op, "k");
        Shapes.Equal(k, v, op);
        int batch = q.Dim(0), nq = q.Dim(1), c = q.Dim(2), nk = k.Dim(1);
        Shapes.Check(k.Dim(0) == batch && k.Dim(2) == c, op,
            () => $"q {Tensor.Format(q.Shape)} and k {Tensor.Format(k.Shape)} do not match.");
        Shapes.Check(heads > 0 && c % heads == 0, op, () => $"{c} channels cannot be split into {heads} heads.");
        Shapes.Check(!causal || nq == nk, op,
            () => $"causal attention needs as many queries as keys, got {nq} and {nk}.");
        if (Tensor.AnyMeta(q, k, v)) return Tensor.Meta(batch, nq, c);
        if (KernelsOf(op, q, k, v) is { } device) return device.Attention(q, k, v, heads, causal);
        var y = Tensor.HostEmpty(batch, nq, c);
        int d = c / heads;
        using var _ = OpProfiler.Measure(OpCategory.Attention, 4L * batch * nq * nk * c);

        // Keys per (batch, head) transposed to (d, Nk), so both products are plain row-major GEMMs.
        var kt = TensorMemory.Rent(batch * heads * d * nk);
        fixed (float* pk = k.Span, pkt = kt)
        {
            nint from = (nint)pk, to = (nint)pkt;
            ComputeThreads.For(batch * heads, ComputeThreads.Current, bh =>
            {
                int b = bh / heads, h = bh % heads;
                TransposeBlock((float*)from + (long)b * nk * c + h * d, c, (float*)to + (long)bh * d * nk, nk, nk, d);
            });
        }

        float scale = 1f / MathF.Sqrt(d);
        int qBlocks = (nq + QueryBlock - 1) / QueryBlock;
        var backend = ComputeBackends.Current;
        fixed (float* pq = q.Span, pv = v.Span, py = y.Span, pkt = kt)
        using (var products = AttentionProducts.Create(backend, nk, pq, q.Length, pkt, (long)batch * heads * d * nk,
            pv, v.Length))
        {
            nint ny = (nint)py;
            ComputeThreads.For(batch * heads * qBlocks, ComputeThreads.Current, job =>
            {
                int qb = job % qBlocks, bh = job / qBlocks, b = bh / heads, h = bh % heads;
                int q0 = qb * QueryBlock, qn = Math.Min(QueryBlock, nq - q0);
                var scores = TensorMemory.Rent(QueryBlock * KeyBlock);
                var acc = TensorMemory.Rent(QueryBlock * d);
                Span<float> rowMax = stackalloc float[QueryBlock];
                Span<float> rowSum = stackalloc float[QueryBlock];
                rowMax.Fill(float.NegativeInfinity);
                rowSum.Clear();
                acc.AsSpan(0, qn * d).Clear();
                long qAt = ((long)b * nq + q0) * c + h * d, ktAt = (long)bh * d * nk;
                fixed (float* ps = scores, pacc = acc)
                {
                    // Causal: keys after the block's last query are masked for every row of the block.
                    int keys = causal ? q0 + qn : nk;
                    for (int k0 = 0; k0 < keys; k0 += KeyBlock)
                    {
                        int kn = Math.Min(KeyBlock, keys - k0);
                        products.Scores(qn, kn, d, qAt, c, ktAt + k0, nk, ps, KeyBlock);
                        if (causal) MaskFutureKeys(ps, qn, kn, q0, k0);
                        for (int i = 0; i < qn; i++)
                        {
                            // Maxima of the unscaled scores (the scale is positive); the scale goes into the exponent.
                            float* row = ps + i * KeyBlock;
                            float newMax = MathF.Max(rowMax[i], RowMax(row, kn));
                            float correction = MathF.Exp((rowMax[i] - newMax) * scale);
                            rowSum[i] = rowSum[i] * correction + products.Weights(row, kn, scale, newMax * scale);
                            if (correction != 1f)
                            {
                                var a = new Span<float>(pacc + i * d, d);
                                TensorPrimitives.Multiply(a, correction, a);
                            }
                            rowMax[i] = newMax;
                        }
                        products.Accumulate(qn, d, kn, ps, KeyBlock, ((long)b * nk + k0) * c + h * d, c, pacc, d);
                    }
                    for (int i = 0; i < qn; i++)
                    {
                        var outRow = new Span<float>((float*)ny + ((long)b * nq + q0 + i) * c + h * d, d);
                        TensorPrimitives.Divide(new ReadOnlySpan<float>(pacc + i * d, d), rowSum[i], outRow);
                    }
                }
                TensorMemory.Return(scores);
                TensorMemory.Return(acc);
            });
        }
        TensorMemory.Return(kt);
        return y;
    }

    /// <summary>Scores of keys after their query become −∞, so they get no weight.</summary>
    private static unsafe void MaskFutureKeys(float* scores, int rows, int keys, int q0, int k0)
    {
        for (int i = 0; i < rows; i++)
        {
            int first = Math.Max(0, q0 + i + 1 - k0);
            if (first < keys) new Span<float>(scores + i * KeyBlock + first, keys - first).Fill(float.NegativeInfinity);
        }
    }

    /// <summary>
    /// The largest of n scores (x86 max: the scores hold no NaN, so no IEEE NaN handling is paid
    /// for).
    /// </summary>
    private static unsafe float RowMax(float* row, int n)
    {
        int i = 0;
        float max = float.NegativeInfinity;
        if (Avx512F.IsSupported && n >= 64)
        {
            var m0 = Vector512.Load(row);
            var m1 = Vector512.Load(row + 16);
            var m2 = Vector512.Load(row + 32);
            var m3 = Vector512.Load(row + 48);
            for (i = 64; i + 64 <= n; i += 64)
            {
                m0 = Avx512F.Max(m0, Vector512.Load(row + i));
                m1 = Avx512F.Max(m1, Vector512.Load(row + i + 16));
                m2 = Avx512F.Max(m2, Vector512.Load(row + i + 32));
                m3 = Avx512F.Max(m3, Vector512.Load(row + i + 48));
            }
            var m = Avx512F.Max(Avx512F.Max(m0, m1), Avx512F.Max(m2, m3));
            for (; i + 16 <= n; i += 16) m = Avx512F.Max(m, Vector512.Load(row + i));
            var m128 = Sse.Max(Avx.Max(m.GetLower(), m.GetUpper()).GetLower(), Avx.Max(m.GetLower(),
                m.GetUpper()).GetUpper());
            max = MathF.Max(MathF.Max(m128.GetElement(0), m128.GetElement(1)), MathF.Max(m128.GetElement(2),
                m128.GetElement(3)));
        }
        for (; i < n; i++) max = MathF.Max(max, row[i]);
        return max;
    }
}

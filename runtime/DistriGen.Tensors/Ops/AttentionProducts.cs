using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using DistriGen.Tensors.Compute;

namespace DistriGen.Tensors.Ops;

/// <summary>
/// The work of blocked attention on one thread, per query block and key block: the scores against the keys,
/// each row's softmax weights (written over its scores), and the weights times the value block added to the
/// output. Offsets are in elements of q, the transposed keys and v, so either precision reads the same positions.
/// </summary>
internal abstract unsafe class AttentionProducts : IDisposable
{
    [ThreadStatic] private static float[]? _tail;

    /// <summary>Below this many keys (cross-attention's 77) rounding q to bf16 costs more than bf16 saves.</summary>
    private const int Bf16MinKeys = 256;

    /// <summary>
    /// bf16 products where the backend runs them in bf16 and there are enough keys, float32
    /// otherwise.
    /// </summary>
    public static AttentionProducts Create(IComputeBackend backend, int keys, float* q, long qLength, float* kt,
        long ktLength, float* v, long vLength) =>
        backend is IBFloat16Gemm { BFloat16: true } bf16 && keys >= Bf16MinKeys
            ? new BFloat16Products(bf16, q, qLength, kt, ktLength, v, vLength)
            : new Float32Products(backend, q, kt, v);

    public abstract void Scores(int qn, int kn, int d, long q, int ldq, long kt, int ldkt, float* scores, int lds);

    /// <summary>exp(s·scale − shift) for one row of n scores, written over the row; returns the weights' sum.</summary>
    public abstract float Weights(float* row, int n, float scale, float shift);

    /// <summary>acc += weights · v, weights as <see cref="Weights"/> left them in rows ldw floats apart.</summary>
    public abstract void Accumulate(int qn, int d, int kn, float* weights, int ldw, long v, int ldv, float* acc,
        int ldacc);

    public virtual void Dispose() { }

    /// <summary>exp(s·scale − shift) over the row by scalar code (no AVX-512), its sum returned.</summary>
    private static float ScalarWeights(float* row, int n, float scale, float shift)
    {
        float sum = 0;
        for (int i = 0; i < n; i++)
        {
            row[i] = MathF.Exp(row[i] * scale - shift);
            sum += row[i];
        }
        return sum;
    }

    /// <summary>
    /// A row's last n scores in a thread's buffer of <paramref name="width"/> floats, the rest −∞, so that the tail
    /// of a row (cross-attention has 77 keys) runs through the vector code too.
    /// </summary>
    private static float* PaddedTail(float* scores, int n, int width)
    {
        _tail ??= GC.AllocateArray<float>(32, pinned: true);
        var tail = (float*)Unsafe.AsPointer(ref _tail[0]);
        for (int j = 0; j < width; j++) tail[j] = j < n ? scores[j] : float.NegativeInfinity;
        return tail;
    }

    private sealed class Float32Products(IComputeBackend backend, float* q, float* kt, float* v) : AttentionProducts
    {
        public override void Scores(int qn, int kn, int d, long qAt, int ldq, long ktAt, int ldkt, float* scores,
            int lds) =>
            backend.Gemm(qn, kn, d, q + qAt, ldq, kt + ktAt, ldkt, scores, lds, false, 1);

        public override float Weights(float* row, int n, float scale, float shift)
        {
            if (!Vector512.IsHardwareAccelerated) return ScalarWeights(row, n, scale, shift);
            var vScale = Vector512.Create(scale);
            var vShift = Vector512.Create(-shift);
            var total = Vector512<float>.Zero;
            int i = 0;
            for (; i + 16 <= n; i += 16)
            {
                var e = VectorMath.Exp(Vector512.FusedMultiplyAdd(Vector512.Load(row + i), vScale, vShift));
                e.Store(row + i);
                total += e;
            }
            if (i < n)
            {
                // The last 1–15 scores by the same vector code, padded with −∞, whose weights come out 0.
                var tail = PaddedTail(row + i, n - i, 16);
                var e = VectorMath.Exp(Vector512.FusedMultiplyAdd(Vector512.Load(tail), vScale, vShift));
                e.Store(tail);
                new ReadOnlySpan<float>(tail, n - i).CopyTo(new Span<float>(row + i, n - i));
                total += e;
            }
            return Vector512.Sum(total);
        }

        public override void Accumulate(int qn, int d, int kn, float* weights, int ldw, long vAt, int ldv,
            float* acc, int ldacc) =>
            backend.Gemm(qn, d, kn, weights, ldw, v + vAt, ldv, acc, ldacc, true, 1);
    }

    /// <summary>
    /// q, keys and v rounded to bf16 once; the softmax weights computed to bf16's precision and packed as bf16
    /// at the start of their row, so the second product reads them where the scores were.
    /// </summary>
    private sealed class BFloat16Products : AttentionProducts
    {
        /// <summary>Word indices 1, 3, …, 63 of two vectors taken as one: the upper halves of 32 floats.</summary>
        private static readonly Vector512<ushort> UpperHalves = Vector512.Create(
            (ushort)1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31,
            33, 35, 37, 39, 41, 43, 45, 47, 49, 51, 53, 55, 57, 59, 61, 63);

        private readonly IBFloat16Gemm _gemm;
        private readonly ushort[] _q, _kt, _v;

        public BFloat16Products(IBFloat16Gemm gemm, float* q, long qLength, float* kt, long ktLength, float* v,
            long vLength)
        {
            _gemm = gemm;
            _q = Rounded(q, qLength);
            _kt = Rounded(kt, ktLength);
            _v = Rounded(v, vLength);
        }

        /// <summary>The values rounded, in an array rented for the call (the same sizes every step).</summary>
        private static ushort[] Rounded(float* values, long length)
        {
            const int chunk = 1 << 16;
            var rounded = ArrayPool<ushort>.Shared.Rent(checked((int)length));
            int chunks = (int)((length + chunk - 1) / chunk);
            nint from = (nint)values;
            ComputeThreads.For(chunks, ComputeThreads.Current, i =>
            {
                int start = i * chunk, n = (int)Math.Min(chunk, length - start);
                BFloat16.Convert(new ReadOnlySpan<float>((float*)from + start, n), rounded.AsSpan(start, n));
            });
            return rounded;
        }

        public override void Dispose()
        {
            ArrayPool<ushort>.Shared.Return(_q);
            ArrayPool<ushort>.Shared.Return(_kt);
            ArrayPool<ushort>.Shared.Return(_v);
        }

        public override void Scores(int qn, int kn, int d, long qAt, int ldq, long ktAt, int ldkt, float* scores,
            int lds)
        {
            fixed (ushort* q = _q, kt = _kt)
                _gemm.GemmBf16(qn, kn, d, q + qAt, ldq, kt + ktAt, ldkt, scores, lds, false, 1);
        }

        /// <summary>
        /// One pass: 2^t with t = (s·scale − shift)·log₂e, as 2ⁿ·p(t − n) with a degree-3 polynomial (relative
        /// error 1e-4, a fortieth of bf16's rounding step), rounded to bf16 and stored as element i of a ushort row
        /// that overlays the float row. Element i's two bytes lie below float i's four, whose values were read.
        /// </summary>
        public override float Weights(float* row, int n, float scale, float shift)
        {
            var packed = (ushort*)row;
            if (!Avx512BW.IsSupported)
            {
                float sum = ScalarWeights(row, n, scale, shift);
                for (int j = 0; j < n; j++) packed[j] = BFloat16.Round(row[j]);
                return sum;
            }
            var a = Vector512.Create(scale * 1.44269504f);
            var b = Vector512.Create(-shift * 1.44269504f);
            var total = Vector512<float>.Zero;
            int i = 0;
            for (; i + 32 <= n; i += 32) Pack(row + i, a, b, ref total).Store(packed + i);
            if (i < n)
            {
                // The last 1–31 scores by the same vector code, padded with −∞: their weights (2⁻¹²⁶ each) are
                // not stored, and nothing a float sum of at least 1 can hold is added.
                var tail = PaddedTail(row + i, n - i, 32);
                Pack(tail, a, b, ref total).Store((ushort*)tail);
                new ReadOnlySpan<ushort>(tail, n - i).CopyTo(new Span<ushort>(packed + i, n - i));
            }
            return Vector512.Sum(total);
        }

        public override void Accumulate(int qn, int d, int kn, float* weights, int ldw, long vAt, int ldv,
            float* acc, int ldacc)
        {
            fixed (ushort* v = _v)
                _gemm.GemmBf16(qn, d, kn, (ushort*)weights, 2 * ldw, v + vAt, ldv, acc, ldacc, true, 1);
        }

        /// <summary>The weights of 32 scores, rounded to bf16 and packed in one vector; their sum added in.</summary>
        private static Vector512<ushort> Pack(float* scores, Vector512<float> a, Vector512<float> b,
            ref Vector512<float> total)
        {
            var e0 = Exp2(Avx512F.FusedMultiplyAdd(Vector512.Load(scores), a, b));
            var e1 = Exp2(Avx512F.FusedMultiplyAdd(Vector512.Load(scores + 16), a, b));
            total += e0 + e1;
            // Adding half a bf16 step and keeping the upper 16 bits rounds to nearest (ties away from zero).
            var half = Vector512.Create(0x8000u);
            var r0 = (e0.AsUInt32() + half).AsUInt16();
            var r1 = (e1.AsUInt32() + half).AsUInt16();
            return Avx512BW.PermuteVar32x16x2(r0, UpperHalves, r1);
        }

        /// <summary>
        /// 2ᵗ to 1e-4 relative; t below −126 (masked keys' −∞ too) gives 2⁻¹²⁶, a weight that
        /// vanishes.
        /// </summary>
        private static Vector512<float> Exp2(Vector512<float> t)
        {
            t = Avx512F.Max(t, Vector512.Create(-126f));
            var n = Avx512F.RoundScale(t, 0);
            var f = t - n;
            var p = Avx512F.FusedMultiplyAdd(Vector512.Create(0.05592212f), f, Vector512.Create(0.24264069f));
            p = Avx512F.FusedMultiplyAdd(p, f, Vector512.Create(0.69312102f));
            p = Avx512F.FusedMultiplyAdd(p, f, Vector512.Create(0.99992444f));
            return Avx512F.Scale(p, n);
        }
    }
}

using System.Buffers;
using DistriGen.Tensors.Compute;

namespace DistriGen.Tensors.Ops;

/// <summary>
/// The two products of blocked attention on one thread: a query block's scores against a key block, and
/// the softmax weights times the value block added to the output. Offsets are in elements of q, the
/// transposed keys and v, so either form reads the same positions.
/// </summary>
internal abstract unsafe class AttentionProducts : IDisposable
{
    /// <summary>bf16 products where the backend runs them in bf16, float32 ones otherwise.</summary>
    public static AttentionProducts Create(IComputeBackend backend, float* q, long qLength, float* kt, long ktLength, float* v, long vLength) =>
        backend is IBFloat16Gemm { BFloat16: true } bf16
            ? new BFloat16Products(bf16, q, qLength, kt, ktLength, v, vLength)
            : new Float32Products(backend, q, kt, v);

    public abstract void Scores(int qn, int kn, int d, long q, int ldq, long kt, int ldkt, float* scores, int lds);

    public abstract void Accumulate(int qn, int d, int kn, float* weights, int ldw, long v, int ldv, float* acc, int ldacc);

    public virtual void Dispose() { }

    private sealed class Float32Products(IComputeBackend backend, float* q, float* kt, float* v) : AttentionProducts
    {
        public override void Scores(int qn, int kn, int d, long qAt, int ldq, long ktAt, int ldkt, float* scores, int lds) =>
            backend.Gemm(qn, kn, d, q + qAt, ldq, kt + ktAt, ldkt, scores, lds, false, 1);

        public override void Accumulate(int qn, int d, int kn, float* weights, int ldw, long vAt, int ldv, float* acc, int ldacc) =>
            backend.Gemm(qn, d, kn, weights, ldw, v + vAt, ldv, acc, ldacc, true, 1);
    }

    /// <summary>q, keys and v rounded to bf16 once; each block's softmax weights rounded before the second product.</summary>
    private sealed class BFloat16Products : AttentionProducts
    {
        private readonly IBFloat16Gemm _gemm;
        private readonly ushort[] _q, _kt, _v;

        public BFloat16Products(IBFloat16Gemm gemm, float* q, long qLength, float* kt, long ktLength, float* v, long vLength)
        {
            _gemm = gemm;
            _q = Rounded(q, qLength);
            _kt = Rounded(kt, ktLength);
            _v = Rounded(v, vLength);
        }

        private static ushort[] Rounded(float* values, long length)
        {
            var rounded = GC.AllocateUninitializedArray<ushort>(checked((int)length), pinned: true);
            BFloat16.Convert(new ReadOnlySpan<float>(values, (int)length), rounded);
            return rounded;
        }

        public override void Scores(int qn, int kn, int d, long qAt, int ldq, long ktAt, int ldkt, float* scores, int lds)
        {
            fixed (ushort* q = _q, kt = _kt) _gemm.GemmBf16(qn, kn, d, q + qAt, ldq, kt + ktAt, ldkt, scores, lds, false, 1);
        }

        public override void Accumulate(int qn, int d, int kn, float* weights, int ldw, long vAt, int ldv, float* acc, int ldacc)
        {
            var rounded = ArrayPool<ushort>.Shared.Rent(qn * kn);
            try
            {
                for (int i = 0; i < qn; i++) BFloat16.Convert(new ReadOnlySpan<float>(weights + (long)i * ldw, kn), rounded.AsSpan(i * kn, kn));
                fixed (ushort* w = rounded, v = _v) _gemm.GemmBf16(qn, d, kn, w, kn, v + vAt, ldv, acc, ldacc, true, 1);
            }
            finally
            {
                ArrayPool<ushort>.Shared.Return(rounded);
            }
        }
    }
}

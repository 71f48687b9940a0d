namespace DistriGen.Tensors.Compute;

/// <summary>
/// A backend that multiplies bfloat16 matrices with float32 accumulation and output (oneDNN on
/// AVX512_BF16).
/// </summary>
public interface IBFloat16Gemm
{
    /// <summary>Whether products of activations should be taken in bf16 (the backend's bf16 mode).</summary>
    bool BFloat16 { get; }

    /// <summary>
    /// C[M,N] = A[M,K] · B[K,N] (+ C when <paramref name="accumulate"/>): A and B bf16 (the upper halves of
    /// float32s), row-major with leading dimensions lda and ldb; C float32 with leading dimension ldc.
    /// </summary>
    unsafe void GemmBf16(int m, int n, int k, ushort* a, int lda, ushort* b, int ldb, float* c, int ldc,
        bool accumulate, int threads);
}

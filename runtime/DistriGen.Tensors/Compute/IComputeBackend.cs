namespace DistriGen.Tensors.Compute;

/// <summary>
/// The products that dominate a diffusion model's time. The managed backend is always there and is the
/// reference; a native one is used when its library is on the machine.
/// </summary>
public interface IComputeBackend
{
    /// <summary>A short name for reports, e.g. "managed (AVX-512)" or "OpenBLAS".</summary>
    string Name { get; }

    /// <summary>
    /// C[M,N] = A[M,K] · B[K,N] (+ C when <paramref name="accumulate"/>), row-major with leading
    /// dimensions lda, ldb, ldc, using at most <paramref name="threads"/> threads.
    /// </summary>
    unsafe void Gemm(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, int threads);
}

/// <summary>
/// A backend that multiplies by a transposed matrix directly, C[M,N] = A[M,K] · B[N,K]ᵀ, so linear
/// layers need no transposed copy of their weights.
/// </summary>
public interface ITransposedGemmBackend
{
    unsafe void GemmTransposedB(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, int threads);
}

namespace DistriGen.Tensors.Compute;

/// <summary>
/// A backend that runs a whole linear layer itself, keeping the weights in its own form between calls
/// (e.g. converted once to bf16 in the layout its kernel prefers).
/// </summary>
public interface ILinearBackend
{
    /// <summary>
    /// y (M, N) = x (M, K) · weight (N, K)ᵀ, float32 in and out; false when the backend has no kernel for the
    /// case (the caller multiplies itself). <paramref name="weights"/> identifies the weights between calls.
    /// </summary>
    unsafe bool TryLinear(float* x, int m, int k, Tensor weights, float* weight, int n, float* y, int threads);
}

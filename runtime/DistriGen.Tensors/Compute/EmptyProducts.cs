namespace DistriGen.Tensors.Compute;

/// <summary>The edge cases of C = A·B that native libraries handle differently (or not at all).</summary>
internal static unsafe class EmptyProducts
{
    /// <summary>
    /// True when there is nothing to multiply (M, N or K is 0); then an empty sum has been written as
    /// zeros into C unless the product accumulates.
    /// </summary>
    public static bool Handled(int m, int n, int k, float* c, int ldc, bool accumulate)
    {
        if (m == 0 || n == 0) return true;
        if (k != 0) return false;
        if (!accumulate) for (int i = 0; i < m; i++) new Span<float>(c + (long)i * ldc, n).Clear();
        return true;
    }
}

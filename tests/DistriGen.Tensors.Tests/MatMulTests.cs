using TensorOps = DistriGen.Tensors.Ops.Ops;

namespace DistriGen.Tensors.Tests;

/// <summary>Ops.MatMul (2-D and batched) and Ops.Transpose2d against triple loops in double.</summary>
public class MatMulTests
{
    internal static double[] Reference(float[] a, float[] b, int batch, int m, int k, int n)
    {
        var y = new double[batch * m * n];
        for (int t = 0; t < batch; t++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    double s = 0;
                    for (int p = 0; p < k; p++) s += (double)a[(t * m + i) * k + p] * b[(t * k + p) * n + j];
                    y[(t * m + i) * n + j] = s;
                }
        return y;
    }

    internal static void AssertMatMul(int m, int k, int n)
    {
        using var a = Check.Normal(31, m, k);
        using var b = Check.Normal(32, k, n);
        using var y = TensorOps.MatMul(a, b);
        Check.Shape(y, m, n);
        Check.Close(Reference(a.ToArray(), b.ToArray(), 1, m, k, n), y, what: $"matmul ({m}, {k})·({k}, {n})");
    }

    internal static void AssertBatchedMatMul(int batch, int m, int k, int n)
    {
        using var a = Check.Normal(33, batch, m, k);
        using var b = Check.Normal(34, batch, k, n);
        using var y = TensorOps.MatMul(a, b);
        Check.Shape(y, batch, m, n);
        Check.Close(Reference(a.ToArray(), b.ToArray(), batch, m, k, n), y, what: $"batched matmul {batch}×({m}, {k})·({k}, {n})");
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(1, 7, 5)]      // one row
    [InlineData(3, 17, 33)]    // odd everything
    [InlineData(5, 1, 9)]      // K = 1
    [InlineData(4, 300, 40)]   // K crosses the 256 K block
    [InlineData(130, 19, 40)]  // many rows, few columns: the managed kernel splits rows across threads
    [InlineData(9, 8, 290)]    // more columns than one 256-column block
    public void MatMul_2d_matches_reference(int m, int k, int n) => AssertMatMul(m, k, n);

    [Theory]
    [InlineData(1, 3, 4, 5)]
    [InlineData(3, 5, 17, 6)]
    [InlineData(2, 1, 33, 3)]
    public void MatMul_batched_multiplies_each_pair(int batch, int m, int k, int n) => AssertBatchedMatMul(batch, m, k, n);

    [Fact]
    public void MatMul_with_zero_inner_dimension_gives_zeros()
    {
        // An empty sum is 0: the output must not be left with pooled garbage.
        using var a = Tensor.Zeros(3, 0);
        using var b = Tensor.Zeros(0, 4);
        using var y = TensorOps.MatMul(a, b);
        Assert.All(y.ToArray(), v => Assert.Equal(0f, v));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(3, 5)]
    [InlineData(37, 70)]   // more than one 32×32 tile each way
    public void Transpose2d_swaps_rows_and_columns(int r, int c)
    {
        using var x = Check.Normal(35, r, c);
        using var y = TensorOps.Transpose2d(x);
        Check.Shape(y, c, r);
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++)
                Assert.Equal(x[i, j], y[j, i]);
    }
}

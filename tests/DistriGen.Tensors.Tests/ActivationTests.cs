using TensorOps = DistriGen.Tensors.Ops.Ops;

namespace DistriGen.Tensors.Tests;

/// <summary>SiLU, exact (erf) GELU and GEGLU against double-precision definitions.</summary>
public class ActivationTests
{
    /// <summary>
    /// erf(x) = 2/√π · e^(−x²) · Σ 2ⁿ x^(2n+1) / (1·3·…·(2n+1)): every term positive, so no cancellation,
    /// accurate to ~1e-15 in double for |x| ≤ 6; beyond, erf is 1 to double precision.
    /// </summary>
    internal static double ErfReference(double x)
    {
        double ax = Math.Abs(x);
        if (ax > 6) return Math.Sign(x);
        double term = ax, sum = ax;
        for (int n = 1; n < 400 && term > 1e-17 * sum; n++)
        {
            term *= 2 * ax * ax / (2 * n + 1);
            sum += term;
        }
        return Math.Sign(x) * 2 / Math.Sqrt(Math.PI) * Math.Exp(-ax * ax) * sum;
    }

    private static double GeluReference(double x) => 0.5 * x * (1 + ErfReference(x / Math.Sqrt(2)));

    private static double SiluReference(double x) => x / (1 + Math.Exp(-x));

    /// <summary>Seeded normals spread to ±8 plus the special points an activation must get right.</summary>
    private static float[] Inputs(int n)
    {
        var a = Check.NormalArray(71, n);
        for (int i = 0; i < a.Length; i++) a[i] *= 3f;
        float[] special = [0f, -0f, 1e-6f, -1e-6f, 0.5f, -0.5f, 1f, -1f, 3.9999f, 4f, 4.0001f, -4f, 8f, -8f, 20f, -20f];
        return [.. special, .. a];
    }

    [Fact]
    public void Erf_reference_reproduces_tabulated_values()
    {
        // Abramowitz & Stegun table 7.1 / Wolfram values, so the reference itself is trusted.
        Assert.Equal(0.5204998778130465, ErfReference(0.5), 1e-15);
        Assert.Equal(0.8427007929497149, ErfReference(1.0), 1e-15);
        Assert.Equal(0.9953222650189527, ErfReference(2.0), 1e-15);
        Assert.Equal(0.9999779095030014, ErfReference(3.0), 1e-15);
        Assert.Equal(-0.1124629160182849, ErfReference(-0.1), 1e-15);
    }

    [Fact]
    public void Erf_is_accurate_to_float_precision()
    {
        // Cody's rational approximations, switched at |x| = 0.5 and 4: check both sides of each switch.
        var xs = Inputs(2000).Concat([0.4999f, 0.5001f, 2.5f, -2.5f, 3.5f, 5f, -5f]);
        foreach (var x in xs)
        {
            double expected = ErfReference(x);
            double got = TensorOps.Erf(x);
            Assert.True(Math.Abs(got - expected) <= 1.2e-7 * Math.Abs(expected) + 1e-30, $"erf({x:R}) = {got:R}, expected {expected:R}");
        }
    }

    [Fact]
    public void Gelu_uses_the_exact_erf_form()
    {
        var input = Inputs(4001); // odd length
        using var x = Tensor.FromArray(input, input.Length);
        using var y = TensorOps.Gelu(x);
        var expected = input.Select(v => GeluReference(v)).ToArray();
        // 1e-5 relative; near the negative tail 1 + erf cancels in float, so allow 1e-6 absolute.
        Check.Close(expected, y, rtol: 1e-5, atol: 1e-6);
        // Values the tanh approximation gets visibly different (by 1e-4 and more): pin the erf form.
        Assert.Equal(0.8413447460685429, TensorOps.Gelu(Tensor.FromArray([1f], 1))[0], 6);
        Assert.Equal(-0.04550026389635842, TensorOps.Gelu(Tensor.FromArray([-2f], 1))[0], 6);
    }

    [Fact]
    public void Silu_matches_x_times_sigmoid()
    {
        // 40 000 values: more than two 16 384-element chunks, so the parallel split is covered. Extremes come first
        // (the vector path, whose exponential clamps its argument) and last (the scalar tail).
        float[] extremes = [0f, 30f, -30f, 88f, -88f, 88.5f, -88.5f, 100f, -100f, 1e30f, -1e30f, 87.4f, -87.4f,
            1f, -1f, 5f];
        var input = extremes.Concat(Check.NormalArray(72, 40_000).Select(v => v * 4f)).Concat(extremes[..4]).ToArray();
        using var x = Tensor.FromArray(input, 5, input.Length / 5);
        using var y = TensorOps.Silu(x);
        Check.Shape(y, x.Shape);
        Check.Close(input.Select(v => SiluReference(v)).ToArray(), y, rtol: 1e-5, atol: 1e-7);
    }

    [Theory]
    [InlineData(new[] { 1, 2 })]       // f = 1
    [InlineData(new[] { 3, 10 })]
    [InlineData(new[] { 2, 17, 66 })]  // 34 rows: more than two 16-row chunks, f = 33
    public void Geglu_is_hidden_times_gelu_of_gate(int[] shape)
    {
        using var x = Check.Normal(73, shape);
        using var y = TensorOps.Geglu(x);
        int twoF = shape[^1], f = twoF / 2;
        Check.Shape(y, [.. shape[..^1], f]);
        var xs = x.ToArray();
        var expected = new double[y.Length];
        for (int r = 0; r < xs.Length / twoF; r++)
            for (int i = 0; i < f; i++)
                expected[r * f + i] = xs[r * twoF + i] * GeluReference(xs[r * twoF + f + i]);
        Check.Close(expected, y, rtol: 1e-5, atol: 1e-6);
    }

    [Fact]
    public void Geglu_rejects_an_odd_last_axis()
    {
        using var x = Tensor.Zeros(2, 5);
        var e = Assert.Throws<ArgumentException>(() => TensorOps.Geglu(x));
        Assert.Contains("(2, 5)", e.Message);
    }
}

using DistriGen.Tensors.Ops;
using TensorOps = DistriGen.Tensors.Ops.Ops;

namespace DistriGen.Tensors.Tests;

/// <summary>GroupNorm (statistics, apply, fused SiLU) and LayerNorm against two-pass double references.</summary>
public class NormalizationTests
{
    private static double Silu(double x) => x / (1 + Math.Exp(-x));

    /// <summary>torch.nn.functional.group_norm: biased variance over (C/G, H, W) per (batch, group).</summary>
    private static double[] GroupNormReference(float[] x, int batch, int channels, int hw, int groups, float[] gamma, float[] beta, double eps, bool silu)
    {
        int per = channels / groups;
        var y = new double[x.Length];
        for (int b = 0; b < batch; b++)
            for (int g = 0; g < groups; g++)
            {
                int start = (b * channels + g * per) * hw, n = per * hw;
                double mean = 0;
                for (int i = 0; i < n; i++) mean += x[start + i];
                mean /= n;
                double variance = 0;
                for (int i = 0; i < n; i++) variance += (x[start + i] - mean) * (x[start + i] - mean);
                variance /= n;
                double inv = 1 / Math.Sqrt(variance + eps);
                for (int i = 0; i < n; i++)
                {
                    int c = g * per + i / hw;
                    double v = (x[start + i] - mean) * inv * gamma[c] + beta[c];
                    y[start + i] = silu ? Silu(v) : v;
                }
            }
        return y;
    }

    [Theory]
    [InlineData(2, 6, 5, 7, 3, false)]
    [InlineData(2, 6, 5, 7, 3, true)]
    [InlineData(1, 33, 3, 4, 11, true)]   // 3 channels per group
    [InlineData(1, 32, 1, 9, 32, false)]  // one row, one channel per group
    [InlineData(2, 17, 4, 3, 1, true)]    // one group: layer norm over (C, H, W)
    [InlineData(1, 5, 2, 2, 5, false)]    // 4 elements per group
    public void GroupNorm_matches_reference(int batch, int channels, int h, int w, int groups, bool silu)
    {
        using var x0 = Check.Normal(61, batch, channels, h, w);
        // Shifted data, so the mean matters.
        using var x = TensorOps.AddScaled(x0, 2f, Tensor.Full(0.75f, x0.Shape), 1f);
        using var gamma = Check.Normal(62, channels);
        using var beta = Check.Normal(63, channels);
        using var y = TensorOps.GroupNorm(x, groups, gamma, beta, 1e-5f, silu ? Activation.Silu : Activation.None);
        Check.Shape(y, x.Shape);
        Check.Close(GroupNormReference(x.ToArray(), batch, channels, h * w, groups, gamma.ToArray(), beta.ToArray(), 1e-5, silu), y);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void GroupNorm_in_one_pass_is_statistics_then_apply_bit_for_bit(bool silu)
    {
        // What a single device computes and what ranks compute around their exchange must agree exactly.
        using var x = Check.Normal(64, 2, 64, 9, 37);
        using var gamma = Check.Normal(65, 64);
        using var beta = Check.Normal(66, 64);
        var activation = silu ? Activation.Silu : Activation.None;
        using var whole = TensorOps.GroupNorm(x, 32, gamma, beta, 1e-6f, activation);
        using var split = TensorOps.GroupNormApply(x, TensorOps.GroupNormStatistics(x, 32), gamma, beta, 1e-6f,
            activation);
        Check.Bitwise(split.Span, whole.Span, "GroupNorm against GroupNormApply(GroupNormStatistics)");
    }

    [Fact]
    public void GroupNormStatistics_are_sums_and_sums_of_squares_per_batch_and_group()
    {
        using var x = Check.Normal(64, 2, 6, 3, 5);
        var stats = TensorOps.GroupNormStatistics(x, 3);
        Assert.Equal(2, stats.Batch);
        Assert.Equal(3, stats.Groups);
        Assert.Equal(2L * 3 * 5, stats.CountPerGroup);
        var xs = x.ToArray();
        for (int bg = 0; bg < 6; bg++)
        {
            double s = 0, s2 = 0;
            for (int i = 0; i < 30; i++)
            {
                s += xs[bg * 30 + i];
                s2 += (double)xs[bg * 30 + i] * xs[bg * 30 + i];
            }
            Assert.Equal(s, stats.Sum[bg], 4);
            Assert.Equal(s2, stats.SumOfSquares[bg], 4);
        }
    }

    [Fact]
    public void GroupNormApply_with_statistics_summed_over_row_bands_matches_the_whole_image()
    {
        // What patch-parallel ranks do: each sums its band, the sums are added, each rank normalises its band.
        using var x = Check.Normal(65, 1, 8, 9, 6);
        using var gamma = Check.Normal(66, 8);
        using var beta = Check.Normal(67, 8);
        using var whole = TensorOps.GroupNorm(x, 4, gamma, beta, 1e-6f, Activation.Silu);
        int[] edges = [0, 2, 3, 9];
        var bands = new List<Tensor>();
        var partial = new List<GroupStatistics>();
        for (int i = 0; i + 1 < edges.Length; i++)
        {
            bands.Add(TensorOps.SliceRows(x, edges[i], edges[i + 1]));
            partial.Add(TensorOps.GroupNormStatistics(bands[^1], 4));
        }
        var total = new GroupStatistics(1, 4, new double[4], new double[4], partial.Sum(p => p.CountPerGroup));
        foreach (var p in partial)
            for (int g = 0; g < 4; g++)
            {
                total.Sum[g] += p.Sum[g];
                total.SumOfSquares[g] += p.SumOfSquares[g];
            }
        Assert.Equal(2L * 9 * 6, total.CountPerGroup);
        for (int i = 0; i < bands.Count; i++)
        {
            using var y = TensorOps.GroupNormApply(bands[i], total, gamma, beta, 1e-6f, Activation.Silu);
            using var expected = TensorOps.SliceRows(whole, edges[i], edges[i + 1]);
            Check.Close(expected.ToArray().Select(v => (double)v).ToArray(), y, rtol: 1e-5);
            bands[i].Dispose();
        }
    }

    [Fact]
    public void GroupNorm_of_a_constant_group_gives_beta()
    {
        // Zero variance: (x − mean) = 0 and 1/√eps stays finite, so the output is exactly beta.
        using var x = Tensor.Full(3.5f, 1, 4, 2, 2);
        using var gamma = Tensor.Full(2f, 4);
        using var beta = Tensor.FromArray([0.5f, -1f, 0f, 2f], 4);
        using var y = TensorOps.GroupNorm(x, 2, gamma, beta, 1e-5f);
        for (int c = 0; c < 4; c++)
            for (int i = 0; i < 2; i++)
                for (int j = 0; j < 2; j++)
                    Assert.Equal(beta[c], y[0, c, i, j], 5);
    }

    private static double[] LayerNormReference(float[] x, int c, float[] gamma, float[] beta, double eps)
    {
        var y = new double[x.Length];
        for (int r = 0; r < x.Length / c; r++)
        {
            double mean = 0, variance = 0;
            for (int i = 0; i < c; i++) mean += x[r * c + i];
            mean /= c;
            for (int i = 0; i < c; i++) variance += (x[r * c + i] - mean) * (x[r * c + i] - mean);
            variance /= c;
            for (int i = 0; i < c; i++) y[r * c + i] = (x[r * c + i] - mean) / Math.Sqrt(variance + eps) * gamma[i] + beta[i];
        }
        return y;
    }

    [Theory]
    [InlineData(new[] { 1, 1, 5 })]     // one token
    [InlineData(new[] { 2, 7, 33 })]
    [InlineData(new[] { 130, 17 })]    // more than one 64-row chunk, rank 2
    [InlineData(new[] { 1, 3, 320 })]
    public void LayerNorm_matches_reference(int[] shape)
    {
        int c = shape[^1];
        using var x0 = Check.Normal(68, shape);
        using var x = TensorOps.AddScaled(x0, 1.5f, Tensor.Full(-0.5f, shape), 1f);
        using var gamma = Check.Normal(69, c);
        using var beta = Check.Normal(70, c);
        using var y = TensorOps.LayerNorm(x, gamma, beta, 1e-5f);
        Check.Shape(y, shape);
        Check.Close(LayerNormReference(x.ToArray(), c, gamma.ToArray(), beta.ToArray(), 1e-5), y);
    }
}

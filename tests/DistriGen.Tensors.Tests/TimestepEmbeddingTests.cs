using TensorOps = DistriGen.Tensors.Ops.Ops;

namespace DistriGen.Tensors.Tests;

/// <summary>Sinusoidal timestep embeddings as diffusers' get_timestep_embedding.</summary>
public class TimestepEmbeddingTests
{
    private static readonly float[] Timesteps = [0f, 1f, 37.5f, 500f, 999f];

    [Theory]
    [InlineData(8, false, 0f)]
    [InlineData(8, true, 0f)]
    [InlineData(320, true, 0f)]   // Stable Diffusion: flip_sin_to_cos=True, freq_shift=0
    [InlineData(256, false, 1f)]  // diffusers' default downscale_freq_shift=1
    [InlineData(6, true, 1f)]
    [InlineData(7, false, 0f)]    // odd: the last column is zero padding
    public void TimestepEmbedding_matches_get_timestep_embedding(int dim, bool flip, float shift)
    {
        using var y = TensorOps.TimestepEmbedding(Timesteps, dim, flip, shift);
        Check.Shape(y, Timesteps.Length, dim);
        int half = dim / 2;
        for (int b = 0; b < Timesteps.Length; b++)
        {
            for (int i = 0; i < half; i++)
            {
                // exponent = −ln(10000)·i / (half − shift); emb = t · exp(exponent); [sin, cos], swapped when flipped.
                double arg = Timesteps[b] * Math.Exp(-Math.Log(10000) * i / (half - shift));
                double sin = Math.Sin(arg), cos = Math.Cos(arg);
                // The reference computes the argument in float32 too: its rounding, ~1e-6 of |arg|, is the tolerance.
                double tol = 2e-6 + 2e-6 * Math.Abs(arg);
                Assert.True(Math.Abs((flip ? cos : sin) - y[b, i]) <= tol, $"t={Timesteps[b]} column {i}: {y[b, i]} vs {(flip ? cos : sin)}");
                Assert.True(Math.Abs((flip ? sin : cos) - y[b, half + i]) <= tol, $"t={Timesteps[b]} column {half + i}: {y[b, half + i]} vs {(flip ? sin : cos)}");
            }
            if (dim % 2 == 1) Assert.Equal(0f, y[b, dim - 1]);
        }
    }

    [Fact]
    public void TimestepEmbedding_at_t0_is_zeros_then_ones_or_swapped()
    {
        using var plain = TensorOps.TimestepEmbedding([0f], 4, false, 0f);
        Assert.Equal([0f, 0f, 1f, 1f], plain.ToArray());
        using var flipped = TensorOps.TimestepEmbedding([0f], 4, true, 0f);
        Assert.Equal([1f, 1f, 0f, 0f], flipped.ToArray());
    }

    [Fact]
    public void TimestepEmbedding_tensor_overload_flattens_the_timesteps()
    {
        using var t = Tensor.FromArray([3f, 700f], 2);
        using var y = TensorOps.TimestepEmbedding(t, 10, true, 0f);
        using var expected = TensorOps.TimestepEmbedding([3f, 700f], 10, true, 0f);
        Check.Bitwise(expected.Span, y.Span);
    }
}

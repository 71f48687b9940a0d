using DistriGen.Tensors.Ops;

namespace DistriGen.Tensors.Tests;

/// <summary>The seeded noise every rank starts from: reproducible and standard normal.</summary>
public class SeededNormalTests
{
    [Fact]
    public void Same_seed_gives_the_same_values_and_different_seeds_differ()
    {
        using var a = SeededNormal.Sample(42, 3, 7);
        using var b = SeededNormal.Sample(42, 3, 7);
        using var c = SeededNormal.Sample(43, 3, 7);
        Check.Bitwise(a.Span, b.Span);
        Assert.NotEqual(a.ToArray(), c.ToArray());
    }

    [Fact]
    public void Odd_lengths_are_a_prefix_of_the_even_stream()
    {
        // Values come in Box–Muller pairs; an odd length fills the last element from its own pair.
        var odd = Check.NormalArray(5, 11);
        var even = Check.NormalArray(5, 12);
        Assert.Equal(even[..11], odd);
    }

    [Fact]
    public void Values_are_standard_normal()
    {
        var v = Check.NormalArray(9, 200_000);
        double mean = v.Average(x => (double)x);
        double variance = v.Average(x => ((double)x - mean) * ((double)x - mean));
        Assert.InRange(mean, -0.01, 0.01);
        Assert.InRange(variance, 0.98, 1.02);
        Assert.InRange(v.Count(x => Math.Abs(x) < 1) / (double)v.Length, 0.677, 0.688); // 68.27 % within one σ
        Assert.All(v, x => Assert.True(float.IsFinite(x)));
    }
}

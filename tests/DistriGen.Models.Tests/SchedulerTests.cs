using DistriGen.Models.Configuration;
using DistriGen.Models.Schedulers;
using DistriGen.Tensors;

namespace DistriGen.Models.Tests;

/// <summary>Timesteps and steps as diffusers 0.24 computes them, including numpy's rounding quirks.</summary>
public sealed class SchedulerTests
{
    private static IScheduler Create(SchedulerKind kind, string spacing, int offset = 1, string schedule = "scaled_linear") =>
        Schedulers.Schedulers.Create(new SchedulerConfig { Kind = kind, TimestepSpacing = spacing, StepsOffset = offset, BetaSchedule = schedule });

    [Fact]
    public void DdimLeadingSpacingWithOffset()
    {
        var s = Create(SchedulerKind.Ddim, "leading");
        s.SetTimesteps(50);
        Assert.Equal(981f, s.Timesteps[0]);
        Assert.Equal(1f, s.Timesteps[^1]);
        Assert.Equal(50, s.Timesteps.Count);
    }

    [Fact]
    public void TrailingSpacingKeepsNumpysExtraStep()
    {
        // np.arange(1000, 0, -1000/61) has 62 values; the last rounds to 0 and becomes -1, as in diffusers.
        var s = Create(SchedulerKind.Ddim, "trailing", offset: 0);
        s.SetTimesteps(61);
        Assert.Equal(62, s.Timesteps.Count);
        Assert.Equal(999f, s.Timesteps[0]);
        Assert.Equal(-1f, s.Timesteps[^1]);
    }

    [Fact]
    public void EulerLinspaceTimestepsAreFractional()
    {
        var s = Create(SchedulerKind.Euler, "linspace", offset: 0);
        s.SetTimesteps(30);
        Assert.Equal(999f, s.Timesteps[0]);
        Assert.Equal(964.5517f, s.Timesteps[1], 3);
        Assert.Equal(0f, s.Timesteps[^1]);
        // linspace spacing: the initial sigma is the largest sigma itself.
        Assert.Equal(MathF.Sqrt((1 - Alpha(999)) / Alpha(999)), s.InitNoiseSigma, 3);
    }

    [Fact]
    public void DpmSolverSpacingHasOneMorePointAndRoundsHalfToEven()
    {
        var s = Create(SchedulerKind.DpmSolver, "linspace", offset: 0);
        s.SetTimesteps(20);
        Assert.Equal(new float[] { 999, 949, 899, 849, 799, 749, 699, 649, 599, 549, 500, 450, 400, 350, 300, 250, 200, 150, 100, 50 }, s.Timesteps);
        var leading = Create(SchedulerKind.DpmSolver, "leading");
        leading.SetTimesteps(20);
        Assert.Equal(941f, leading.Timesteps[0]);
        Assert.Equal(48f, leading.Timesteps[^1]);
    }

    [Fact]
    public void DpmSolverWithAZeroPredictionScalesTheSampleUpToItsCleanValue()
    {
        // With ε = 0 the first-order update maps x to x·α_t/α_s, so the sample grows toward x/α_final
        // and stays finite through the second-order steps.
        var s = Create(SchedulerKind.DpmSolver, "leading");
        s.SetTimesteps(10);
        using var x = Tensor.Full(1f, 1, 1, 2, 2);
        using var zero = Tensor.Zeros(1, 1, 2, 2);
        var sample = x.Clone();
        for (int i = 0; i < 10; i++)
        {
            var next = s.Step(zero, i, sample);
            Assert.All(next.ToArray(), v => Assert.True(float.IsFinite(v)));
            sample.Dispose();
            sample = next;
        }
        Assert.InRange(sample.Span[0], 1.5f, 20f);
    }

    private static float Alpha(int t)
    {
        double product = 1;
        float b0 = MathF.Sqrt(0.00085f), b1 = MathF.Sqrt(0.012f), step = (b1 - b0) / 999;
        for (int i = 0; i <= t; i++)
        {
            float beta = i < 500 ? b0 + step * i : b1 - step * (999 - i);
            product *= 1f - beta * beta;
        }
        return (float)product;
    }
}

using DistriGen.Models.Pipelines;
using DistriGen.Runtime;
using DistriGen.Runtime.Communication;
using DistriGen.Tensors;

namespace DistriGen.Models.Tests;

/// <summary>Patch-parallel generation on in-process ranks against single-device generation.</summary>
public sealed class PatchParallelTests
{
    public static TheoryData<string, int, bool> ExactCases()
    {
        var data = new TheoryData<string, int, bool>();
        foreach (var name in new[] { "sd-tiny", "sdxl-tiny" })
            foreach (var ranks in new[] { 2, 3, 4 })
                data.Add(name, ranks, false);
        data.Add("sd-tiny", 4, true);
        data.Add("sdxl-tiny", 2, true);
        data.Add("sdxl-tiny", 6, true);
        return data;
    }

    [Theory]
    [MemberData(nameof(ExactCases))]
    public void ExactModeEqualsSingleDevice(string name, int ranks, bool splitBatch)
    {
        var fixture = new FixtureCase(name);
        var single = fixture.SingleDevice();
        var parallel = fixture.Parallel(ranks, new PatchParallelOptions { Mode = ParallelMode.Exact, SplitBatch = splitBatch });
        Assert.InRange(ResultMetrics.RelativeError(parallel.FinalLatents.Span, single.FinalLatents.Span), 0, 1e-5);
    }

    [Theory]
    [InlineData("sd-tiny", 2)]
    [InlineData("sdxl-tiny", 4)]
    public void DistriFusionIsCloseAndNaiveIsNot(string name, int ranks)
    {
        var fixture = new FixtureCase(name);
        var single = fixture.SingleDevice();
        double Error(PatchParallelOptions o) => ResultMetrics.RelativeError(fixture.Parallel(ranks, o).FinalLatents.Span, single.FinalLatents.Span);
        double naive = Error(new PatchParallelOptions { Mode = ParallelMode.Naive });
        foreach (var gn in Enum.GetValues<GroupNormMode>())
        {
            double distrifusion = Error(new PatchParallelOptions { Mode = ParallelMode.DistriFusion, WarmupSteps = 5, GroupNormMode = gn });
            Assert.True(distrifusion < 1e-2, $"{gn}: relative error {distrifusion}");
            Assert.True(distrifusion * 10 < naive, $"{gn}: {distrifusion} is not well below naive {naive}");
        }
    }

    [Fact]
    public void AnExtraSchedulerStepDoesNotLeaveRanksWaiting()
    {
        // "trailing" spacing makes 62 timesteps for 61 steps (as numpy does); every step must still be announced.
        var fixture = new FixtureCase("sd-tiny");
        var model = fixture.Model.WithScheduler(fixture.Model.SchedulerConfig with { TimestepSpacing = "trailing", StepsOffset = 0 });
        var request = fixture.Request() with { Steps = 61 };
        var conditioning = Conditioning.Load(fixture.InputsPath);
        var results = InProcessLauncher.Run(2, 1, comm =>
        {
            using var run = PatchParallelRun.Create(comm, splitBatch: false);
            var predictor = new PatchParallelPredictor(model.Unet, run, new PatchParallelOptions { WarmupSteps = 2 }, fixture.LatentHeight, fixture.LatentWidth);
            return DiffusionPipeline.Generate(model, predictor, request, conditioning);
        }, TimeSpan.FromSeconds(20));
        Assert.Equal(62, results[0].Timesteps.Count);
    }

    [Fact]
    public void PcppWithTheWholeNeighbourOnTwoRanksIsDistriFusion()
    {
        // With p = 1 and two ranks the only neighbour sends all its rows: the same keys and values, in
        // the same order, as DistriFusion's all-gather.
        var fixture = new FixtureCase("sd-tiny");
        var pcpp = fixture.Parallel(2, new PatchParallelOptions { Mode = ParallelMode.Pcpp, PcppRatio = 1, WarmupSteps = 2 });
        var distrifusion = fixture.Parallel(2, new PatchParallelOptions { Mode = ParallelMode.DistriFusion, WarmupSteps = 2 });
        Assert.Equal(distrifusion.FinalLatents.ToArray(), pcpp.FinalLatents.ToArray());
    }

    [Fact]
    public void PcppIsBetweenNaiveAndDistriFusion()
    {
        var fixture = new FixtureCase("sdxl-tiny");
        var single = fixture.SingleDevice();
        double Error(ParallelMode mode) => ResultMetrics.RelativeError(fixture.Parallel(4, new PatchParallelOptions { Mode = mode, WarmupSteps = 3 }).FinalLatents.Span, single.FinalLatents.Span);
        double pcpp = Error(ParallelMode.Pcpp);
        Assert.InRange(pcpp, Error(ParallelMode.DistriFusion), Error(ParallelMode.Naive) / 5);
    }
}

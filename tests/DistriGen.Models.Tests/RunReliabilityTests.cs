using DistriGen.Models.Pipelines;
using DistriGen.Runtime;
using DistriGen.Runtime.Communication;
using DistriGen.Tensors;
using Microsoft.Extensions.DependencyInjection;

namespace DistriGen.Models.Tests;

/// <summary>Tests that read TensorMemory's process-wide counters run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MemoryCountersCollection
{
    public const string Name = "Memory counters";
}

/// <summary>Whole runs through the host API: agreement between ranks, cancellation, memory over many generations.</summary>
[Collection(MemoryCountersCollection.Name)]
public sealed class RunReliabilityTests
{
    private static readonly FixtureCase Case = new("sd-tiny");

    private static DistributedPipeline Pipeline(int ranks, PatchParallelOptions? parallel = null) =>
        new ServiceCollection()
            .AddDistriGenPipelines(o =>
            {
                o.Ranks = ranks;
                o.ThreadsPerRank = 1;
                o.Parallel = parallel ?? new PatchParallelOptions { Mode = ParallelMode.DistriFusion, WarmupSteps = 1 };
            })
            .BuildServiceProvider()
            .GetRequiredService<DistributedPipeline>();

    [Fact]
    public void Ranks_asked_for_different_things_all_stop_naming_the_setting()
    {
        var e = Assert.Throws<RankFailedException>(() => InProcessLauncher.Run(2, 1, comm =>
        {
            RankAgreement.Agree(comm, [("--size", "64x64"), ("--seed", comm.Rank == 0 ? "3" : "4"), ("--steps", "10")]);
            return 0;
        }));
        var differ = Assert.IsType<RanksDifferException>(e.InnerException);
        Assert.Contains("differ in --seed", differ.Message);
        Assert.Contains("rank 0 has 3, rank 1 has 4", differ.Message);
        // The same settings agree.
        InProcessLauncher.Run(3, 1, comm => { RankAgreement.Agree(comm, [("--size", "64x64")]); return 0; });
    }

    [Fact]
    public void Cancelling_stops_every_rank_and_returns_nothing()
    {
        using var cancellation = new CancellationTokenSource();
        var progress = new Progress(p => { if (p.Step == 2) cancellation.Cancel(); });
        var e = Assert.ThrowsAny<Exception>(() => Pipeline(2).Generate(Case.Model, Case.Request(steps: 6), Conditioning.Load(Case.InputsPath), progress, cancellation.Token));
        Assert.IsAssignableFrom<OperationCanceledException>(e is RankFailedException r ? r.InnerException : e);
    }

    [Fact]
    public void Many_generations_at_different_sizes_stay_bounded()
    {
        var pipeline = Pipeline(2);
        var conditioning = Conditioning.Load(Case.InputsPath);
        // One generation first, so the weights' derived data (transposed copies, reordered kernels) is made.
        var request = new GenerationRequest { Steps = 2, GuidanceScale = 5, Width = 64, Height = 64 };
        pipeline.Generate(Case.Model, request, conditioning).Result.Dispose();
        long live = TensorMemory.LiveBytes;
        long firstPool = -1;
        foreach (int size in new[] { 32, 48, 64, 40, 56, 32, 64 })
        {
            var (result, _) = pipeline.Generate(Case.Model, request with { Width = size, Height = size }, conditioning);
            result.Dispose();
            // Nothing of the run stays alive (the other rank's result included) ...
            Assert.Equal(live, TensorMemory.LiveBytes);
            // ... and the pool holds what one generation at one size needs, not every size seen.
            if (firstPool < 0) firstPool = TensorMemory.PooledBytes;
            Assert.True(TensorMemory.PooledBytes <= 3 * Math.Max(firstPool, 1L << 20), $"{TensorMemory.PooledBytes} bytes pooled at {size}x{size}");
        }
    }

    private sealed class Progress(Action<StepProgress> report) : IProgress<StepProgress>
    {
        public void Report(StepProgress value) => report(value);
    }
}

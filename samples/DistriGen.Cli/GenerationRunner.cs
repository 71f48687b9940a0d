using DistriGen.Models.Pipelines;
using DistriGen.Runtime;
using DistriGen.Runtime.Communication;
using DistriGen.Tensors.Compute;

namespace DistriGen.Cli;

/// <summary>Runs one generation on one rank, on in-process ranks, or as this process's rank of an Open MPI job.</summary>
internal static class GenerationRunner
{
    /// <summary>The result as rank 0 sees it, and its communication report (null on one rank).</summary>
    public static (GenerationResult Result, CommunicationReport? Report) Run(DiffusionModel model, GenerationRequest request, Conditioning conditioning, ParallelSetup setup, IProgress<StepProgress>? progress)
    {
        if (MpiWorld.Current is { } mpi)
            return RunRank(model, request, conditioning, setup, mpi, mpi.Rank == 0 ? progress : null);
        if (setup.Ranks == 1)
        {
            using var budget = ComputeThreads.Use(setup.ThreadsPerRank);
            return (DiffusionPipeline.Generate(model, new UNetPredictor(model.Unet), request, conditioning, progress), null);
        }
        var results = InProcessLauncher.Run(setup.Ranks, setup.ThreadsPerRank,
            comm => RunRank(model, request, conditioning, setup, comm, comm.Rank == 0 ? progress : null),
            setup.Options.Timeout);
        return results[0];
    }

    private static (GenerationResult, CommunicationReport?) RunRank(DiffusionModel model, GenerationRequest request, Conditioning conditioning, ParallelSetup setup, ICommunicator comm, IProgress<StepProgress>? progress)
    {
        var (latentHeight, latentWidth) = model.LatentSize(request.Width, request.Height);
        using var run = PatchParallelRun.Create(comm, setup.Options.SplitBatch);
        var predictor = new PatchParallelPredictor(model.Unet, run, setup.Options, latentHeight, latentWidth);
        var result = DiffusionPipeline.Generate(model, predictor, request, conditioning, progress);
        return (result, CommunicationReport.From(predictor, run));
    }
}

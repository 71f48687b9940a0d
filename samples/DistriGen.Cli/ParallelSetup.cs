using DistriGen.Runtime;

namespace DistriGen.Cli;

/// <summary>How many ranks run, with how many threads each, and how they share data.</summary>
internal sealed record ParallelSetup(int Ranks, int ThreadsPerRank, PatchParallelOptions Options, string Backend = "auto")
{
    public static ParallelSetup Single(int threads) => new(1, threads, new PatchParallelOptions { Mode = ParallelMode.Exact });

    /// <summary>Runs one generation as this setup says (rank 0's result; a report on more than one rank).</summary>
    public (Models.Pipelines.GenerationResult Result, Models.Pipelines.CommunicationReport? Report) Generate(Models.Pipelines.DiffusionModel model, Models.Pipelines.GenerationRequest request, Models.Pipelines.Conditioning conditioning, IProgress<Models.Pipelines.StepProgress>? progress = null) =>
        CliHost.Pipeline(this, Backend).Generate(model, request, conditioning, progress, CliCancellation.Token);

    public string Describe() => Ranks == 1
        ? $"1 rank × {ThreadsPerRank} thread{(ThreadsPerRank > 1 ? "s" : "")}"
        : $"{Ranks} ranks × {ThreadsPerRank} thread{(ThreadsPerRank > 1 ? "s" : "")}, {Options.Mode}" +
          (Options.Mode is ParallelMode.DistriFusion or ParallelMode.Pcpp ? $" (warmup {Options.WarmupSteps}, GroupNorm {Options.GroupNormMode}{(Options.DistriFuserGroupNorm ? " as distrifuser" : "")}{(Options.Mode == ParallelMode.Pcpp ? $", p = {Options.PcppRatio}" : "")})" : "") +
          (Options.SplitBatch ? ", guidance batch split" : "");
}

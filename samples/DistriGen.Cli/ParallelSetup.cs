using DistriGen.Models.Pipelines;
using DistriGen.Runtime;
using DistriGen.Tensors.Devices;

namespace DistriGen.Cli;

/// <summary>How many ranks run, with how many threads each, on which device, and how they share data.</summary>
internal sealed record ParallelSetup(int Ranks, int ThreadsPerRank, PatchParallelOptions Options, string Backend = "auto")
{
    public static ParallelSetup Single(int threads, DeviceSpec? device = null) =>
        new(1, threads, new PatchParallelOptions { Mode = ParallelMode.Exact }) { Device = device ?? DeviceSpec.Host };

    /// <summary>Where the ranks compute (--device, --precision).</summary>
    public DeviceSpec Device { get; init; } = DeviceSpec.Host;

    /// <summary>The device this process's first rank computes on: where the model is loaded.</summary>
    public Device FirstDevice => CliHost.Pipeline(this).Device;

    /// <summary>Runs one generation as this setup says (rank 0's result; a report on more than one rank).</summary>
    public (GenerationResult Result, CommunicationReport? Report) Generate(DiffusionModel model, GenerationRequest request,
        Conditioning conditioning, IProgress<StepProgress>? progress = null) =>
        CliHost.Pipeline(this).Generate(model, request, conditioning, progress, CliCancellation.Token);

    /// <summary>What computes: the device, or on the host the compute backend.</summary>
    public string ComputeName => Device.IsHost ? Tensors.Compute.ComputeBackends.Select(Backend).Name : FirstDevice.Name;

    public string Describe() => Ranks == 1
        ? $"1 rank × {Threads(ThreadsPerRank)}"
        : $"{Ranks} ranks × {Threads(ThreadsPerRank)}, {Options.Mode}" + ModeDetails() + (Options.SplitBatch ? ", guidance batch split" : "");

    private string ModeDetails()
    {
        if (Options.Mode is not (ParallelMode.DistriFusion or ParallelMode.Pcpp)) return "";
        var gn = Options.GroupNormMode + (Options.DistriFuserGroupNorm ? " as distrifuser" : "");
        var p = Options.Mode == ParallelMode.Pcpp ? $", p = {Options.PcppRatio}" : "";
        return $" (warmup {Options.WarmupSteps}, GroupNorm {gn}{p})";
    }

    private static string Threads(int n) => n == 1 ? "1 thread" : $"{n} threads";
}

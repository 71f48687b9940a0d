using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using DistriGen.Runtime;
using DistriGen.Runtime.Communication;
using DistriGen.Tensors;
using DistriGen.Tensors.Compute;
using DistriGen.Tensors.Devices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace DistriGen.Models.Pipelines;

/// <summary>
/// Generation on the ranks the host configured: single-device on one rank, otherwise every rank runs
/// the patch-parallel UNet on its band and the guided loop on the full latent; rank 0's result is
/// returned (the others' are disposed). Before any work the ranks agree that they were asked the same
/// (<see cref="GenerationSettings"/>); pooled memory of sizes this generation did not use is released after it.
/// </summary>
public sealed class DistributedPipeline(IRankLauncher launcher, IComputeBackend backend, IOptions<DistriGenOptions> options,
    DevicePlacement devices, IEnumerable<IDeviceCommunicatorFactory> deviceCommunicators)
{
    private readonly ConditionalWeakTable<DiffusionModel, ConcurrentDictionary<Device, DiffusionModel>> _replicas = new();

    public IComputeBackend Backend => backend;
    public bool IsRoot => launcher.IsRoot;
    public int Ranks => launcher.Ranks;
    public DistriGenOptions Options => options.Value;

    /// <summary>The device of this process's first rank: where to load the model so that no copy is needed.</summary>
    public Device Device => devices.For(DevicePlacement.LocalRank(0));

    /// <summary>
    /// The model on a rank's device: itself when it is there, else a copy made once per device (ranks of
    /// one process on different GPUs).
    /// </summary>
    private DiffusionModel On(Device device, DiffusionModel model) =>
        ReferenceEquals(model.Device, device)
            ? model
            : _replicas.GetOrCreateValue(model).GetOrAdd(device, d => model.To(d));

    public (GenerationResult Result, CommunicationReport? Report) Generate(DiffusionModel model, GenerationRequest request, Conditioning conditioning,
        IProgress<StepProgress>? progress = null, CancellationToken cancellation = default)
    {
        request.Validate();
        ComputeBackends.Current = backend;
        try
        {
            if (launcher.Ranks == 1)
            {
                using var budget = ComputeThreads.Use(options.Value.ThreadsPerRank);
                var single = On(devices.For(DevicePlacement.LocalRank(0)), model);
                return (DiffusionPipeline.Generate(single, new UNetPredictor(single.Unet), request, conditioning, progress, cancellation), null);
            }
            var shared = model;
            var (height, width) = model.LatentSize(request.Width, request.Height);
            var settings = GenerationSettings.Describe(model, request, conditioning, options.Value.Parallel);
            return launcher.Run(comm =>
            {
                RankAgreement.Agree(comm, settings);
                var device = devices.For(comm);
                var model = On(device, shared);
                using var run = PatchParallelRun.Create(comm, options.Value.Parallel.SplitBatch, DeviceCommunicator(comm, device));
                var parallel = options.Value.Parallel;
                var predictor = new PatchParallelPredictor(model.Unet, run, parallel, height, width);
                var decoder = parallel.VaeParallel ? new PatchParallelDecoder(comm, parallel.Timeout) : null;
                var result = DiffusionPipeline.Generate(model, predictor, request, conditioning, comm.Rank == 0 ? progress : null, cancellation, decoder);
                if (comm.Rank != 0)
                {
                    // Only rank 0's result goes back to the caller; the others' tensors return to the pool.
                    result.Dispose();
                    return (null!, null);
                }
                return (result, (CommunicationReport?)CommunicationReport.From(predictor));
            });
        }
        finally
        {
            TensorMemory.TrimUnused();
        }
    }

    /// <summary>
    /// A device-to-device communicator for the ranks' tensors (NCCL between GPUs) when one is registered and
    /// every rank can use it; null on the host and otherwise (messages then go through the host).
    /// </summary>
    private IDeviceCommunicator? DeviceCommunicator(ICommunicator comm, Device device)
    {
        if (device.IsHost) return null;
        foreach (var factory in deviceCommunicators)
            if (factory.TryCreate(comm, device, out _) is { } direct) return direct;
        return null;
    }

    /// <summary>The same generation on a thread-pool thread, for hosts that await (progress is reported on that thread).</summary>
    public Task<(GenerationResult Result, CommunicationReport? Report)> GenerateAsync(DiffusionModel model, GenerationRequest request, Conditioning conditioning,
        IProgress<StepProgress>? progress = null, CancellationToken cancellation = default) =>
        Task.Run(() => Generate(model, request, conditioning, progress, cancellation), cancellation);
}

public static class PipelineServiceCollectionExtensions
{
    /// <summary>Registers DistriGen (see AddDistriGen) and the <see cref="DistributedPipeline"/> that builds on it.</summary>
    public static IServiceCollection AddDistriGenPipelines(this IServiceCollection services, Action<DistriGenOptions>? configure = null)
    {
        services.AddDistriGen(configure);
        services.TryAddSingleton<DistributedPipeline>();
        return services;
    }
}

using DistriGen.Runtime.Communication;
using DistriGen.Tensors.Devices;
using Microsoft.Extensions.Options;

namespace DistriGen.Runtime;

/// <summary>
/// Which device each rank computes on, from <see cref="DistriGenOptions.Device"/> and the device
/// providers registered (DistriGen.Torch's <c>AddDistriGenTorch</c>): the host by default; with
/// "cuda", local rank r (the rank among those on this machine, as torchrun's LOCAL_RANK) takes GPU r
/// mod the GPU count.
/// </summary>
public sealed class DevicePlacement(IEnumerable<IDeviceProvider> providers, IOptions<DistriGenOptions> options)
{
    public DeviceSpec Spec => options.Value.Device;

    /// <summary>The device of the rank that is <paramref name="localRank"/>-th on this machine.</summary>
    public Device For(int localRank)
    {
        var spec = options.Value.Device;
        if (spec.IsHost) return Device.Host;
        var provider = providers.FirstOrDefault(p => p.Provides(spec.Kind))
            ?? throw new InvalidOperationException(
                $"--device {spec.Kind}: no device backend for it is registered (reference DistriGen.Torch and call services.AddDistriGenTorch()).");
        return provider.Get(spec, spec.IndexFor(localRank, provider.Count(spec.Kind)));
    }

    /// <summary>The device of a rank of <paramref name="comm"/>'s run.</summary>
    public Device For(ICommunicator comm) => For(LocalRank(comm.Rank));

    /// <summary>
    /// The rank among this machine's ranks: Open MPI's OMPI_COMM_WORLD_LOCAL_RANK for a process of an
    /// MPI job, else the rank itself (ranks as threads of one process).
    /// </summary>
    public static int LocalRank(int rank) =>
        MpiWorld.LaunchedByMpirun && int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_RANK"), out int local) && local >= 0
            ? local
            : rank;
}

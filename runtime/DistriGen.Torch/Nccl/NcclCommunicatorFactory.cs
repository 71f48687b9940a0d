using DistriGen.Runtime.Communication;
using DistriGen.Tensors.Devices;

namespace DistriGen.Torch.Nccl;

/// <summary>
/// Chooses NCCL for a run when every rank computes on a CUDA GPU and loads NCCL; otherwise (any rank on
/// another device or without the library) every rank stages its messages through the host. Rank 0
/// makes NCCL's unique id and the ranks share it over the run's own communicator.
/// </summary>
public sealed class NcclCommunicatorFactory : IDeviceCommunicatorFactory
{
    private readonly Func<(INcclApi? Api, string Why)> _load;
    private readonly Func<Device, int?> _gpuOf;

    public NcclCommunicatorFactory() : this(LoadNative, GpuOf) { }

    internal NcclCommunicatorFactory(Func<(INcclApi? Api, string Why)> load, Func<Device, int?> gpuOf)
    {
        _load = load;
        _gpuOf = gpuOf;
    }

    public IDeviceCommunicator? TryCreate(ICommunicator world, Device device, out string why)
    {
        int? gpu = _gpuOf(device);
        INcclApi? api = null;
        why = gpu is null ? $"{device.Name} is not a CUDA device" : "";
        if (gpu is not null) (api, why) = _load();
        // Every rank must take the same path: NCCL only when all of them can.
        var ready = new double[world.Size];
        ready[world.Rank] = api is not null ? 1 : 0;
        world.AllReduceSum(ready);
        int missing = Array.IndexOf(ready, 0.0);
        if (missing >= 0)
        {
            if (why.Length == 0) why = $"rank {missing} cannot use NCCL";
            return null;
        }
        var id = ShareUniqueId(world, world.Rank == 0 ? api!.UniqueId() : null);
        return new NcclCommunicator(api!, api!.InitRank(world.Size, id, world.Rank, gpu!.Value), device, world.Rank, world.Size);
    }

    /// <summary>Rank 0's 128-byte id on every rank, carried as 32 floats (bit for bit) by an all-gather.</summary>
    internal static byte[] ShareUniqueId(ICommunicator world, byte[]? rootId)
    {
        const int floats = 32;
        var mine = new float[floats];
        if (rootId is not null) Buffer.BlockCopy(rootId, 0, mine, 0, rootId.Length);
        var all = new float[floats * world.Size];
        world.AllGather(mine, Enumerable.Repeat(floats, world.Size).ToArray(), all);
        var id = new byte[floats * sizeof(float)];
        Buffer.BlockCopy(all, 0, id, 0, id.Length);
        return id;
    }

    private static (INcclApi?, string) LoadNative()
    {
        var api = NativeNccl.TryLoad(out var why);
        return (api, why);
    }

    private static int? GpuOf(Device device) =>
        device is TorchDevice { Target.type: TorchSharp.DeviceType.CUDA } cuda ? cuda.Target.index : null;
}

using DistriGen.Tensors;
using DistriGen.Tensors.Devices;

namespace DistriGen.Runtime.Communication;

/// <summary>
/// Moves tensors between the ranks of a run device to device, without staging them through the host
/// (NCCL between CUDA GPUs, from DistriGen.Torch). Every rank calls each operation in the same order.
/// </summary>
public interface IDeviceCommunicator : IDisposable
{
    /// <summary>A name for reports, e.g. "NCCL 2.21 on cuda:0".</summary>
    string Name { get; }

    /// <summary>The device whose tensors this communicator moves.</summary>
    Device Device { get; }

    /// <summary>
    /// Sends <paramref name="mine"/> to every other rank and fills <paramref name="all"/>[r] (allocated by
    /// the caller with rank r's shape) with rank r's tensor; <paramref name="all"/>[own rank] is left as it is.
    /// </summary>
    void AllGather(Tensor mine, IReadOnlyList<Tensor> all);
}

/// <summary>Makes an <see cref="IDeviceCommunicator"/> for a run when the device and the machine support one.</summary>
public interface IDeviceCommunicatorFactory
{
    /// <summary>
    /// A device communicator over <paramref name="world"/>'s ranks for tensors on <paramref name="device"/>,
    /// or null with <paramref name="why"/> saying why not (then messages are staged through the host).
    /// Every rank must call it, and all get a communicator or all get null.
    /// </summary>
    IDeviceCommunicator? TryCreate(ICommunicator world, Device device, out string why);
}

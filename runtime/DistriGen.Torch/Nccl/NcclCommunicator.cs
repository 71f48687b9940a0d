using DistriGen.Runtime.Communication;
using DistriGen.Tensors;
using DistriGen.Tensors.Devices;
using TorchSharp;

namespace DistriGen.Torch.Nccl;

/// <summary>
/// Device-to-device messages between the ranks of a run over NCCL: one grouped set of sends and
/// receives per collective, on the default stream, so they are ordered after the kernels that made the
/// data and before the ones that use it.
/// </summary>
internal sealed class NcclCommunicator(INcclApi api, IntPtr comm, Device device, int rank, int size) : IDeviceCommunicator
{
    private IntPtr _comm = comm;

    public string Name => $"NCCL {api.Version} on {device.Name}";
    public Device Device => device;

    public void AllGather(Tensor mine, IReadOnlyList<Tensor> all)
    {
        ObjectDisposedException.ThrowIf(_comm == IntPtr.Zero, this);
        if (all.Count != size) throw new ArgumentException($"AllGather over {size} ranks got {all.Count} destination tensors.");
        using var scope = torch.NewDisposeScope();
        var send = Contiguous(mine);
        var receive = all.Select(t => ((TorchStorage)t.Storage).Value).ToArray();
        if (receive.Any(t => !t.is_contiguous()))
            throw new ArgumentException("AllGather receives into contiguous tensors only.");
        api.GroupStart();
        try
        {
            for (int p = 0; p < size; p++)
            {
                if (p == rank) continue;
                api.Send(DataPointer(send), send.NumberOfElements, TypeOf(send.dtype), p, _comm);
                api.Receive(DataPointer(receive[p]), receive[p].NumberOfElements, TypeOf(receive[p].dtype), p, _comm);
            }
        }
        finally
        {
            api.GroupEnd();
        }
    }

    public void Dispose()
    {
        if (_comm == IntPtr.Zero) return;
        api.Destroy(_comm);
        _comm = IntPtr.Zero;
    }

    internal static NcclType TypeOf(torch.ScalarType type) => type switch
    {
        torch.ScalarType.Float32 => NcclType.Float32,
        torch.ScalarType.BFloat16 => NcclType.BFloat16,
        torch.ScalarType.Float16 => NcclType.Float16,
        _ => throw new ArgumentException($"NCCL messages of {type} are not used by DistriGen."),
    };

    private static torch.Tensor Contiguous(Tensor t)
    {
        var value = ((TorchStorage)t.Storage).Value;
        return value.is_contiguous() ? value : value.contiguous();
    }

    /// <summary>The address of a contiguous tensor's first element.</summary>
    internal static IntPtr DataPointer(torch.Tensor t) => TorchPointers.Data(t);
}

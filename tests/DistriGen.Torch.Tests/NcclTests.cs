using System.Runtime.InteropServices;
using DistriGen.Runtime.Communication;
using DistriGen.Tensors;
using DistriGen.Tensors.Devices;
using DistriGen.Tensors.Ops;
using DistriGen.Torch.Nccl;
using static DistriGen.Torch.Tests.TorchTesting;

namespace DistriGen.Torch.Tests;

/// <summary>
/// Everything around NCCL, without GPUs: when it is chosen (every rank on a CUDA device with the library,
/// or none), the unique id every rank gets, and the grouped sends and receives of a gather.
/// </summary>
public sealed class NcclTests
{
    [Fact]
    public void EveryRankGetsRankZerosUniqueIdAndItsOwnGpu()
    {
        var apis = new FakeNccl[3];
        var communicators = InProcessLauncher.Run(3, 1, comm =>
        {
            var api = apis[comm.Rank] = new FakeNccl((byte)(comm.Rank + 1));
            var factory = new NcclCommunicatorFactory(() => (api, ""), _ => 2 - comm.Rank);
            return factory.TryCreate(comm, Device.Host, out _);
        });
        Assert.All(communicators, c => Assert.NotNull(c));
        Assert.Contains("NCCL 2.21.5", communicators[0]!.Name);
        for (int r = 0; r < 3; r++)
        {
            var (ranks, id, rank, gpu) = apis[r].Init!.Value;
            Assert.Equal((3, r, 2 - r), (ranks, rank, gpu));
            Assert.Equal(Enumerable.Repeat((byte)1, 128), id);
        }
    }

    [Fact]
    public void WhenOneRankCannotLoadNcclNoRankUsesIt()
    {
        var outcomes = InProcessLauncher.Run(2, 1, comm =>
        {
            INcclApi? api = comm.Rank == 1 ? null : new FakeNccl(1);
            var factory = new NcclCommunicatorFactory(() => (api, api is null ? "libnccl.so.2 is not installed" : ""), _ => 0);
            var direct = factory.TryCreate(comm, Device.Host, out var why);
            return (direct, why);
        });
        Assert.All(outcomes, o => Assert.Null(o.direct));
        Assert.Equal("rank 1 cannot use NCCL", outcomes[0].why);
        Assert.Equal("libnccl.so.2 is not installed", outcomes[1].why);
    }

    [Fact]
    public void DevicesOtherThanCudaStageThroughTheHost()
    {
        var why = InProcessLauncher.Run(2, 1, comm =>
        {
            new NcclCommunicatorFactory().TryCreate(comm, Cpu, out var reason);
            return reason;
        });
        Assert.All(why, w => Assert.Equal("torch-cpu is not a CUDA device", w));
    }

    [Fact]
    public void AGatherIsOneGroupOfSendsAndReceivesOfTheRightSizesAndAddresses()
    {
        var api = new FakeNccl(1);
        using var communicator = new NcclCommunicator(api, 42, Cpu, rank: 1, size: 3);
        using var onDevice = Device.Use(Cpu);
        var mine = Ops.SliceRows(Normal(1, 1, 2, 6, 4), 1, 4);
        var all = new[] { Tensor.Empty(1, 2, 2, 4), mine, Tensor.Empty(1, 2, 5, 4) };
        communicator.AllGather(mine, all);
        Assert.Equal(["start", "send 0 24", "receive 0 16", "send 2 24", "receive 2 40", "end"], api.Calls);
        // The address handed to NCCL is the tensor's first value.
        var first = new float[24];
        Marshal.Copy(api.Pointers[0], first, 0, 24);
        Assert.Equal(mine.ToArray(), first);
        Assert.Equal(NcclType.BFloat16, NcclCommunicator.TypeOf(TorchSharp.torch.ScalarType.BFloat16));
    }

    private sealed class FakeNccl(byte idByte) : INcclApi
    {
        public (int Ranks, byte[] Id, int Rank, int Gpu)? Init { get; private set; }
        public List<string> Calls { get; } = [];
        public List<IntPtr> Pointers { get; } = [];
        public string Version => "2.21.5";
        public byte[] UniqueId() => Enumerable.Repeat(idByte, 128).ToArray();

        public IntPtr InitRank(int ranks, byte[] uniqueId, int rank, int gpu)
        {
            Init = (ranks, uniqueId, rank, gpu);
            return 1;
        }

        public void GroupStart() => Calls.Add("start");
        public void GroupEnd() => Calls.Add("end");

        public void Send(IntPtr data, long count, NcclType type, int peer, IntPtr comm)
        {
            Calls.Add($"send {peer} {count}");
            Pointers.Add(data);
        }

        public void Receive(IntPtr data, long count, NcclType type, int peer, IntPtr comm) => Calls.Add($"receive {peer} {count}");
        public void Destroy(IntPtr comm) { }
    }
}

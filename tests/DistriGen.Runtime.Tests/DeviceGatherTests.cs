using DistriGen.Runtime.Communication;
using DistriGen.Tensors;
using DistriGen.Tensors.Devices;
using DistriGen.Tensors.Ops;

namespace DistriGen.Runtime.Tests;

/// <summary>Band gathers through a device communicator give what the host-staged gather gives.</summary>
public sealed class DeviceGatherTests
{
    [Theory]
    [InlineData(3, false)]
    [InlineData(4, true)]
    public void GatheringDeviceToDeviceEqualsGatheringThroughTheHost(int ranks, bool splitBatch)
    {
        var layout = new BandLayout(11, 5, splitBatch ? ranks / 2 : ranks, alignment: 1);
        var board = new Tensor[ranks];
        var results = InProcessLauncher.Run(ranks, 1, comm =>
        {
            int patch = splitBatch ? comm.Rank % (ranks / 2) : comm.Rank;
            using var band = SeededNormal.Sample(comm.Rank, 1, 2, layout.Rows(patch), 5);
            using var staged = PatchParallelRun.Create(comm, splitBatch);
            var throughHost = staged.GatherBands(band, layout).ToArray();
            using var direct = PatchParallelRun.Create(comm, splitBatch, new BoardCommunicator(comm, board));
            var deviceToDevice = direct.GatherBands(band, layout).ToArray();
            return (throughHost, deviceToDevice);
        });
        foreach (var (throughHost, deviceToDevice) in results) Assert.Equal(throughHost, deviceToDevice);
        Assert.Equal(results[0].throughHost, results[^1].throughHost);
    }

    /// <summary>
    /// An in-memory device communicator for host tensors: ranks post their tensors on a shared board.
    /// </summary>
    private sealed class BoardCommunicator(ICommunicator world, Tensor[] board) : IDeviceCommunicator
    {
        public string Name => "board";
        public Device Device => Device.Host;

        public void AllGather(Tensor mine, IReadOnlyList<Tensor> all)
        {
            board[world.Rank] = mine;
            world.Barrier();
            for (int r = 0; r < world.Size; r++)
                if (r != world.Rank) board[r].Span.CopyTo(all[r].Span);
            world.Barrier();
        }

        public void Dispose() { }
    }
}

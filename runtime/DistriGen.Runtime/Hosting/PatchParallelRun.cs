using DistriGen.Runtime.Communication;
using DistriGen.Tensors;
using DistriGen.Tensors.Ops;

namespace DistriGen.Runtime;

/// <summary>
/// One rank's place in a run: the world communicator, the patch group it shares bands with, and which
/// rows of the guidance batch it computes. Without batch splitting every rank computes the whole batch
/// on its band; with it the world is two groups, one per guidance row (as DistriFusion's split_batch).
/// </summary>
public sealed class PatchParallelRun : IDisposable
{
    private PatchParallelRun(ICommunicator world, ICommunicator patchGroup, int batchIndex, bool splitBatch, IDeviceCommunicator? device)
    {
        World = world;
        PatchGroup = patchGroup;
        BatchIndex = batchIndex;
        SplitBatch = splitBatch;
        DeviceWorld = device;
    }

    public ICommunicator World { get; }

    /// <summary>
    /// Moves the world's device tensors device to device (NCCL), or null: then they go through the host.
    /// </summary>
    public IDeviceCommunicator? DeviceWorld { get; }
    public ICommunicator PatchGroup { get; }

    /// <summary>With <see cref="SplitBatch"/>, the guidance row this rank computes (0 unconditional, 1 conditional).</summary>
    public int BatchIndex { get; }
    public bool SplitBatch { get; }

    /// <summary>
    /// Forms the patch group: the whole world, or with <paramref name="splitBatch"/> each half of it;
    /// <paramref name="device"/> (owned by the run from then on) gathers bands device to device.
    /// </summary>
    public static PatchParallelRun Create(ICommunicator world, bool splitBatch, IDeviceCommunicator? device = null)
    {
        if (!splitBatch) return new PatchParallelRun(world, world, 0, false, device);
        if (world.Size % 2 != 0)
            throw new ArgumentException($"--split-batch needs an even number of ranks (one group per guidance row); got {world.Size}.");
        int half = world.Size / 2, group = world.Rank / half;
        return new PatchParallelRun(world, world.Split(group, world.Rank), group, true, device);
    }

    /// <summary>
    /// Every rank's band output, gathered so every rank holds the full prediction (B, C, H, W):
    /// bands stacked by rows, and with batch splitting the two groups' rows stacked by batch.
    /// </summary>
    public Tensor GatherBands(Tensor band, BandLayout layout)
    {
        int c = band.Dim(1), w = band.Dim(3), bandBatch = band.Dim(0);
        int groups = SplitBatch ? 2 : 1;
        int perGroup = World.Size / groups;
        int expected = layout.Rows(World.Rank % perGroup);
        if (band.Dim(2) != expected)
            throw new InvalidOperationException(
                $"Rank {World.Rank}'s output has {band.Dim(2)} rows but its band of the {layout.LatentHeight}-row image has {expected}: " +
                (band.Dim(2) == layout.LatentHeight
                    ? "the variant did not cut its input into bands; mark the convolution that reads the full input [SplitsInput]."
                    : "the bands were not cut in multiples of the model's downsampling; make the BandLayout with the model's BandAlignment."));
        if (DeviceWorld is { } direct && ReferenceEquals(direct.Device, band.Device)) return GatherOnDevice(direct, band, layout);
        var counts = Enumerable.Range(0, World.Size).Select(r => bandBatch * c * layout.Rows(r % perGroup) * w).ToArray();
        // Host-staged: the band is copied out once, the gathered image in once (on the band's device).
        var all = TensorMemory.Rent(counts.Sum());
        var mine = TensorMemory.Rent(band.Length);
        var image = TensorMemory.Rent(bandBatch * groups * c * layout.LatentHeight * w);
        try
        {
            Ops.CopyToHost(band, mine.AsSpan(0, band.Length));
            using (OpProfiler.Measure(OpCategory.Communication))
                World.AllGather(mine.AsSpan(0, band.Length), counts, all);
            var dst = image.AsSpan();
            int offset = 0;
            for (int r = 0; r < World.Size; r++)
            {
                int g = r / perGroup, patch = r % perGroup, rows = layout.Rows(patch), start = layout.Start(patch);
                for (int b = 0; b < bandBatch; b++)
                    for (int ch = 0; ch < c; ch++)
                    {
                        var src = all.AsSpan(offset + (b * c + ch) * rows * w, rows * w);
                        src.CopyTo(dst.Slice((((g * bandBatch + b) * c + ch) * layout.LatentHeight + start) * w));
                    }
                offset += counts[r];
            }
            return Ops.FromHost(image.AsSpan(0, bandBatch * groups * c * layout.LatentHeight * w), band.Device,
                bandBatch * groups, c, layout.LatentHeight, w);
        }
        finally
        {
            TensorMemory.Return(all);
            TensorMemory.Return(mine);
            TensorMemory.Return(image);
        }
    }

    /// <summary>
    /// The same gather device to device: every rank's band, then rows joined per group and groups by batch.
    /// </summary>
    private Tensor GatherOnDevice(IDeviceCommunicator direct, Tensor band, BandLayout layout)
    {
        int groups = SplitBatch ? 2 : 1, perGroup = World.Size / groups;
        var bands = new List<Tensor>();
        using var onDevice = Tensors.Devices.Device.Use(band.Device);
        try
        {
            for (int r = 0; r < World.Size; r++)
                bands.Add(r == World.Rank ? band : Tensor.Empty(band.Dim(0), band.Dim(1), layout.Rows(r % perGroup), band.Dim(3)));
            using (OpProfiler.Measure(OpCategory.Communication)) direct.AllGather(band, bands);
            if (groups == 1) return Ops.ConcatRows(bands);
            using var first = Ops.ConcatRows(bands.GetRange(0, perGroup));
            using var second = Ops.ConcatRows(bands.GetRange(perGroup, perGroup));
            return Ops.ConcatBatch([first, second]);
        }
        finally
        {
            foreach (var t in bands) if (!ReferenceEquals(t, band)) t.Dispose();
        }
    }

    public void Dispose()
    {
        DeviceWorld?.Dispose();
        if (!ReferenceEquals(PatchGroup, World)) PatchGroup.Dispose();
    }
}

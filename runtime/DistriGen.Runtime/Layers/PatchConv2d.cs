using DistriGen.Tensors;
using DistriGen.Tensors.Nn;
using DistriGen.Tensors.Ops;

namespace DistriGen.Runtime.Layers;

/// <summary>
/// A convolution on a band of rows: it gets <see cref="Conv2d.Padding"/> rows from the band above and
/// the band below (zeros at the image's top and bottom), fresh in synchronous steps and from the
/// previous step after warmup, and sends its own edge rows to those neighbours only.
/// </summary>
internal sealed class PatchConv2d(Conv2d source, PatchContext context, string path) : Conv2d(source)
{
    private int _slot = -1;

    public override Tensor Forward(Tensor x)
    {
        int p = Padding, rank = context.Rank;
        int batch = x.Dim(0), channels = x.Dim(1), h = x.Dim(2), w = x.Dim(3);
        if (h < p) throw new InvalidOperationException($"'{path}': a band of {h} rows is thinner than the halo of {p}; use fewer ranks or a larger image.");
        int up = rank - 1, down = rank + 1;
        bool hasUp = up >= 0, hasDown = down < context.Size;
        int haloValues = batch * channels * p * w;
        if (_slot < 0)
            _slot = context.Cache.Register(path, CommKind.Halo, context.PerPeer(Neighbours), context.PerPeer(Neighbours), SlotSchedule.WarmupSyncThenAsync);
        if (x.IsMeta) return base.Forward(x);

        // Our top rows go to the band above, our bottom rows to the band below.
        void Fresh(int peer, Span<float> destination) => CopyRows(x, peer == up ? 0 : h - p, p, destination);

        var scheduler = context.Scheduler;
        using var padded = Tensor.Empty(batch, channels, h + 2 * p, w);
        if (scheduler.IsSync)
        {
            context.Cache.Exchange(_slot, Fresh);
            Assemble(padded, x, hasUp ? context.Cache.Current(_slot, up) : default, hasDown ? context.Cache.Current(_slot, down) : default, p);
        }
        else
        {
            Assemble(padded, x, hasUp ? context.Cache.Previous(_slot, up) : default, hasDown ? context.Cache.Previous(_slot, down) : default, p);
            if (!scheduler.IsLastStep) context.Cache.Publish(_slot, Fresh);
        }
        return Ops.Conv2d(padded, Weight, Bias, Stride, new Padding2d(0, 0, p, p));

        int Neighbours(int peer) => peer == up || peer == down ? haloValues : 0;
    }

    /// <summary>Rows [<paramref name="first"/>, first + count) of every (batch, channel) plane, plane after plane.</summary>
    private static void CopyRows(Tensor x, int first, int count, Span<float> destination)
    {
        int planes = x.Dim(0) * x.Dim(1), h = x.Dim(2), w = x.Dim(3);
        if (destination.Length != planes * count * w)
            throw new InvalidOperationException($"A message of {destination.Length} values cannot hold {count} rows of {planes} planes × {w} columns: the registered size does not match.");
        var src = x.Span;
        for (int i = 0; i < planes; i++)
            src.Slice((i * h + first) * w, count * w).CopyTo(destination.Slice(i * count * w, count * w));
    }

    /// <summary>Stacks [halo above | band | halo below] per (batch, channel) plane; a missing halo is zeros.</summary>
    private static void Assemble(Tensor padded, Tensor band, ReadOnlySpan<float> above, ReadOnlySpan<float> below, int p)
    {
        using var _ = OpProfiler.Measure(OpCategory.Layout);
        int planes = band.Dim(0) * band.Dim(1), h = band.Dim(2), w = band.Dim(3);
        var dst = padded.Span;
        var src = band.Span;
        int haloPlane = p * w, bandPlane = h * w, outPlane = (h + 2 * p) * w;
        for (int i = 0; i < planes; i++)
        {
            var plane = dst.Slice(i * outPlane, outPlane);
            if (above.IsEmpty) plane[..haloPlane].Clear();
            else above.Slice(i * haloPlane, haloPlane).CopyTo(plane);
            src.Slice(i * bandPlane, bandPlane).CopyTo(plane[haloPlane..]);
            if (below.IsEmpty) plane[(haloPlane + bandPlane)..].Clear();
            else below.Slice(i * haloPlane, haloPlane).CopyTo(plane[(haloPlane + bandPlane)..]);
        }
    }
}

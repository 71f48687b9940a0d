using DistriGen.Tensors;
using DistriGen.Tensors.Nn;
using DistriGen.Tensors.Ops;

namespace DistriGen.Runtime.Layers;

/// <summary>
/// The first convolution: every rank holds the full input, so it takes its band plus halo rows from
/// there (zeros beyond the image) and needs no communication. Its output is the band.
/// </summary>
internal sealed class PatchInputConv2d(Conv2d source, BandLayout layout, int rank, bool naive, string path) : Conv2d(source)
{
    public override Tensor Forward(Tensor x)
    {
        if (x.Dim(2) != layout.LatentHeight)
            throw new ArgumentException($"'{path}' reads the full input of {layout.LatentHeight} rows but got {x.Dim(2)}; pass the whole latent to the patch-parallel model.");
        int start = layout.Start(rank), end = layout.End(rank), p = Padding;
        // Naive patches do not look past their own rows, even here.
        int from = naive ? start : Math.Max(0, start - p), to = naive ? end : Math.Min(x.Dim(2), end + p);
        using var rows = Ops.SliceRows(x, from, to);
        return NonFiniteTrace.After(this, Ops.Conv2d(rows, Weight, Bias, Stride, new Padding2d(p - (start - from), p - (to - end), p, p)));
    }
}

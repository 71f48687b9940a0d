using DistriGen.Tensors;
using DistriGen.Tensors.Nn;
using DistriGen.Tensors.Ops;

namespace DistriGen.Runtime.Layers;

/// <summary>
/// The first convolution: every rank holds the full input, so it takes its band plus halo rows from
/// there (zeros beyond the image) and needs no communication. Its output is the band.
/// </summary>
internal sealed class PatchInputConv2d(Conv2d source, PatchContext context, string path) : Conv2d(source)
{
    public override Tensor Forward(Tensor x)
    {
        if (x.Dim(2) != context.Layout.LatentHeight)
            throw new ArgumentException($"'{path}' reads the full input of {context.Layout.LatentHeight} rows but got {x.Dim(2)}; pass the whole latent to the patch-parallel model.");
        var (start, end) = context.Band;
        int p = Padding;
        if (context.Mode == ParallelMode.Naive)
        {
            // Naive patches do not look past their own rows, even here.
            using var band = Ops.SliceRows(x, start, end);
            return Ops.Conv2d(band, Weight, Bias, Stride, Padding2d.Same(p));
        }
        int from = Math.Max(0, start - p), to = Math.Min(x.Dim(2), end + p);
        using var rows = Ops.SliceRows(x, from, to);
        return Ops.Conv2d(rows, Weight, Bias, Stride, new Padding2d(p - (start - from), p - (to - end), p, p));
    }
}

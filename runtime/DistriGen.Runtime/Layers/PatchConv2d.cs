using DistriGen.Tensors;
using DistriGen.Tensors.Nn;
using DistriGen.Tensors.Ops;

namespace DistriGen.Runtime.Layers;

/// <summary>
/// A convolution on a band of rows: its halo point gives it <see cref="Conv2d.Padding"/> rows of the
/// bands above and below (zeros at the image's top and bottom), and it convolves the stack.
/// </summary>
internal sealed class PatchConv2d(Conv2d source, HaloPoint halo) : Conv2d(source)
{
    public override Tensor Forward(Tensor x)
    {
        var (above, below) = halo.Neighbours(x);
        using (above)
        using (below)
            return NonFiniteTrace.After(this, Convolve(this, x, above, below));
    }

    /// <summary>
    /// The band's rows of the convolution of the whole image, from the band and its neighbours' edge rows:
    /// [above | band | below], zero-padded only where there is no neighbour (and at the left and right).
    /// </summary>
    internal static Tensor Convolve(Conv2d conv, Tensor band, Tensor? above, Tensor? below)
    {
        int p = conv.Padding;
        var pad = new Padding2d(above is null ? p : 0, below is null ? p : 0, p, p);
        if (above is null && below is null) return Ops.Conv2d(band, conv.Weight, conv.Bias, conv.Stride, pad);
        using var stacked = Ops.ConcatRows(new[] { above, band, below }.OfType<Tensor>().ToList());
        return Ops.Conv2d(stacked, conv.Weight, conv.Bias, conv.Stride, pad);
    }
}

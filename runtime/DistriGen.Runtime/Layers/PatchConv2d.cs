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
    /// The band's rows of the convolution of the whole image, from the band and its neighbours' edge
    /// rows. The band is convolved as it is (zero-padded); then only the output rows whose window
    /// reaches into a neighbour are computed again from a thin strip of [neighbour rows | band rows] and
    /// written over them — no copy of the whole band is made.
    /// </summary>
    internal static Tensor Convolve(Conv2d conv, Tensor band, Tensor? above, Tensor? below)
    {
        int p = conv.Padding, k = conv.KernelSize, s = conv.Stride, h = band.Dim(2);
        // Output row o reads input rows s·o − p … s·o − p + k − 1.
        int outRows = (h + 2 * p - k) / s + 1;
        int top = Math.Min(outRows, (p + s - 1) / s);
        int firstBottom = Math.Max(top, (h - k + p + s) / s);
        if (s * (top - 1) + k - p > h || s * firstBottom - p < 0)
        {
            // A band thinner than the kernel: both neighbours reach the same output rows, so convolve the stack.
            using var stacked = Ops.ConcatRows(new[] { above, band, below }.OfType<Tensor>().ToList());
            return Ops.Conv2d(stacked, conv.Weight, conv.Bias, s, new Padding2d(above is null ? p : 0, below is null ? p : 0, p, p));
        }
        var output = Ops.Conv2d(band, conv.Weight, conv.Bias, s, Padding2d.Same(p));
        if (band.IsMeta) return output;
        if (above is not null && top > 0) Patch(conv, output, 0, above, band, 0, s * (top - 1) + k - p, null);
        if (below is not null && firstBottom < outRows)
            Patch(conv, output, firstBottom, null, band, s * firstBottom - p, h, below);
        return output;
    }

    /// <summary>
    /// Output rows from <paramref name="outputRow"/> on, from [above | band rows [from, to) | below] with no vertical
    /// padding.
    /// </summary>
    private static void Patch(Conv2d conv, Tensor output, int outputRow, Tensor? above, Tensor band, int from, int to, Tensor? below)
    {
        int p = conv.Padding;
        using var rows = Ops.SliceRows(band, from, to);
        using var strip = Ops.ConcatRows(new[] { above, rows, below }.OfType<Tensor>().ToList());
        using var patched = Ops.Conv2d(strip, conv.Weight, conv.Bias, conv.Stride, new Padding2d(0, 0, p, p));
        Ops.WriteRows(output, outputRow, patched);
    }
}

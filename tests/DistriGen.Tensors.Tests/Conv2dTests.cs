using DistriGen.Tensors.Ops;
using TensorOps = DistriGen.Tensors.Ops.Ops;

namespace DistriGen.Tensors.Tests;

/// <summary>Ops.Conv2d (im2col + GEMM, and the direct 1×1 path) against a six-loop convolution in double.</summary>
public class Conv2dTests
{
    /// <summary>The textbook definition: y[b,o,i,j] = bias[o] + Σ x[b,c,i·s−top+dy, j·s−left+dx]·w[o,c,dy,dx], zeros outside.</summary>
    internal static double[] Reference(Tensor x, Tensor w, Tensor? bias, int stride, Padding2d pad)
    {
        int batch = x.Dim(0), cin = x.Dim(1), h = x.Dim(2), wd = x.Dim(3);
        int cout = w.Dim(0), kh = w.Dim(2), kw = w.Dim(3);
        int oh = (h + pad.Top + pad.Bottom - kh) / stride + 1, ow = (wd + pad.Left + pad.Right - kw) / stride + 1;
        var xs = x.ToArray();
        var ws = w.ToArray();
        var bs = bias?.ToArray();
        var y = new double[batch * cout * oh * ow];
        for (int b = 0; b < batch; b++)
            for (int o = 0; o < cout; o++)
                for (int i = 0; i < oh; i++)
                    for (int j = 0; j < ow; j++)
                    {
                        double s = bs is null ? 0 : bs[o];
                        for (int c = 0; c < cin; c++)
                            for (int dy = 0; dy < kh; dy++)
                                for (int dx = 0; dx < kw; dx++)
                                {
                                    int iy = i * stride - pad.Top + dy, ix = j * stride - pad.Left + dx;
                                    if (iy < 0 || iy >= h || ix < 0 || ix >= wd) continue;
                                    s += (double)xs[((b * cin + c) * h + iy) * wd + ix] * ws[((o * cin + c) * kh + dy) * kw + dx];
                                }
                        y[((b * cout + o) * oh + i) * ow + j] = s;
                    }
        return y;
    }

    /// <summary>Runs one case on the current backend and compares it with the reference.</summary>
    internal static void AssertMatchesReference(int batch, int cin, int cout, int h, int w, int kh, int kw,
        int stride, Padding2d pad, bool withBias, long seed = 1,
        double rtol = 1e-5)
    {
        using var x = Check.Normal(seed, batch, cin, h, w);
        using var weight = Check.Normal(seed + 1, cout, cin, kh, kw);
        using var bias = withBias ? Check.Normal(seed + 2, cout) : null;
        using var y = TensorOps.Conv2d(x, weight, bias, stride, pad);
        int oh = (h + pad.Top + pad.Bottom - kh) / stride + 1, ow = (w + pad.Left + pad.Right - kw) / stride + 1;
        Check.Shape(y, batch, cout, oh, ow);
        Check.Close(Reference(x, weight, bias, stride, pad), y, rtol,
            what: $"conv2d {Tensor.Format(x.Shape)} * {Tensor.Format(weight.Shape)} stride {stride} {pad}");
    }

    // Channel counts that are not multiples of the 16/32-wide vector tiles, 1-row and non-square
    // inputs, stride 2 with odd sizes, and padding that differs on every side.
    [Theory]
    [InlineData(1, 3, 5, 7, 9, 3, 3, 1, 1, 1, 1, 1, true)]     // odd channels, non-square
    [InlineData(2, 17, 33, 6, 5, 3, 3, 1, 1, 1, 1, 1, false)]  // batch 2, 33 outputs, no bias
    [InlineData(1, 5, 3, 1, 8, 3, 3, 1, 1, 1, 1, 1, true)]     // a 1-row input
    [InlineData(1, 4, 7, 1, 1, 3, 3, 1, 1, 1, 1, 1, true)]     // a single pixel
    [InlineData(1, 8, 16, 9, 7, 3, 3, 2, 1, 1, 1, 1, true)]    // stride 2, odd size
    [InlineData(2, 3, 17, 8, 8, 3, 3, 2, 0, 1, 0, 1, true)]    // stride 2 with diffusers' downsample padding (0, 1, 0, 1)
    [InlineData(1, 5, 7, 6, 4, 3, 3, 1, 2, 0, 1, 3, true)]     // asymmetric padding, every side different
    [InlineData(1, 3, 4, 5, 6, 3, 3, 1, 0, 2, 3, 1, false)]    // asymmetric padding, left wider than the kernel overlap
    [InlineData(1, 6, 5, 7, 5, 3, 3, 2, 2, 1, 0, 3, true)]     // asymmetric padding with stride 2
    [InlineData(1, 33, 5, 5, 6, 1, 1, 1, 0, 0, 0, 0, true)]    // 1×1 stride 1: the direct path without im2col
    [InlineData(2, 17, 3, 4, 5, 1, 1, 1, 0, 0, 0, 0, false)]   // direct path, batch 2, no bias
    [InlineData(1, 4, 6, 5, 7, 1, 1, 2, 0, 0, 0, 0, true)]     // 1×1 stride 2 goes through im2col
    [InlineData(1, 3, 2, 4, 4, 1, 1, 1, 1, 0, 0, 1, true)]     // 1×1 with padding goes through im2col
    [InlineData(1, 3, 4, 6, 7, 1, 3, 1, 0, 0, 1, 1, true)]     // non-square 1×3 kernel
    [InlineData(1, 2, 3, 9, 8, 5, 5, 1, 2, 2, 2, 2, true)]     // 5×5 kernel
    [InlineData(1, 20, 3, 3, 3, 3, 3, 1, 1, 1, 1, 1, true)]    // K = 180, one K block
    [InlineData(1, 33, 36, 5, 7, 3, 3, 1, 1, 1, 1, 1, true)]   // K = 297 crosses the 256 K block; N = 35 spans a 32-wide tile and the scalar tail
    public void Conv2d_matches_direct_convolution(int batch, int cin, int cout, int h, int w, int kh, int kw, int stride, int top, int bottom, int left, int right, bool bias) =>
        AssertMatchesReference(batch, cin, cout, h, w, kh, kw, stride, new Padding2d(top, bottom, left, right), bias);

    // A 3×3 conv whose left padding is wider than the (1-column) input: every output column sees
    // only padding or the single input column. Valid in torch; the im2col copy must clamp its
    // column range to the output width.
    [Fact]
    public void Conv2d_padding_wider_than_a_narrow_input_gives_the_reference() =>
        AssertMatchesReference(1, 2, 3, 4, 1, 3, 3, 1, new Padding2d(1, 1, 2, 0), true);

    [Fact]
    public void Conv2d_output_shape_follows_the_floor_rule()
    {
        // (h + top + bottom − k) / stride + 1, rounded down, as torch.
        using var x = Tensor.Zeros(1, 2, 7, 6);
        using var w = Tensor.Zeros(4, 2, 3, 3);
        using var y = TensorOps.Conv2d(x, w, null, 2, new Padding2d(0, 1, 0, 1));
        Check.Shape(y, 1, 4, 3, 3);
    }
}

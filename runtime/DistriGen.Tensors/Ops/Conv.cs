using DistriGen.Tensors.Compute;

namespace DistriGen.Tensors.Ops;

/// <summary>Padding of a 2-D convolution on each side, so a band can be padded differently at top and bottom.</summary>
public readonly record struct Padding2d(int Top, int Bottom, int Left, int Right)
{
    public static Padding2d Same(int p) => new(p, p, p, p);
}

public static partial class Ops
{
    /// <summary>
    /// 2-D convolution of x (B, Cin, H, W) with weight (Cout, Cin, kh, kw) and optional bias (Cout):
    /// im2col then one matrix product per image (a 1×1 stride-1 conv needs no im2col).
    /// </summary>
    public static unsafe Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, int stride, Padding2d pad)
    {
        const string op = "conv2d";
        Shapes.Rank(x, 4, op, "input");
        Shapes.Rank(weight, 4, op, "weight");
        int batch = x.Dim(0), cin = x.Dim(1), h = x.Dim(2), w = x.Dim(3);
        int cout = weight.Dim(0), kh = weight.Dim(2), kw = weight.Dim(3);
        Shapes.Check(weight.Dim(1) == cin, op, () => $"input {Tensor.Format(x.Shape)} has {cin} channels but the weight {Tensor.Format(weight.Shape)} expects {weight.Dim(1)}.");
        Shapes.Check(bias is null || (bias.Rank == 1 && bias.Dim(0) == cout), op, () => $"bias {Tensor.Format(bias!.Shape)} does not match the {cout} output channels of the weight {Tensor.Format(weight.Shape)}.");
        Shapes.Check(stride >= 1, op, () => $"stride {stride} must be at least 1.");
        int oh = (h + pad.Top + pad.Bottom - kh) / stride + 1;
        int ow = (w + pad.Left + pad.Right - kw) / stride + 1;
        Shapes.Check(oh > 0 && ow > 0, op, () => $"input {Tensor.Format(x.Shape)} with padding {pad} is smaller than the kernel {kh}×{kw}.");

        if (Tensor.AnyMeta(x, weight, bias)) return Tensor.Meta(batch, cout, oh, ow);
        if (KernelsOf(op, x, weight, bias) is { } device) return device.Conv2d(x, weight, bias, stride, pad);
        var y = Tensor.HostEmpty(batch, cout, oh, ow);

        int kdim = cin * kh * kw, n = oh * ow;
        using var _ = OpProfiler.Measure(OpCategory.Conv, 2L * batch * cout * n * kdim);
        if (ComputeBackends.Current is IConvolutionBackend direct)
        {
            fixed (float* px = x.Span, pw = weight.Span, py = y.Span, pb = bias is null ? default : bias.Span)
                if (direct.TryConv2d(px, batch, cin, h, w, weight, pw, cout, kh, kw, bias is null ? null : pb, stride, pad, py, oh, ow, ComputeThreads.Current))
                    return y;
        }
        bool pointwise = kh == 1 && kw == 1 && stride == 1 && pad == default;
        float[]? col = pointwise ? null : TensorMemory.Rent(kdim * n);
        int threads = ComputeThreads.Current;
        var backend = ComputeBackends.Current;
        try
        {
            fixed (float* px = x.Span, pw = weight.Span, py = y.Span)
            {
                for (int b = 0; b < batch; b++)
                {
                    float* xb = px + (long)b * cin * h * w;
                    float* yb = py + (long)b * cout * n;
                    if (pointwise)
                    {
                        backend.Gemm(cout, n, kdim, pw, kdim, xb, n, yb, n, accumulate: false, threads);
                    }
                    else
                    {
                        Im2Col(xb, cin, h, w, kh, kw, stride, pad, oh, ow, col!, threads);
                        fixed (float* pc = col) backend.Gemm(cout, n, kdim, pw, kdim, pc, n, yb, n, accumulate: false, threads);
                    }
                }
            }
        }
        finally
        {
            if (col is not null) TensorMemory.Return(col);
        }
        if (bias is not null) AddChannelBias(y, bias);
        return y;
    }

    private static unsafe void Im2Col(float* x, int cin, int h, int w, int kh, int kw, int stride, Padding2d pad, int oh, int ow, float[] col, int threads)
    {
        nint px = (nint)x;
        ComputeThreads.For(cin * kh, threads, row =>
        {
            int c = row / kh, dy = row % kh;
            float* xc = (float*)px + (long)c * h * w;
            var colSpan = col.AsSpan();
            for (int dx = 0; dx < kw; dx++)
            {
                var dst = colSpan.Slice(((c * kh + dy) * kw + dx) * oh * ow, oh * ow);
                for (int oy = 0; oy < oh; oy++)
                {
                    int iy = oy * stride - pad.Top + dy;
                    var line = dst.Slice(oy * ow, ow);
                    if ((uint)iy >= (uint)h)
                    {
                        line.Clear();
                        continue;
                    }
                    float* src = xc + (long)iy * w;
                    if (stride == 1)
                    {
                        int ox0 = Math.Min(ow, Math.Max(0, pad.Left - dx)), ox1 = Math.Min(ow, w + pad.Left - dx);
                        line[..ox0].Clear();
                        if (ox1 > ox0) new ReadOnlySpan<float>(src + ox0 - pad.Left + dx, ox1 - ox0).CopyTo(line[ox0..]);
                        line[Math.Max(ox0, ox1)..].Clear();
                    }
                    else
                    {
                        for (int ox = 0; ox < ow; ox++)
                        {
                            int ix = ox * stride - pad.Left + dx;
                            line[ox] = (uint)ix < (uint)w ? src[ix] : 0f;
                        }
                    }
                }
            }
        });
    }
}

namespace DistriGen.Tensors.Compute;

/// <summary>A backend that convolves directly (instead of im2col + GEMM), when it supports the case.</summary>
public interface IConvolutionBackend
{
    /// <summary>
    /// y (N, Cout, OH, OW) = conv(x (N, Cin, H, W), w (Cout, Cin, kh, kw)) + bias, NCHW; false when the
    /// backend cannot run this case (the caller falls back to im2col + GEMM).
    /// </summary>
    unsafe bool TryConv2d(float* x, int batch, int cin, int h, int w, float* weight, int cout, int kh, int kw, float* bias,
        int stride, Ops.Padding2d padding, float* y, int oh, int ow, int threads);
}

namespace DistriGen.Tensors.Compute;

/// <summary>A backend that convolves directly (instead of im2col + GEMM), when it supports the case.</summary>
public interface IConvolutionBackend
{
    /// <summary>
    /// y (N, Cout, OH, OW) = conv(x (N, Cin, H, W), w (Cout, Cin, kh, kw)) + bias, NCHW; false when the
    /// backend cannot run this case (the caller falls back to im2col + GEMM). <paramref name="weights"/>
    /// identifies the weights, so a backend may keep them in its preferred layout between calls.
    /// </summary>
    unsafe bool TryConv2d(float* x, int batch, int cin, int h, int w, Tensor weights, float* weight, int cout, int kh, int kw, float* bias,
        int stride, Ops.Padding2d padding, float* y, int oh, int ow, int threads);

    /// <summary>Drops what was derived from these weights (they were reloaded).</summary>
    void Forget(Tensor weights);
}

using DistriGen.Tensors.Ops;

namespace DistriGen.Tensors.Devices;

/// <summary>
/// The operations a device runs on its tensors: everything the Stable Diffusion family needs. Ops
/// checks shapes and handles meta tensors before it calls these, so an implementation computes only.
/// Every tensor passed in is on the implementing device; every tensor returned must be too.
/// </summary>
public interface IDeviceKernels
{
    // Memory and host transfers.
    Tensor Empty(int[] shape);
    /// <summary>
    /// A zero-filled parameter in the device's weight precision, owned by its module (not tracked by a scope).
    /// </summary>
    Tensor Parameter(int[] shape);
    Tensor FromHost(ReadOnlySpan<float> values, int[] shape);
    void CopyToHost(Tensor x, Span<float> destination);
    void CopyFromHost(ReadOnlySpan<float> values, Tensor destination);
    Tensor Reshape(Tensor x, int[] shape);
    Tensor Clone(Tensor x);
    void Fill(Tensor x, float value);

    // Products.
    Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, int stride, Padding2d padding);
    /// <summary>x (…, K) · weight (N, K)ᵀ + bias.</summary>
    Tensor Linear(Tensor x, Tensor weight, Tensor? bias);
    Tensor MatMul(Tensor a, Tensor b);
    Tensor Attention(Tensor q, Tensor k, Tensor v, int heads, bool causal);

    // Normalisation.
    GroupStatistics GroupNormStatistics(Tensor x, int groups);
    Tensor GroupNormApply(Tensor x, GroupStatistics stats, Tensor gamma, Tensor beta, float eps, Activation activation);
    Tensor GroupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, Activation activation);
    Tensor LayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps);

    // Elementwise.
    Tensor Silu(Tensor x);
    Tensor Gelu(Tensor x);
    Tensor QuickGelu(Tensor x);
    Tensor Geglu(Tensor x);
    Tensor Add(Tensor a, Tensor b);
    void AddInPlace(Tensor a, Tensor b);
    Tensor Subtract(Tensor a, Tensor b);
    Tensor Multiply(Tensor a, float s);
    void DivideInPlace(Tensor a, float s);
    Tensor AddScaled(Tensor a, float sa, Tensor b, float sb);
    void AddChannelBias(Tensor x, Tensor bias);
    void AddPerChannel(Tensor x, Tensor v);
    void AddTrailingInPlace(Tensor x, Tensor y);
    void Clamp(Tensor x, float min, float max);

    // Layout.
    Tensor ConcatChannels(Tensor a, Tensor b);
    Tensor SliceRows(Tensor x, int start, int end);
    Tensor ConcatRows(IReadOnlyList<Tensor> parts);
    void WriteRows(Tensor destination, int start, Tensor source);
    Tensor SliceBatch(Tensor x, int start, int end);
    Tensor ConcatBatch(IReadOnlyList<Tensor> parts);
    Tensor SliceTokens(Tensor x, int start, int end);
    Tensor ConcatTokens(IReadOnlyList<Tensor> parts);
    Tensor ConcatColumns(Tensor a, Tensor b);
    Tensor UpsampleNearest(Tensor x, int outH, int outW);
    Tensor ToTokens(Tensor x);
    Tensor FromTokens(Tensor x, int h, int w);
    Tensor Embedding(Tensor table, ReadOnlySpan<int> ids, int batch, int length);
    Tensor SelectTokens(Tensor x, ReadOnlySpan<int> positions);

    // Reductions to the host.
    long FirstNonFinite(Tensor x);
    (double Mean, double StandardDeviation) Moments(Tensor x);
}

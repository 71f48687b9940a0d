using DistriGen.Tensors.Ops;

namespace DistriGen.Tensors.Nn;

/// <summary>A 2-D convolution with square kernel, stride and symmetric padding (parameters "weight", "bias").</summary>
public class Conv2d : Module
{
    public Conv2d(int inChannels, int outChannels, int kernelSize, int stride = 1, int padding = 0, bool bias = true)
    {
        InChannels = inChannels;
        OutChannels = outChannels;
        KernelSize = kernelSize;
        Stride = stride;
        Padding = padding;
        Weight = Tensor.Parameter(outChannels, inChannels, kernelSize, kernelSize);
        Bias = bias ? Tensor.Parameter(outChannels) : null;
    }

    /// <summary>Shares the parameters of <paramref name="source"/>: a patch-parallel layer is the same layer with another forward.</summary>
    protected Conv2d(Conv2d source)
    {
        InChannels = source.InChannels;
        OutChannels = source.OutChannels;
        KernelSize = source.KernelSize;
        Stride = source.Stride;
        Padding = source.Padding;
        Weight = source.Weight;
        Bias = source.Bias;
    }

    public int InChannels { get; }
    public int OutChannels { get; }
    public int KernelSize { get; }
    public int Stride { get; }
    public int Padding { get; }
    public Tensor Weight { get; }
    public Tensor? Bias { get; }

    public override IEnumerable<(string Name, Tensor Tensor)> OwnParameters()
    {
        yield return ("weight", Weight);
        if (Bias is not null) yield return ("bias", Bias);
    }

    /// <summary>New weights: a backend's copy in its own layout is stale.</summary>
    protected internal override void OnParametersLoaded()
    {
        if (Compute.ComputeBackends.Current is Compute.IConvolutionBackend direct) direct.Forget(Weight);
    }

    public virtual Tensor Forward(Tensor x) => NonFiniteTrace.After(this, Ops.Ops.Conv2d(x, Weight, Bias, Stride, Padding2d.Same(Padding)));
}

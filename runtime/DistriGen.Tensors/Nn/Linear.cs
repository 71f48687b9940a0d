namespace DistriGen.Tensors.Nn;

/// <summary>y = x·Wᵀ + b over the last axis (parameters "weight" (out, in) and "bias").</summary>
public class Linear : Module
{
    private Tensor? _weightT;

    public Linear(int inFeatures, int outFeatures, bool bias = true)
    {
        InFeatures = inFeatures;
        OutFeatures = outFeatures;
        Weight = Tensor.Parameter(outFeatures, inFeatures);
        Bias = bias ? Tensor.Parameter(outFeatures) : null;
    }

    public int InFeatures { get; }
    public int OutFeatures { get; }
    public Tensor Weight { get; }
    public Tensor? Bias { get; }

    public override IEnumerable<(string Name, Tensor Tensor)> OwnParameters()
    {
        yield return ("weight", Weight);
        if (Bias is not null) yield return ("bias", Bias);
    }

    protected internal override void OnParametersLoaded()
    {
        _weightT?.Dispose();
        _weightT = null;
        // A backend's own copy of the weights (e.g. bf16 for oneDNN's matmul) is stale too.
        if (Compute.ComputeBackends.Current is Compute.IConvolutionBackend backend) backend.Forget(Weight);
    }

    /// <summary>The weight transposed to (in, out), made once after loading.</summary>
    private Tensor WeightT
    {
        get
        {
            if (_weightT is not null) return _weightT;
            lock (this) return _weightT ??= Ops.Ops.Transpose2d(Weight);
        }
    }

    /// <remarks>
    /// Devices and native backends multiply by the weight transposed in place; only the managed path keeps
    /// a transposed copy.
    /// </remarks>
    public virtual Tensor Forward(Tensor x)
    {
        var native = Compute.ComputeBackends.Current as Compute.ITransposedGemmBackend;
        return NonFiniteTrace.After(this, native is not null || !Weight.Device.IsHost
            ? Ops.Ops.LinearTransposed(x, Weight, Bias, native)
            : Ops.Ops.Linear(x, WeightT, Bias));
    }
}

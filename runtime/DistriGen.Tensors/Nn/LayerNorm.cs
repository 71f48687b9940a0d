namespace DistriGen.Tensors.Nn;

/// <summary>Layer normalisation over the last axis ("weight", "bias").</summary>
public class LayerNorm : Module
{
    public LayerNorm(int features, float eps = 1e-5f)
    {
        Features = features;
        Eps = eps;
        Weight = Tensor.Parameter(features);
        Ops.Ops.Fill(Weight, 1f);
        Bias = Tensor.Parameter(features);
    }

    public int Features { get; }
    public float Eps { get; }
    public Tensor Weight { get; }
    public Tensor Bias { get; }

    public override IEnumerable<(string Name, Tensor Tensor)> OwnParameters()
    {
        yield return ("weight", Weight);
        yield return ("bias", Bias);
    }

    public virtual Tensor Forward(Tensor x) => NonFiniteTrace.After(this, Ops.Ops.LayerNorm(x, Weight, Bias, Eps));
}

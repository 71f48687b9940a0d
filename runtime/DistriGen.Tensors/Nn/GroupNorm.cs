using DistriGen.Tensors.Ops;

namespace DistriGen.Tensors.Nn;

/// <summary>Group normalisation over NCHW with per-channel affine parameters ("weight", "bias").</summary>
public class GroupNorm : Module
{
    public GroupNorm(int groups, int channels, float eps = 1e-5f)
    {
        if (groups <= 0 || channels % groups != 0)
            throw new ArgumentException($"GroupNorm: {channels} channels cannot be split into {groups} groups.");
        Groups = groups;
        Channels = channels;
        Eps = eps;
        Weight = Tensor.Parameter(channels);
        Ops.Ops.Fill(Weight, 1f);
        Bias = Tensor.Parameter(channels);
    }

    protected GroupNorm(GroupNorm source)
    {
        Groups = source.Groups;
        Channels = source.Channels;
        Eps = source.Eps;
        Weight = source.Weight;
        Bias = source.Bias;
    }

    public int Groups { get; }
    public int Channels { get; }
    public float Eps { get; }
    public Tensor Weight { get; }
    public Tensor Bias { get; }

    public override IEnumerable<(string Name, Tensor Tensor)> OwnParameters()
    {
        yield return ("weight", Weight);
        yield return ("bias", Bias);
    }

    /// <summary>Normalises x; <paramref name="activation"/> is fused into the same pass.</summary>
    public virtual Tensor Forward(Tensor x, Activation activation = Activation.None) =>
        NonFiniteTrace.After(this, Ops.Ops.GroupNorm(x, Groups, Weight, Bias, Eps, activation));
}

using DistriGen.Runtime;
using DistriGen.Tensors;
using DistriGen.Tensors.Nn;
using DistriGen.Tensors.Ops;

namespace CustomModel;

/// <summary>A per-pixel gain written by the user: it mixes nothing across space, so it is shared as is.</summary>
[PixelLocal]
public sealed class Gain : Module
{
    public Gain(int channels) => Scale = Tensor.Parameter(channels);

    public Tensor Scale { get; }

    public override IEnumerable<(string Name, Tensor Tensor)> OwnParameters() => [("scale", Scale)];

    public Tensor Forward(Tensor x)
    {
        var y = x.Clone();
        Ops.AddChannelBias(y, Scale);
        return y;
    }
}

/// <summary>Self-attention over the pixels, behind a GroupNorm: it needs other bands' keys and values.</summary>
[PatchParallel]
public sealed partial class PixelAttention : Module
{
    public PixelAttention(int channels)
    {
        Norm = new GroupNorm(4, channels);
        Attn = new Attention(channels, 2, channels / 2);
    }

    public GroupNorm Norm { get; }
    public Attention Attn { get; }

    public Tensor Forward(Tensor x)
    {
        using var normed = Norm.Forward(x);
        using var tokens = Ops.ToTokens(normed);
        using var mixed = Attn.Forward(tokens);
        var y = Ops.FromTokens(mixed, x.Dim(2), x.Dim(3));
        return Ops.AddInPlace(y, x);
    }
}

/// <summary>A residual block that holds a [PatchParallel] child (the attention) next to its own convolution.</summary>
[PatchParallel]
public sealed partial class MixBlock : Module
{
    public MixBlock(int channels)
    {
        Conv = new Conv2d(channels, channels, 3, padding: 1);
        Attention = new PixelAttention(channels);
    }

    public Conv2d Conv { get; }
    public PixelAttention Attention { get; }

    public Tensor Forward(Tensor x)
    {
        using var h = Conv.Forward(x);
        return Attention.Forward(h);
    }
}

/// <summary>The user's denoiser: input conv, a list of mix blocks, a stride-2 conv and back.</summary>
[PatchParallel]
public sealed partial class TinyDenoiser : Module
{
    public TinyDenoiser(int inChannels = 4, int channels = 16, int depth = 2)
    {
        ConvIn = new Conv2d(inChannels, channels, 3, padding: 1);
        Blocks = new ModuleList<MixBlock>(Enumerable.Range(0, depth).Select(_ => new MixBlock(channels)));
        Down = new Conv2d(channels, channels, 3, stride: 2, padding: 1);
        Gain = new Gain(channels);
        ConvOut = new Conv2d(channels, inChannels, 3, padding: 1);
    }

    [SplitsInput]
    public Conv2d ConvIn { get; }
    public ModuleList<MixBlock> Blocks { get; }
    public Conv2d Down { get; }
    public Gain Gain { get; }
    public Conv2d ConvOut { get; }

    public Tensor Forward(Tensor x)
    {
        var h = ConvIn.Forward(x);
        foreach (var block in Blocks)
            using (var input = h) h = block.Forward(input);
        using (var input = h) h = Down.Forward(input);
        using (var input = h) h = Gain.Forward(input);
        using var up = Ops.UpsampleNearest(h, h.Dim(2) * 2, h.Dim(3) * 2);
        h.Dispose();
        return ConvOut.Forward(up);
    }
}

using DistriGen.Runtime;
using DistriGen.Tensors;
using DistriGen.Tensors.Nn;
using DistriGen.Tensors.Ops;

namespace DistriGen.Models;

/// <summary>
/// diffusers' AutoencoderKL, decoder side: post_quant_conv then the decoder. Encoder weights in a
/// checkpoint are accepted and ignored. Its patch-parallel variant decodes one band of rows per rank
/// (halo convolutions at every level, GroupNorm over all bands, the mid block's attention over all
/// bands' keys and values), synchronously in one pass, so the image is the single device's.
/// </summary>
[PatchParallel]
public sealed partial class AutoencoderKL : Module
{
    public AutoencoderKL(VaeConfig config)
    {
        Config = config;
        PostQuantConv = new Conv2d(config.LatentChannels, config.LatentChannels, 1);
        Decoder = new VaeDecoder(config);
    }

    public VaeConfig Config { get; }
    public Conv2d PostQuantConv { get; }
    public VaeDecoder Decoder { get; }

    /// <summary>Decodes latents that are already divided by the scaling factor.</summary>
    public Tensor Decode(Tensor latents)
    {
        using var z = PostQuantConv.Forward(latents);
        return Decoder.Forward(z);
    }

    /// <summary>Checkpoint keys that belong to the encoder, which generation does not need.</summary>
    public static readonly string[] EncoderPrefixes = ["encoder.", "quant_conv."];
}

/// <summary>diffusers' Decoder: conv_in, mid block, up blocks, GroupNorm→SiLU→conv_out.</summary>
[PatchParallel]
public sealed partial class VaeDecoder : Module
{
    public VaeDecoder(VaeConfig config)
    {
        var reversed = config.BlockOutChannels.Reverse().ToArray();
        int groups = config.NormNumGroups;
        ConvIn = new Conv2d(config.LatentChannels, reversed[0], 3, padding: 1);
        MidBlock = new UNetMidBlock2D(reversed[0], groups);
        UpBlocks = new ModuleList<UpDecoderBlock2D>(Enumerable.Range(0, reversed.Length).Select(i =>
            new UpDecoderBlock2D(reversed[Math.Max(0, i - 1)], reversed[i], config.LayersPerBlock + 1, groups, addUpsample: i < reversed.Length - 1)));
        ConvNormOut = new GroupNorm(groups, config.BlockOutChannels[0], 1e-6f);
        ConvOut = new Conv2d(config.BlockOutChannels[0], config.OutChannels, 3, padding: 1);
    }

    /// <summary>
    /// Reads the whole latent; in a patch-parallel decode each rank cuts its band (and halo rows) from it.
    /// </summary>
    [SplitsInput]
    public Conv2d ConvIn { get; }

    public UNetMidBlock2D MidBlock { get; }
    public ModuleList<UpDecoderBlock2D> UpBlocks { get; }
    public GroupNorm ConvNormOut { get; }
    public Conv2d ConvOut { get; }

    public Tensor Forward(Tensor z)
    {
        var h = ConvIn.Forward(z);
        using (var input = h) h = MidBlock.Forward(input);
        foreach (var block in UpBlocks)
            using (var input = h) h = block.Forward(input);
        using (h)
        using (var normed = ConvNormOut.Forward(h, Activation.Silu))
            return ConvOut.Forward(normed);
    }
}

/// <summary>diffusers' UNetMidBlock2D of the VAE: resnet, single-head self-attention, resnet (eps 1e-6, no time embedding).</summary>
[PatchParallel]
public sealed partial class UNetMidBlock2D : Module
{
    public UNetMidBlock2D(int channels, int groups)
    {
        Attentions = new ModuleList<VaeAttentionBlock>(new VaeAttentionBlock(channels, groups));
        Resnets = new ModuleList<ResnetBlock2D>(new ResnetBlock2D(channels, channels, null, groups, 1e-6f), new ResnetBlock2D(channels, channels, null, groups, 1e-6f));
    }

    public ModuleList<VaeAttentionBlock> Attentions { get; }
    public ModuleList<ResnetBlock2D> Resnets { get; }

    public Tensor Forward(Tensor x)
    {
        var h = Resnets[0].Forward(x, null);
        using (var input = h) h = Attentions[0].Forward(input);
        using (var input = h) return Resnets[1].Forward(input, null);
    }
}

/// <summary>The VAE's attention: GroupNorm, one head over all pixels (q, k, v with bias), output projection, residual.</summary>
[PatchParallel]
public sealed partial class VaeAttentionBlock : Module
{
    public VaeAttentionBlock(int channels, int groups)
    {
        GroupNorm = new GroupNorm(groups, channels, 1e-6f);
        Attention = new Attention(channels, 1, channels, qkvBias: true);
    }

    public GroupNorm GroupNorm { get; }

    /// <summary>Its to_q/to_k/to_v/to_out.0 sit directly under this block in diffusers' names.</summary>
    [StateName("")]
    public Attention Attention { get; }

    public Tensor Forward(Tensor x)
    {
        int h = x.Dim(2), w = x.Dim(3);
        using var normed = GroupNorm.Forward(x);
        using var tokens = Ops.ToTokens(normed);
        using var attended = Attention.Forward(tokens);
        var output = Ops.FromTokens(attended, h, w);
        return Ops.AddInPlace(output, x);
    }
}

/// <summary>diffusers' UpDecoderBlock2D: resnets (no time embedding), then an optional upsampler.</summary>
[PatchParallel]
public sealed partial class UpDecoderBlock2D : Module
{
    public UpDecoderBlock2D(int inChannels, int outChannels, int layers, int groups, bool addUpsample)
    {
        Resnets = new ModuleList<ResnetBlock2D>(Enumerable.Range(0, layers).Select(i => new ResnetBlock2D(i == 0 ? inChannels : outChannels, outChannels, null, groups, 1e-6f)));
        if (addUpsample) Upsamplers = new ModuleList<Upsample2D>(new Upsample2D(outChannels));
    }

    public ModuleList<ResnetBlock2D> Resnets { get; }
    public ModuleList<Upsample2D>? Upsamplers { get; }

    public Tensor Forward(Tensor x)
    {
        var h = Resnets[0].Forward(x, null);
        for (int i = 1; i < Resnets.Count; i++)
            using (var input = h) h = Resnets[i].Forward(input, null);
        if (Upsamplers is not null)
            using (var input = h) h = Upsamplers[0].Forward(input);
        return h;
    }
}

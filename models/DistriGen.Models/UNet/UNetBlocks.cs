using DistriGen.Runtime;
using DistriGen.Tensors;
using DistriGen.Tensors.Nn;
using DistriGen.Tensors.Ops;

namespace DistriGen.Models;

/// <summary>
/// A down block: diffusers' DownBlock2D, or CrossAttnDownBlock2D when it has attentions (a
/// Transformer2DModel after each resnet), with an optional stride-2 downsampler.
/// </summary>
[PatchParallel]
public sealed partial class UNetDownBlock : Module
{
    public UNetDownBlock(UNetConfig config, int index, int inChannels)
    {
        int outChannels = config.BlockOutChannels[index];
        bool crossAttention = config.DownBlockTypes[index] == "CrossAttnDownBlock2D";
        int layers = config.LayersPerBlock[index];
        Resnets = new ModuleList<ResnetBlock2D>(Enumerable.Range(0, layers).Select(i =>
            new ResnetBlock2D(i == 0 ? inChannels : outChannels, outChannels, config.TimeEmbedDim, config.NormNumGroups, config.NormEps)));
        if (crossAttention)
        {
            int heads = config.AttentionHeads[index];
            Attentions = new ModuleList<Transformer2DModel>(Enumerable.Range(0, layers).Select(_ =>
                new Transformer2DModel(heads, outChannels / heads, outChannels, config.TransformerLayersPerBlock[index], config.CrossAttentionDim[index], config.NormNumGroups, config.UseLinearProjection)));
        }
        if (index < config.BlockOutChannels.Length - 1) Downsamplers = new ModuleList<Downsample2D>(new Downsample2D(outChannels));
    }

    public ModuleList<ResnetBlock2D> Resnets { get; }
    public ModuleList<Transformer2DModel>? Attentions { get; }
    public ModuleList<Downsample2D>? Downsamplers { get; }

    /// <summary>Runs the block; every output that the up path will read is appended to <paramref name="skips"/>.</summary>
    public Tensor Forward(Tensor h, Tensor activatedTemb, Tensor encoderHiddenStates, List<Tensor> skips)
    {
        for (int i = 0; i < Resnets.Count; i++)
        {
            h = Resnets[i].Forward(h, activatedTemb);
            if (Attentions is not null)
            {
                using var resnetOut = h;
                h = Attentions[i].Forward(resnetOut, encoderHiddenStates);
            }
            skips.Add(h);
        }
        if (Downsamplers is not null)
        {
            h = Downsamplers[0].Forward(h);
            skips.Add(h);
        }
        return h;
    }
}

/// <summary>diffusers' UNetMidBlock2DCrossAttn: resnet, then (transformer, resnet) per layer.</summary>
[PatchParallel]
public sealed partial class UNetMidBlock2DCrossAttn : Module
{
    public UNetMidBlock2DCrossAttn(UNetConfig config)
    {
        int channels = config.BlockOutChannels[^1], heads = config.AttentionHeads[^1];
        Attentions = new ModuleList<Transformer2DModel>(
            new Transformer2DModel(heads, channels / heads, channels, config.TransformerLayersPerBlock[^1], config.CrossAttentionDim[^1], config.NormNumGroups, config.UseLinearProjection));
        Resnets = new ModuleList<ResnetBlock2D>(Enumerable.Range(0, 2).Select(_ =>
            new ResnetBlock2D(channels, channels, config.TimeEmbedDim, config.NormNumGroups, config.NormEps, config.MidBlockScaleFactor)));
    }

    public ModuleList<Transformer2DModel> Attentions { get; }
    public ModuleList<ResnetBlock2D> Resnets { get; }

    public Tensor Forward(Tensor h, Tensor activatedTemb, Tensor encoderHiddenStates)
    {
        h = Resnets[0].Forward(h, activatedTemb);
        for (int i = 0; i < Attentions.Count; i++)
        {
            using (var input = h) h = Attentions[i].Forward(input, encoderHiddenStates);
            using (var input = h) h = Resnets[i + 1].Forward(input, activatedTemb);
        }
        return h;
    }
}

/// <summary>
/// An up block: diffusers' UpBlock2D, or CrossAttnUpBlock2D when it has attentions; each resnet reads
/// the running output concatenated with one skip, and an optional upsampler follows.
/// </summary>
[PatchParallel]
public sealed partial class UNetUpBlock : Module
{
    public UNetUpBlock(UNetConfig config, int index)
    {
        var reversed = config.BlockOutChannels.Reverse().ToArray();
        int n = reversed.Length;
        int outChannels = reversed[index];
        int prevOutChannels = reversed[Math.Max(0, index - 1)];
        int inChannels = reversed[Math.Min(index + 1, n - 1)];
        int layers = config.LayersPerBlock.Reverse().ToArray()[index] + 1;
        bool crossAttention = config.UpBlockTypes[index] == "CrossAttnUpBlock2D";
        Resnets = new ModuleList<ResnetBlock2D>(Enumerable.Range(0, layers).Select(i =>
        {
            int skipChannels = i == layers - 1 ? inChannels : outChannels;
            int resnetIn = i == 0 ? prevOutChannels : outChannels;
            return new ResnetBlock2D(resnetIn + skipChannels, outChannels, config.TimeEmbedDim, config.NormNumGroups, config.NormEps);
        }));
        if (crossAttention)
        {
            int heads = config.AttentionHeads.Reverse().ToArray()[index];
            int crossDim = config.CrossAttentionDim.Reverse().ToArray()[index];
            int depth = config.ReverseTransformerLayersPerBlock[index];
            Attentions = new ModuleList<Transformer2DModel>(Enumerable.Range(0, layers).Select(_ =>
                new Transformer2DModel(heads, outChannels / heads, outChannels, depth, crossDim, config.NormNumGroups, config.UseLinearProjection)));
        }
        if (index < n - 1) Upsamplers = new ModuleList<Upsample2D>(new Upsample2D(outChannels));
    }

    public ModuleList<ResnetBlock2D> Resnets { get; }
    public ModuleList<Transformer2DModel>? Attentions { get; }
    public ModuleList<Upsample2D>? Upsamplers { get; }

    /// <summary>Consumes one skip per resnet from the end of <paramref name="skips"/>; <paramref name="upsampleSize"/> as diffusers' forward_upsample_size.</summary>
    public Tensor Forward(Tensor h, Tensor activatedTemb, Tensor encoderHiddenStates, List<Tensor> skips, (int, int)? upsampleSize)
    {
        for (int i = 0; i < Resnets.Count; i++)
        {
            var skip = skips[^1];
            skips.RemoveAt(skips.Count - 1);
            using (var input = h)
            using (skip)
            using (var joined = Ops.ConcatChannels(input, skip))
                h = Resnets[i].Forward(joined, activatedTemb);
            if (Attentions is not null)
                using (var input = h) h = Attentions[i].Forward(input, encoderHiddenStates);
        }
        if (Upsamplers is not null)
            using (var input = h) h = Upsamplers[0].Forward(input, upsampleSize);
        return h;
    }
}

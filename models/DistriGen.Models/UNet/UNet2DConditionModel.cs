using DistriGen.Runtime;
using DistriGen.Tensors;
using DistriGen.Tensors.Devices;
using DistriGen.Tensors.Nn;
using DistriGen.Tensors.Ops;

namespace DistriGen.Models;

/// <summary>
/// diffusers' UNet2DConditionModel for the Stable Diffusion 1.x/2.x and SDXL families, with the same
/// parameter names and numbers. Its patch-parallel variant (ToPatchParallel) takes the full latent on
/// every rank and returns this rank's band of the prediction.
/// </summary>
[PatchParallel]
public sealed partial class UNet2DConditionModel : Module
{
    public UNet2DConditionModel(UNetConfig config)
    {
        Config = config;
        int c0 = config.BlockOutChannels[0];
        ConvIn = new Conv2d(config.InChannels, c0, 3, padding: 1);
        TimeEmbedding = new TimestepEmbedding(c0, config.TimeEmbedDim);
        if (config.IsSdxl) AddEmbedding = new TimestepEmbedding(config.ProjectionClassEmbeddingsInputDim!.Value, config.TimeEmbedDim);
        var down = new List<UNetDownBlock>();
        int channels = c0;
        for (int i = 0; i < config.DownBlockTypes.Length; i++)
        {
            down.Add(new UNetDownBlock(config, i, channels));
            channels = config.BlockOutChannels[i];
        }
        DownBlocks = new ModuleList<UNetDownBlock>(down);
        MidBlock = new UNetMidBlock2DCrossAttn(config);
        UpBlocks = new ModuleList<UNetUpBlock>(Enumerable.Range(0, config.UpBlockTypes.Length).Select(i => new UNetUpBlock(config, i)));
        ConvNormOut = new GroupNorm(config.NormNumGroups, c0, config.NormEps);
        ConvOut = new Conv2d(c0, config.OutChannels, 3, padding: 1);
    }

    public UNetConfig Config { get; }

    [SplitsInput]
    public Conv2d ConvIn { get; }

    public TimestepEmbedding TimeEmbedding { get; }
    public TimestepEmbedding? AddEmbedding { get; }
    public ModuleList<UNetDownBlock> DownBlocks { get; }
    public UNetMidBlock2DCrossAttn MidBlock { get; }
    public ModuleList<UNetUpBlock> UpBlocks { get; }
    public GroupNorm ConvNormOut { get; }
    public Conv2d ConvOut { get; }

    /// <param name="sample">(B, in_channels, H, W); the full latent also for the patch-parallel variant.</param>
    /// <param name="timestep">The diffusion timestep, the same for the whole batch.</param>
    /// <param name="encoderHiddenStates">(B, tokens, cross_attention_dim).</param>
    /// <param name="textEmbeds">SDXL: pooled text embeddings (B, p).</param>
    /// <param name="timeIds">SDXL: (B, 6) size and crop conditioning.</param>
    public Tensor Forward(Tensor sample, float timestep, Tensor encoderHiddenStates, Tensor? textEmbeds = null, Tensor? timeIds = null)
    {
        // Tensors made here (the timestep embedding) go where the sample is.
        using var onDevice = Device.Use(sample.Device);
        int batch = sample.Dim(0);
        if (encoderHiddenStates.Dim(0) != batch)
            throw new ArgumentException($"encoder_hidden_states has batch {encoderHiddenStates.Dim(0)} but the sample has {batch}.");
        using var activatedTemb = TimeEmbeddingFor(batch, timestep, textEmbeds, timeIds);

        var skips = new List<Tensor>();
        var h = ConvIn.Forward(sample);
        skips.Add(h);
        foreach (var block in DownBlocks) h = block.Forward(h, activatedTemb, encoderHiddenStates, skips);
        h = MidBlock.Forward(h, activatedTemb, encoderHiddenStates);

        // As diffusers: when the sample is not divisible by the total upsampling, each upsampler
        // targets the size of the skip it will be joined with.
        int factor = 1 << UpBlocks.Count(b => b.Upsamplers is not null);
        bool explicitSizes = sample.Dim(2) % factor != 0 || sample.Dim(3) % factor != 0;
        for (int i = 0; i < UpBlocks.Count; i++)
        {
            var block = UpBlocks[i];
            (int, int)? size = null;
            if (explicitSizes && block.Upsamplers is not null)
            {
                var next = skips[skips.Count - 1 - block.Resnets.Count];
                size = (next.Dim(2), next.Dim(3));
            }
            h = block.Forward(h, activatedTemb, encoderHiddenStates, skips, size);
        }
        using (h)
        using (var normed = ConvNormOut.Forward(h, Activation.Silu))
            return ConvOut.Forward(normed);
    }

    /// <summary>SiLU(time embedding [+ SDXL text_time embedding]), (B, time_embed_dim).</summary>
    private Tensor TimeEmbeddingFor(int batch, float timestep, Tensor? textEmbeds, Tensor? timeIds)
    {
        var steps = Enumerable.Repeat(timestep, batch).ToArray();
        using var projected = Ops.TimestepEmbedding(steps, Config.BlockOutChannels[0], Config.FlipSinToCos, Config.FreqShift);
        var temb = TimeEmbedding.Forward(projected);
        if (AddEmbedding is not null)
        {
            if (textEmbeds is null || timeIds is null)
                throw new ArgumentException("This is an SDXL-type UNet (addition_embed_type 'text_time'): it needs text_embeds and time_ids.");
            int dim = Config.AdditionTimeEmbedDim!.Value;
            using var ids = Ops.TimestepEmbedding(timeIds, dim, Config.FlipSinToCos, Config.FreqShift);
            using var timeEmbeds = ids.Reshape(batch, -1);
            using var joined = Ops.ConcatColumns(textEmbeds, timeEmbeds);
            using var aug = AddEmbedding.Forward(joined);
            Ops.AddInPlace(temb, aug);
        }
        using (temb) return Ops.Silu(temb);
    }
}

namespace DistriGen.Models.Configuration;

/// <summary>
/// A diffusers UNet2DConditionModel config, with per-block lists expanded. Note diffusers' legacy
/// naming: "attention_head_dim" is the number of heads per block; each head has channels/heads dims.
/// </summary>
public sealed record UNetConfig
{
    public int InChannels { get; init; } = 4;
    public int OutChannels { get; init; } = 4;
    public bool FlipSinToCos { get; init; } = true;
    public int FreqShift { get; init; }
    public string[] DownBlockTypes { get; init; } = [];
    public string[] UpBlockTypes { get; init; } = [];
    public int[] BlockOutChannels { get; init; } = [];
    public int[] LayersPerBlock { get; init; } = [];
    public int DownsamplePadding { get; init; } = 1;
    public float MidBlockScaleFactor { get; init; } = 1;
    public int NormNumGroups { get; init; } = 32;
    public float NormEps { get; init; } = 1e-5f;
    public int[] CrossAttentionDim { get; init; } = [];
    public int[] TransformerLayersPerBlock { get; init; } = [];
    public int[] ReverseTransformerLayersPerBlock { get; init; } = [];
    public int[] AttentionHeads { get; init; } = [];
    public bool UseLinearProjection { get; init; }
    public int? AdditionTimeEmbedDim { get; init; }
    public int? ProjectionClassEmbeddingsInputDim { get; init; }
    public int TimeEmbedDim { get; init; }
    public int SampleSize { get; init; } = 64;

    public bool IsSdxl => AdditionTimeEmbedDim is not null;

    /// <summary>How much the UNet downsamples in total (2 per downsampling block): band heights are cut at this granularity.</summary>
    public int Downsampling => 1 << (DownBlockTypes.Length - 1);

    public static UNetConfig Load(string path) => Parse(ConfigReader.FromFile(path));

    public static UNetConfig FromJson(string json, string name = "unet/config.json") => Parse(new ConfigReader(name, json));

    internal static UNetConfig Parse(ConfigReader r)
    {
        var down = r.StringList("down_block_types");
        var up = r.StringList("up_block_types");
        int n = down.Length;
        foreach (var t in down)
            if (t is not ("DownBlock2D" or "CrossAttnDownBlock2D"))
                throw new ModelConfigException(r.File, $"down block type '{t}' is not supported (supported: DownBlock2D, CrossAttnDownBlock2D).");
        foreach (var t in up)
            if (t is not ("UpBlock2D" or "CrossAttnUpBlock2D"))
                throw new ModelConfigException(r.File, $"up block type '{t}' is not supported (supported: UpBlock2D, CrossAttnUpBlock2D).");
        if (up.Length != n) throw new ModelConfigException(r.File, $"{n} down blocks but {up.Length} up blocks.");

        var channels = r.IntList("block_out_channels", n);
        if (r.Has("num_attention_heads"))
            throw new ModelConfigException(r.File, "'num_attention_heads' is not supported by diffusers' UNet2DConditionModel either; give the heads per block as 'attention_head_dim'.");
        r.Require("num_attention_heads", [null]);
        var heads = r.IntList("attention_head_dim", n, 8);
        var transformerLayers = r.IntList("transformer_layers_per_block", n, 1);
        var reverse = r.Has("reverse_transformer_layers_per_block") ? r.IntList("reverse_transformer_layers_per_block", n) : transformerLayers.Reverse().ToArray();
        if (!r.Has("reverse_transformer_layers_per_block")) r.Require("reverse_transformer_layers_per_block", [null]);

        r.Require("act_fn", "silu");
        r.Require("center_input_sample", false);
        r.Require("mid_block_type", "UNetMidBlock2DCrossAttn");
        r.Require("only_cross_attention", false);
        r.Require("mid_block_only_cross_attention", null, false);
        r.Require("dropout", 0.0);
        r.Require("encoder_hid_dim", [null]);
        r.Require("encoder_hid_dim_type", [null]);
        r.Require("dual_cross_attention", false);
        r.Require("class_embed_type", [null]);
        r.Require("num_class_embeds", [null]);
        r.Require("class_embeddings_concat", false);
        r.Require("upcast_attention", false, null);
        r.Require("resnet_time_scale_shift", "default");
        r.Require("resnet_skip_time_act", false);
        r.Require("resnet_out_scale_factor", 1.0);
        r.Require("time_embedding_type", "positional");
        r.Require("time_embedding_act_fn", [null]);
        r.Require("timestep_post_act", [null]);
        r.Require("time_cond_proj_dim", [null]);
        r.Require("conv_in_kernel", 3);
        r.Require("conv_out_kernel", 3);
        r.Require("attention_type", "default");
        r.Require("cross_attention_norm", [null]);
        r.Require("addition_embed_type_num_heads", 64, null);
        var addition = r.OptionalString("addition_embed_type");
        if (addition is not (null or "text_time"))
            throw new ModelConfigException(r.File, $"'addition_embed_type' = \"{addition}\" is not supported (supported: null, \"text_time\").");
        int? addTimeDim = r.OptionalInt("addition_time_embed_dim");
        int? projectionDim = r.OptionalInt("projection_class_embeddings_input_dim");
        if (addition == "text_time" && (addTimeDim is null || projectionDim is null))
            throw new ModelConfigException(r.File, "'text_time' needs 'addition_time_embed_dim' and 'projection_class_embeddings_input_dim'.");

        int? timeEmbedDim = r.OptionalInt("time_embedding_dim");
        var config = new UNetConfig
        {
            InChannels = r.Int("in_channels", 4),
            OutChannels = r.Int("out_channels", 4),
            FlipSinToCos = r.Bool("flip_sin_to_cos", true),
            FreqShift = r.Int("freq_shift", 0),
            DownBlockTypes = down,
            UpBlockTypes = up,
            BlockOutChannels = channels,
            LayersPerBlock = r.IntList("layers_per_block", n, 2),
            DownsamplePadding = r.Int("downsample_padding", 1),
            MidBlockScaleFactor = (float)r.Double("mid_block_scale_factor", 1),
            NormNumGroups = r.Int("norm_num_groups", 32),
            NormEps = (float)r.Double("norm_eps", 1e-5),
            CrossAttentionDim = r.IntList("cross_attention_dim", n, 1280),
            TransformerLayersPerBlock = transformerLayers,
            ReverseTransformerLayersPerBlock = reverse,
            AttentionHeads = heads,
            UseLinearProjection = r.Bool("use_linear_projection", false),
            AdditionTimeEmbedDim = addition == "text_time" ? addTimeDim : null,
            ProjectionClassEmbeddingsInputDim = addition == "text_time" ? projectionDim : null,
            TimeEmbedDim = timeEmbedDim ?? channels[0] * 4,
            SampleSize = r.OptionalInt("sample_size") ?? 64,
        };
        if (config.DownsamplePadding != 1)
            throw new ModelConfigException(r.File, $"'downsample_padding' = {config.DownsamplePadding} is not supported (supported: 1).");
        r.RejectUnknown();
        Validate(r, config);
        return config;
    }

    /// <summary>Values that would fail later as an index, a division by zero or a non-finite run are errors naming the key.</summary>
    private static void Validate(ConfigReader r, UNetConfig c)
    {
        if (c.DownBlockTypes.Length == 0) throw new ModelConfigException(r.File, "'down_block_types' is empty: a UNet has at least one block.");
        r.AtLeast("in_channels", 1, c.InChannels);
        r.AtLeast("out_channels", 1, c.OutChannels);
        r.AtLeast("block_out_channels", 1, c.BlockOutChannels);
        r.AtLeast("layers_per_block", 1, c.LayersPerBlock);
        r.AtLeast("norm_num_groups", 1, c.NormNumGroups);
        r.AtLeast("cross_attention_dim", 1, c.CrossAttentionDim);
        r.AtLeast("transformer_layers_per_block", 1, c.TransformerLayersPerBlock);
        r.AtLeast("reverse_transformer_layers_per_block", 1, c.ReverseTransformerLayersPerBlock);
        r.AtLeast("attention_head_dim", 1, c.AttentionHeads);
        r.AtLeast("time_embedding_dim", 2, c.TimeEmbedDim);
        r.AtLeast("sample_size", 1, c.SampleSize);
        r.Divides("norm_num_groups", [c.NormNumGroups], "block_out_channels", c.BlockOutChannels);
        r.Divides("attention_head_dim", c.AttentionHeads, "block_out_channels", c.BlockOutChannels);
        r.PositiveEpsilon("norm_eps", c.NormEps);
        if (c.BlockOutChannels[0] < 2 || c.BlockOutChannels[0] % 2 != 0)
            throw new ModelConfigException(r.File, $"'block_out_channels'[0] = {c.BlockOutChannels[0]} must be even: it is also the width of the sinusoidal timestep embedding.");
        if (!float.IsFinite(c.MidBlockScaleFactor) || c.MidBlockScaleFactor == 0)
            throw new ModelConfigException(r.File, $"'mid_block_scale_factor' = {c.MidBlockScaleFactor} must be a finite, nonzero number (the mid block divides by it).");
        if (c.AdditionTimeEmbedDim is { } t)
        {
            r.AtLeast("addition_time_embed_dim", 2, t);
            if (c.ProjectionClassEmbeddingsInputDim!.Value <= 6 * t)
                throw new ModelConfigException(r.File, $"'projection_class_embeddings_input_dim' = {c.ProjectionClassEmbeddingsInputDim} leaves no room for the pooled text embedding " +
                    $"next to the 6 time ids × 'addition_time_embed_dim' = {6 * t}.");
        }
    }

    /// <summary>Stable Diffusion 1.5's UNet (860 M parameters).</summary>
    public static UNetConfig StableDiffusion15 { get; } = new()
    {
        DownBlockTypes = ["CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D", "DownBlock2D"],
        UpBlockTypes = ["UpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "CrossAttnUpBlock2D"],
        BlockOutChannels = [320, 640, 1280, 1280],
        LayersPerBlock = [2, 2, 2, 2],
        CrossAttentionDim = [768, 768, 768, 768],
        TransformerLayersPerBlock = [1, 1, 1, 1],
        ReverseTransformerLayersPerBlock = [1, 1, 1, 1],
        AttentionHeads = [8, 8, 8, 8],
        TimeEmbedDim = 1280,
    };

    /// <summary>Stable Diffusion XL's base UNet (2.6 G parameters).</summary>
    public static UNetConfig StableDiffusionXl { get; } = new()
    {
        DownBlockTypes = ["DownBlock2D", "CrossAttnDownBlock2D", "CrossAttnDownBlock2D"],
        UpBlockTypes = ["CrossAttnUpBlock2D", "CrossAttnUpBlock2D", "UpBlock2D"],
        BlockOutChannels = [320, 640, 1280],
        LayersPerBlock = [2, 2, 2],
        CrossAttentionDim = [2048, 2048, 2048],
        TransformerLayersPerBlock = [1, 2, 10],
        ReverseTransformerLayersPerBlock = [10, 2, 1],
        AttentionHeads = [5, 10, 20],
        UseLinearProjection = true,
        AdditionTimeEmbedDim = 256,
        ProjectionClassEmbeddingsInputDim = 2816,
        TimeEmbedDim = 1280,
        SampleSize = 128,
    };
}

namespace DistriGen.Models.Configuration;

/// <summary>A diffusers AutoencoderKL config (the decoder is what generation uses).</summary>
public sealed record VaeConfig
{
    public int InChannels { get; init; } = 3;
    public int OutChannels { get; init; } = 3;
    public int LatentChannels { get; init; } = 4;
    public int[] BlockOutChannels { get; init; } = [128, 256, 512, 512];
    public int LayersPerBlock { get; init; } = 2;
    public int NormNumGroups { get; init; } = 32;
    public float ScalingFactor { get; init; } = 0.18215f;

    /// <summary>Image pixels per latent pixel: 2^(levels − 1), as the diffusers pipelines compute it.</summary>
    public int ScaleFactor => 1 << (BlockOutChannels.Length - 1);

    public static VaeConfig Load(string path)
    {
        var r = ConfigReader.FromFile(path);
        int levels = r.IntList("block_out_channels", -1).Length;
        foreach (var t in r.StringList("up_block_types"))
            if (t != "UpDecoderBlock2D") throw new ModelConfigException(r.File, $"up block type '{t}' is not supported (supported: UpDecoderBlock2D).");
        if (r.Has("down_block_types")) r.StringList("down_block_types");
        r.Require("act_fn", "silu");
        r.Require("force_upcast", true, false);
        r.OptionalInt("sample_size");
        r.Require("latents_mean", [null]);
        r.Require("latents_std", [null]);
        var config = new VaeConfig
        {
            InChannels = r.Int("in_channels", 3),
            OutChannels = r.Int("out_channels", 3),
            LatentChannels = r.Int("latent_channels", 4),
            BlockOutChannels = r.IntList("block_out_channels", levels),
            LayersPerBlock = r.Int("layers_per_block", 1),
            NormNumGroups = r.Int("norm_num_groups", 32),
            ScalingFactor = (float)r.Double("scaling_factor", 0.18215),
        };
        r.RejectUnknown();
        if (config.BlockOutChannels.Length == 0) throw new ModelConfigException(r.File, "'block_out_channels' is empty.");
        r.AtLeast("block_out_channels", 1, config.BlockOutChannels);
        r.AtLeast("layers_per_block", 1, config.LayersPerBlock);
        r.AtLeast("norm_num_groups", 1, config.NormNumGroups);
        r.AtLeast("latent_channels", 1, config.LatentChannels);
        r.AtLeast("out_channels", 1, config.OutChannels);
        r.Divides("norm_num_groups", [config.NormNumGroups], "block_out_channels", config.BlockOutChannels);
        if (!(config.ScalingFactor > 0) || !float.IsFinite(config.ScalingFactor))
            throw new ModelConfigException(r.File, $"'scaling_factor' = {config.ScalingFactor} must be a positive number: the latents are divided by it before decoding, so the image would be non-finite at the decode step.");
        return config;
    }

    /// <summary>Stable Diffusion's VAE (also SDXL's, with scaling factor 0.13025).</summary>
    public static VaeConfig StableDiffusion { get; } = new();
}

namespace DistriGen.Models.Checkpoints;

/// <summary>The model families whose original single-file layout DistriGen reads.</summary>
public enum CheckpointFamily
{
    /// <summary>SD 1.x: OpenAI CLIP ViT-L, 768-wide cross-attention.</summary>
    StableDiffusion1,
    /// <summary>SD 2.x: OpenCLIP ViT-H, 1024-wide cross-attention, v-prediction at 768² by default.</summary>
    StableDiffusion2,
    /// <summary>
    /// SDXL base: CLIP ViT-L and OpenCLIP ViT-bigG, 2048-wide cross-attention, size and crop conditioning.
    /// </summary>
    StableDiffusionXl,
}

/// <summary>
/// Which family a single-file checkpoint is, from its keys (as diffusers 0.24 decides it, text encoders first).
/// </summary>
public static class CheckpointFamilies
{
    private const string Sd2Probe = LdmUnetNames.Prefix + "input_blocks.2.1.transformer_blocks.0.attn2.to_k.weight";

    /// <summary>The family, or an error saying which keys a Stable Diffusion checkpoint has.</summary>
    public static CheckpointFamily Detect(IReadOnlyCollection<string> keys, Func<string, int[]> shapeOf, string path)
    {
        bool Any(string prefix) => keys.Any(k => k.StartsWith(prefix, StringComparison.Ordinal));
        if (!Any(LdmUnetNames.Prefix))
            throw new InvalidDataException(
                $"{path} is not a Stable Diffusion checkpoint in the original layout: it has no '{LdmUnetNames.Prefix}*' keys (the UNet); " +
                $"expected those, '{LdmVaeNames.Prefix}*' (the VAE) and '{LdmClipNames.StableDiffusion1}*', '{LdmClipNames.StableDiffusion2}*' " +
                $"or 'conditioner.embedders.*' (the text encoders). It has: {string.Join(", ", keys.Take(5))}{(keys.Count > 5 ? ", …" : "")}.");
        if (Any(LdmClipNames.StableDiffusionXl2)) return CheckpointFamily.StableDiffusionXl;
        if (Any("conditioner.embedders.0.model."))
            throw new NotSupportedException($"{path} is an SDXL refiner (one OpenCLIP encoder under conditioner.embedders.0); only SDXL base is supported.");
        if (Any(LdmClipNames.StableDiffusion2)) return CheckpointFamily.StableDiffusion2;
        if (Any(LdmClipNames.StableDiffusion1)) return CheckpointFamily.StableDiffusion1;
        // Without text encoders, as diffusers: SDXL has the size conditioning, SD 2 a 1024-wide cross-attention.
        if (keys.Contains(LdmUnetNames.Prefix + "label_emb.0.0.weight")) return CheckpointFamily.StableDiffusionXl;
        return keys.Contains(Sd2Probe) && shapeOf(Sd2Probe)[^1] == 1024 ? CheckpointFamily.StableDiffusion2 : CheckpointFamily.StableDiffusion1;
    }

    /// <summary>A name for messages: "SD 1.x".</summary>
    public static string Describe(this CheckpointFamily family) => family switch
    {
        CheckpointFamily.StableDiffusion1 => "SD 1.x",
        CheckpointFamily.StableDiffusion2 => "SD 2.x",
        _ => "SDXL base",
    };
}

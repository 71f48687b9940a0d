namespace DistriGen.Models.Text;

/// <summary>
/// A transformers CLIPTextConfig (text_encoder/config.json): the sizes of the text transformer, its
/// activation, and which pooling and projection it has. Generic transformers keys (dtype, version,
/// dropout, init ranges) do not change inference and are accepted as they are; keys that would change
/// the numbers are checked.
/// </summary>
public sealed record ClipTextConfig
{
    public int VocabSize { get; init; } = 49408;
    public int HiddenSize { get; init; } = 768;
    public int IntermediateSize { get; init; } = 3072;
    public int Layers { get; init; } = 12;
    public int Heads { get; init; } = 12;
    public int MaxPositions { get; init; } = 77;
    public string HiddenAct { get; init; } = "quick_gelu";
    public float LayerNormEps { get; init; } = 1e-5f;
    public int EosTokenId { get; init; } = 2;

    /// <summary>The width of text_projection for CLIPTextModelWithProjection; null for CLIPTextModel.</summary>
    public int? ProjectionDim { get; init; }

    /// <summary>OpenAI's CLIP ViT-L/14 text tower: Stable Diffusion 1.x's encoder and SDXL's first one.</summary>
    public static ClipTextConfig ClipL { get; } = new() { HiddenSize = 768, IntermediateSize = 3072, Layers = 12, Heads = 12, HiddenAct = "quick_gelu" };

    /// <summary>OpenCLIP ViT-H/14 as Stable Diffusion 2.x uses it: 23 of its 24 layers (the penultimate output).</summary>
    public static ClipTextConfig OpenClipH { get; } = new() { HiddenSize = 1024, IntermediateSize = 4096, Layers = 23, Heads = 16, HiddenAct = "gelu" };

    /// <summary>OpenCLIP ViT-bigG/14 with its projection: SDXL's second encoder.</summary>
    public static ClipTextConfig OpenClipBigG { get; } =
        new() { HiddenSize = 1280, IntermediateSize = 5120, Layers = 32, Heads = 20, HiddenAct = "gelu", ProjectionDim = 1280 };

    public static ClipTextConfig Load(string path)
    {
        var r = ConfigReader.FromFile(path);
        var architecture = r.Has("architectures") ? r.StringList("architectures") : ["CLIPTextModel"];
        bool projection = architecture.Contains("CLIPTextModelWithProjection");
        if (!projection && !architecture.Contains("CLIPTextModel"))
            throw new ModelConfigException(r.File, $"'architectures' = [{string.Join(", ", architecture)}] is not a CLIP text encoder " +
                "(supported: CLIPTextModel, CLIPTextModelWithProjection).");
        r.Require("model_type", "clip_text_model");
        var config = new ClipTextConfig
        {
            VocabSize = r.Int("vocab_size", 49408),
            HiddenSize = r.Int("hidden_size", 512),
            IntermediateSize = r.Int("intermediate_size", 2048),
            Layers = r.Int("num_hidden_layers", 12),
            Heads = r.Int("num_attention_heads", 8),
            MaxPositions = r.Int("max_position_embeddings", 77),
            HiddenAct = r.String("hidden_act", "quick_gelu"),
            LayerNormEps = (float)r.Double("layer_norm_eps", 1e-5),
            EosTokenId = r.Int("eos_token_id", 2),
            ProjectionDim = projection ? r.Int("projection_dim", 512) : null,
        };
        if (config.HiddenAct is not ("quick_gelu" or "gelu"))
            throw new ModelConfigException(r.File, $"'hidden_act' = \"{config.HiddenAct}\" is not supported (supported: \"quick_gelu\", \"gelu\").");
        r.AtLeast("vocab_size", 1, config.VocabSize);
        r.AtLeast("hidden_size", 1, config.HiddenSize);
        r.AtLeast("intermediate_size", 1, config.IntermediateSize);
        r.AtLeast("num_hidden_layers", 1, config.Layers);
        r.AtLeast("num_attention_heads", 1, config.Heads);
        r.AtLeast("max_position_embeddings", 1, config.MaxPositions);
        r.Divides("num_attention_heads", [config.Heads], "hidden_size", [config.HiddenSize]);
        r.PositiveEpsilon("layer_norm_eps", config.LayerNormEps);
        return config;
    }
}

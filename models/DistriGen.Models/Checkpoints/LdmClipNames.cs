using System.Text.RegularExpressions;

namespace DistriGen.Models.Checkpoints;

/// <summary>
/// Where a CLIP text encoder's parameters are in an original checkpoint: the transformers layout under a
/// prefix (OpenAI CLIP, convert_ldm_clip_checkpoint), or OpenCLIP's (convert_open_clip_checkpoint):
/// resblocks with ln_1/ln_2, c_fc/c_proj, q, k and v fused in in_proj, and text_projection used as x · P.
/// </summary>
public static partial class LdmClipNames
{
    /// <summary>OpenAI CLIP as SD 1.x stores it.</summary>
    public const string StableDiffusion1 = "cond_stage_model.transformer.";
    /// <summary>OpenCLIP ViT-H as SD 2.x stores it.</summary>
    public const string StableDiffusion2 = "cond_stage_model.model.";
    /// <summary>SDXL's first encoder (OpenAI CLIP).</summary>
    public const string StableDiffusionXl1 = "conditioner.embedders.0.transformer.";
    /// <summary>SDXL's second encoder (OpenCLIP ViT-bigG).</summary>
    public const string StableDiffusionXl2 = "conditioner.embedders.1.model.";

    /// <summary>OpenAI CLIP: the transformers names under <paramref name="prefix"/>.</summary>
    public static Dictionary<string, KeyMapping> OpenAi(IEnumerable<string> parameterNames, string prefix) =>
        parameterNames.ToDictionary(n => n, n => new KeyMapping(prefix + n), StringComparer.Ordinal);

    /// <summary>OpenCLIP under <paramref name="prefix"/>, for a model of width <paramref name="width"/>.</summary>
    public static Dictionary<string, KeyMapping> OpenClip(IEnumerable<string> parameterNames, string prefix, int width)
    {
        var map = new Dictionary<string, KeyMapping>(StringComparer.Ordinal);
        foreach (var name in parameterNames)
        {
            map[name] = name switch
            {
                "text_model.embeddings.token_embedding.weight" => new KeyMapping(prefix + "token_embedding.weight"),
                "text_model.embeddings.position_embedding.weight" => new KeyMapping(prefix + "positional_embedding"),
                "text_model.final_layer_norm.weight" => new KeyMapping(prefix + "ln_final.weight"),
                "text_model.final_layer_norm.bias" => new KeyMapping(prefix + "ln_final.bias"),
                "text_projection.weight" => new KeyMapping(prefix + "text_projection", StoredAs.Transposed),
                _ => Layer(name, prefix, width),
            };
        }
        return map;
    }

    private static KeyMapping Layer(string name, string prefix, int width)
    {
        var m = LayerName().Match(name);
        if (!m.Success) throw new InvalidOperationException($"No OpenCLIP name is known for the text encoder parameter '{name}'.");
        string block = $"{prefix}transformer.resblocks.{m.Groups[1].Value}.", part = m.Groups[2].Value, kind = m.Groups[3].Value;
        return part switch
        {
            "self_attn.q_proj" or "self_attn.k_proj" or "self_attn.v_proj" =>
                new KeyMapping(block + (kind == "weight" ? "attn.in_proj_weight" : "attn.in_proj_bias"), StoredAs.Rows,
                    width * ("qkv".IndexOf(part[10]) ), width),
            "self_attn.out_proj" => new KeyMapping($"{block}attn.out_proj.{kind}"),
            "layer_norm1" => new KeyMapping($"{block}ln_1.{kind}"),
            "layer_norm2" => new KeyMapping($"{block}ln_2.{kind}"),
            "mlp.fc1" => new KeyMapping($"{block}mlp.c_fc.{kind}"),
            "mlp.fc2" => new KeyMapping($"{block}mlp.c_proj.{kind}"),
            _ => throw new InvalidOperationException($"No OpenCLIP name is known for the text encoder parameter '{name}'."),
        };
    }

    [GeneratedRegex(@"^text_model\.encoder\.layers\.(\d+)\.(.+)\.(weight|bias)$")]
    private static partial Regex LayerName();
}

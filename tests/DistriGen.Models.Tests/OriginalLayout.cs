using DistriGen.Models.Configuration;
using DistriGen.Tensors;
using DistriGen.Tensors.IO;
using DistriGen.Tensors.Ops;

namespace DistriGen.Models.Tests;

/// <summary>
/// Writes diffusers weights in the original Stable Diffusion layout the way diffusers'
/// scripts/convert_diffusers_to_original_stable_diffusion.py (and its SDXL twin) do — string replacements
/// over prefix tables — with the tables built for a config's block counts instead of SD 1.5's. Kept apart
/// from the loader's own mapping, so each checks the other.
/// </summary>
internal static class OriginalLayout
{
    private static readonly (string Sd, string Hf)[] UnetFixed =
    [
        ("time_embed.0.", "time_embedding.linear_1."), ("time_embed.2.", "time_embedding.linear_2."),
        ("label_emb.0.0.", "add_embedding.linear_1."), ("label_emb.0.2.", "add_embedding.linear_2."),
        ("input_blocks.0.0.", "conv_in."), ("out.0.", "conv_norm_out."), ("out.2.", "conv_out."),
    ];

    private static readonly (string Sd, string Hf)[] UnetResnet =
    [
        ("in_layers.0", "norm1"), ("in_layers.2", "conv1"), ("out_layers.0", "norm2"), ("out_layers.3", "conv2"),
        ("emb_layers.1", "time_emb_proj"), ("skip_connection", "conv_shortcut"),
    ];

    /// <summary>model.diffusion_model.* names for a diffusers UNet state dict.</summary>
    public static Dictionary<string, Tensor> UNet(IReadOnlyDictionary<string, Tensor> unet, UNetConfig config)
    {
        var layers = new List<(string Sd, string Hf)>();
        int n = config.BlockOutChannels.Length;
        for (int i = 0; i < n; i++)
        {
            int l = config.LayersPerBlock[i], up = config.LayersPerBlock[n - 1 - i] + 1, stride = l + 1;
            for (int j = 0; j < l; j++)
            {
                layers.Add(($"input_blocks.{stride * i + j + 1}.0.", $"down_blocks.{i}.resnets.{j}."));
                if (config.DownBlockTypes[i].StartsWith("CrossAttn", StringComparison.Ordinal))
                    layers.Add(($"input_blocks.{stride * i + j + 1}.1.", $"down_blocks.{i}.attentions.{j}."));
            }
            for (int j = 0; j < up; j++)
            {
                layers.Add(($"output_blocks.{up * i + j}.0.", $"up_blocks.{i}.resnets.{j}."));
                if (config.UpBlockTypes[i].StartsWith("CrossAttn", StringComparison.Ordinal))
                    layers.Add(($"output_blocks.{up * i + j}.1.", $"up_blocks.{i}.attentions.{j}."));
            }
            if (i < n - 1)
            {
                layers.Add(($"input_blocks.{stride * (i + 1)}.0.op.", $"down_blocks.{i}.downsamplers.0.conv."));
                bool attention = config.UpBlockTypes[i].StartsWith("CrossAttn", StringComparison.Ordinal);
                layers.Add(($"output_blocks.{up * i + up - 1}.{(attention ? 2 : 1)}.", $"up_blocks.{i}.upsamplers.0."));
            }
        }
        layers.Add(("middle_block.1.", "mid_block.attentions.0."));
        layers.Add(("middle_block.0.", "mid_block.resnets.0."));
        layers.Add(("middle_block.2.", "mid_block.resnets.1."));
        var result = new Dictionary<string, Tensor>();
        foreach (var (key, tensor) in unet)
        {
            var name = key;
            foreach (var (sd, hf) in UnetFixed) if (name.StartsWith(hf, StringComparison.Ordinal)) name = sd + name[hf.Length..];
            if (name.Contains("resnets", StringComparison.Ordinal))
                foreach (var (sd, hf) in UnetResnet) name = name.Replace(hf, sd, StringComparison.Ordinal);
            foreach (var (sd, hf) in layers) name = name.Replace(hf, sd, StringComparison.Ordinal);
            result["model.diffusion_model." + name] = tensor;
        }
        return result;
    }

    /// <summary>
    /// first_stage_model.* names for a diffusers VAE (encoder and decoder), attention weights as 1×1 convolutions.
    /// </summary>
    public static Dictionary<string, Tensor> Vae(IReadOnlyDictionary<string, Tensor> vae, int levels, int layersPerBlock)
    {
        var map = new List<(string Sd, string Hf)> { ("nin_shortcut", "conv_shortcut"), ("norm_out", "conv_norm_out"), ("mid.attn_1.", "mid_block.attentions.0.") };
        for (int i = 0; i < levels; i++)
        {
            for (int j = 0; j < layersPerBlock; j++) map.Add(($"encoder.down.{i}.block.{j}.", $"encoder.down_blocks.{i}.resnets.{j}."));
            if (i < levels - 1)
            {
                map.Add(($"down.{i}.downsample.", $"down_blocks.{i}.downsamplers.0."));
                map.Add(($"up.{levels - 1 - i}.upsample.", $"up_blocks.{i}.upsamplers.0."));
            }
            for (int j = 0; j <= layersPerBlock; j++) map.Add(($"decoder.up.{levels - 1 - i}.block.{j}.", $"decoder.up_blocks.{i}.resnets.{j}."));
        }
        for (int i = 0; i < 2; i++) map.Add(($"mid.block_{i + 1}.", $"mid_block.resnets.{i}."));
        var result = new Dictionary<string, Tensor>();
        foreach (var (key, tensor) in vae)
        {
            var name = key;
            foreach (var (sd, hf) in map) name = name.Replace(hf, sd, StringComparison.Ordinal);
            var value = tensor;
            if (name.Contains("mid.attn_1.", StringComparison.Ordinal))
            {
                foreach (var (sd, hf) in new[] { ("norm.", "group_norm."), ("q.", "to_q."), ("k.", "to_k."), ("v.", "to_v."), ("proj_out.", "to_out.0.") })
                    name = name.Replace("mid.attn_1." + hf, "mid.attn_1." + sd, StringComparison.Ordinal);
                if (tensor.Rank == 2) value = tensor.Reshape(tensor.Dim(0), tensor.Dim(1), 1, 1);
            }
            result["first_stage_model." + name] = value;
        }
        return result;
    }

    /// <summary>
    /// OpenCLIP names (resblocks, fused in_proj, text_projection as x · P) for a transformers CLIP text encoder.
    /// </summary>
    public static Dictionary<string, Tensor> OpenClip(IReadOnlyDictionary<string, Tensor> clip, string prefix)
    {
        (string Sd, string Hf)[] renames =
        [
            ("transformer.resblocks.", "text_model.encoder.layers."), ("ln_1", "layer_norm1"), ("ln_2", "layer_norm2"),
            (".c_fc.", ".fc1."), (".c_proj.", ".fc2."), (".attn.", ".self_attn."),
        ];
        var result = new Dictionary<string, Tensor>();
        var fused = new Dictionary<string, Tensor?[]>();
        foreach (var (key, tensor) in clip)
        {
            string? special = key switch
            {
                "text_model.embeddings.token_embedding.weight" => "token_embedding.weight",
                "text_model.embeddings.position_embedding.weight" => "positional_embedding",
                "text_model.final_layer_norm.weight" => "ln_final.weight",
                "text_model.final_layer_norm.bias" => "ln_final.bias",
                _ => null,
            };
            if (special is not null)
            {
                result[prefix + special] = tensor;
                continue;
            }
            if (key == "text_projection.weight")
            {
                result[prefix + "text_projection"] = Ops.Transpose2d(tensor);
                continue;
            }
            var name = key;
            foreach (var (sd, hf) in renames) name = name.Replace(hf, sd, StringComparison.Ordinal);
            foreach (var (code, index) in new[] { ("q", 0), ("k", 1), ("v", 2) })
                foreach (var kind in new[] { "weight", "bias" })
                    if (name.EndsWith($".attn.{code}_proj.{kind}", StringComparison.Ordinal))
                    {
                        var fusedName = name[..^$".attn.{code}_proj.{kind}".Length] + $".attn.in_proj_{kind}";
                        (fused.TryGetValue(fusedName, out var parts) ? parts : fused[fusedName] = new Tensor?[3])[index] = tensor;
                        name = "";
                    }
            if (name.Length > 0) result[prefix + name] = tensor;
        }
        foreach (var (name, parts) in fused) result[prefix + name] = Ops.ConcatBatch(parts.Select(p => p!).ToList());
        return result;
    }

    /// <summary>Every tensor of a safetensors file, kept.</summary>
    public static Dictionary<string, Tensor> Read(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        return file.Keys.ToDictionary(k => k, k => file.Read(k).Keep());
    }
}

using System.Text.RegularExpressions;
using DistriGen.Models.Pipelines;
using DistriGen.Models.Text;
using DistriGen.Tensors;
using DistriGen.Tensors.IO;
using DistriGen.Tensors.Nn;

namespace DistriGen.Models.Checkpoints;

/// <summary>
/// Writes a single-file checkpoint as a diffusers folder (model_index.json, unet/, vae/ with its encoder,
/// scheduler/, text_encoder*/, tokenizer*/), so it loads without conversion next time; weights keep the
/// file's precision.
/// </summary>
public static partial class DiffusersFolderWriter
{
    public static void Convert(string checkpoint, string? configDirectory, string output)
    {
        var model = DiffusionModel.Load(checkpoint, configDirectory: configDirectory);
        var configs = configDirectory ?? BuiltInConfigs.Folder(SingleFileModel.Family(checkpoint));
        using var file = SafeTensorsFile.Open(checkpoint);
        var dtype = file.Entries.First(e => e.Name.StartsWith(LdmUnetNames.Prefix, StringComparison.Ordinal)).DType;
        if (dtype is not (SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16)) dtype = SafeTensorsDType.F32;
        Directory.CreateDirectory(output);
        foreach (var config in Directory.GetFiles(configs, "*", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(configs, config);
            if (relative.EndsWith(".safetensors", StringComparison.Ordinal) || relative.EndsWith(".bin", StringComparison.Ordinal)) continue;
            Directory.CreateDirectory(Path.GetDirectoryName(Path.Combine(output, relative))!);
            File.Copy(config, Path.Combine(output, relative), overwrite: true);
        }
        Write(Path.Combine(output, "unet", "diffusion_pytorch_model.safetensors"), Parameters(model.Unet), dtype);
        if (model.Vae is { } vae)
            Write(Path.Combine(output, "vae", "diffusion_pytorch_model.safetensors"), Parameters(vae).Concat(VaeEncoder(file)), dtype);
        if (model.TextEncoder is ClipPromptEncoder clip)
            for (int i = 0; i < clip.Towers.Count; i++)
                Write(Path.Combine(output, "text_encoder" + (i == 0 ? "" : "_2"), "model.safetensors"), Parameters(clip.Towers[i].Encoder), dtype);
    }

    private static IEnumerable<(string Name, Tensor Tensor)> Parameters(Module module) => module.NamedParameters();

    private static void Write(string path, IEnumerable<(string Name, Tensor Tensor)> tensors, SafeTensorsDType dtype)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        SafeTensorsWriter.Write(path, tensors.Select(t => new SafeTensorsItem(t.Name, t.Tensor, dtype)));
    }

    /// <summary>
    /// The VAE encoder (which generation does not load) read from the file under its diffusers names.
    /// </summary>
    private static IEnumerable<(string Name, Tensor Tensor)> VaeEncoder(SafeTensorsFile file)
    {
        foreach (var key in file.Keys.Where(k => k.StartsWith(LdmVaeNames.Prefix + "encoder.", StringComparison.Ordinal)
                     || k.StartsWith(LdmVaeNames.Prefix + "quant_conv.", StringComparison.Ordinal)).ToList())
        {
            var name = key[LdmVaeNames.Prefix.Length..]
                .Replace("nin_shortcut.", "conv_shortcut.", StringComparison.Ordinal)
                .Replace("encoder.norm_out.", "encoder.conv_norm_out.", StringComparison.Ordinal)
                .Replace("mid.block_1.", "mid_block.resnets.0.", StringComparison.Ordinal)
                .Replace("mid.block_2.", "mid_block.resnets.1.", StringComparison.Ordinal);
            name = EncoderLevel().Replace(name, m => $"encoder.down_blocks.{m.Groups[1].Value}.{(m.Groups[2].Value == "block" ? "resnets" : "downsamplers.0")}.");
            var tensor = file.Read(key);
            var attention = EncoderAttention().Match(name);
            if (attention.Success)
            {
                var part = attention.Groups[1].Value switch { "norm" => "group_norm", "q" => "to_q", "k" => "to_k", "v" => "to_v", _ => "to_out.0" };
                name = $"encoder.mid_block.attentions.0.{part}.{attention.Groups[2].Value}";
                if (tensor.Rank == 4) tensor = tensor.Reshape(tensor.Dim(0), tensor.Dim(1));
            }
            yield return (name, tensor);
        }
    }

    [GeneratedRegex(@"^encoder\.down\.(\d+)\.(block|downsample)\.")]
    private static partial Regex EncoderLevel();

    [GeneratedRegex(@"^encoder\.mid\.attn_1\.(norm|q|k|v|proj_out)\.(weight|bias)$")]
    private static partial Regex EncoderAttention();
}

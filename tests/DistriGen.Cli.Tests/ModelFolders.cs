using System.Text.Json.Nodes;
using DistriGen.Models;
using DistriGen.Models.Configuration;
using DistriGen.Tensors.IO;

namespace DistriGen.Cli.Tests;

/// <summary>
/// Whole diffusers folders made from the fixtures: a UNet, VAE and scheduler with a CLIP text side, as
/// users download them (model_index.json, tokenizer/, text_encoder/, and the _2 pair for SDXL).
/// </summary>
internal static class ModelFolders
{
    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    /// <summary>SD 1.x: sd-tiny's UNet (cross_attention_dim 32), VAE and DDIM with sd1-clip's tokenizer and CLIPTextModel.</summary>
    public static string StableDiffusion(string root)
    {
        var dir = Path.Combine(root, "sd-model");
        foreach (var part in new[] { "unet", "vae", "scheduler" }) CopyFolder(Path.Combine(Fixture("sd-tiny"), part), Path.Combine(dir, part));
        foreach (var part in new[] { "tokenizer", "text_encoder" }) CopyFolder(Path.Combine(Fixture("clip"), "sd1-clip", part), Path.Combine(dir, part));
        File.WriteAllText(Path.Combine(dir, "model_index.json"), """{ "_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.24.0" }""");
        return dir;
    }

    /// <summary>SD 2.x's text side on the same UNet: OpenCLIP's gelu and the pad token '!' (id 0).</summary>
    public static string StableDiffusion2(string root)
    {
        var dir = StableDiffusion(root);
        CopyFolder(Path.Combine(Fixture("clip"), "sdxl-clip", "tokenizer_2"), Path.Combine(dir, "tokenizer"));
        var config = Path.Combine(dir, "text_encoder", "config.json");
        File.WriteAllText(config, File.ReadAllText(config).Replace("\"quick_gelu\"", "\"gelu\""));
        return dir;
    }

    /// <summary>
    /// SDXL: sdxl-tiny's UNet shape widened to sdxl-clip's encoders (72 = 32 + 40 per token, 24 pooled +
    /// 6 × 8 time ids), with random weights, sdxl-tiny's VAE and Euler scheduler, both tokenizers and encoders.
    /// </summary>
    public static string StableDiffusionXl(string root)
    {
        var dir = Path.Combine(root, "sdxl-model");
        foreach (var part in new[] { "vae", "scheduler" }) CopyFolder(Path.Combine(Fixture("sdxl-tiny"), part), Path.Combine(dir, part));
        foreach (var part in new[] { "tokenizer", "tokenizer_2", "text_encoder", "text_encoder_2" })
            CopyFolder(Path.Combine(Fixture("clip"), "sdxl-clip", part), Path.Combine(dir, part));
        var config = JsonNode.Parse(File.ReadAllText(Path.Combine(Fixture("sdxl-tiny"), "unet", "config.json")))!.AsObject();
        config["cross_attention_dim"] = 72;
        config["projection_class_embeddings_input_dim"] = 72;
        Directory.CreateDirectory(Path.Combine(dir, "unet"));
        File.WriteAllText(Path.Combine(dir, "unet", "config.json"), config.ToJsonString());
        var unet = new UNet2DConditionModel(UNetConfig.FromJson(config.ToJsonString()));
        unet.InitializeRandom(7);
        SafeTensorsWriter.Write(Path.Combine(dir, "unet", "diffusion_pytorch_model.safetensors"), unet.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor));
        File.WriteAllText(Path.Combine(dir, "model_index.json"),
            """{ "_class_name": "StableDiffusionXLPipeline", "_diffusers_version": "0.24.0", "force_zeros_for_empty_prompt": true }""");
        return dir;
    }

    public static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from)) File.Copy(file, Path.Combine(to, Path.GetFileName(file)), overwrite: true);
    }
}

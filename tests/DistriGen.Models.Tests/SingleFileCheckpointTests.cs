using DistriGen.Models.Checkpoints;
using DistriGen.Models.Configuration;
using DistriGen.Models.Pipelines;
using DistriGen.Models.Text;
using DistriGen.Tensors;
using DistriGen.Tensors.IO;
using DistriGen.Tensors.Nn;

namespace DistriGen.Models.Tests;

/// <summary>
/// Single-file checkpoints in the original layout: the diffusers fixtures written the way diffusers'
/// conversion script writes them load back to the same weights and the same numbers; the mapping holds
/// the key counts and names diffusers 0.24 gives for SD 1.5 and SDXL; wrong files are clear errors.
/// </summary>
public sealed class SingleFileCheckpointTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("distrigen-single-file-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    /// <summary>A fixture folder (and optionally a CLIP fixture's text encoder) as one original-layout file.</summary>
    private string WriteSingleFile(string name, string? clip = null)
    {
        var folder = Fixture(name);
        var config = UNetConfig.Load(Path.Combine(folder, "unet", "config.json"));
        var vaeConfig = VaeConfig.Load(Path.Combine(folder, "vae", "config.json"));
        var tensors = OriginalLayout.UNet(OriginalLayout.Read(Path.Combine(folder, "unet", "diffusion_pytorch_model.safetensors")), config)
            .Concat(OriginalLayout.Vae(OriginalLayout.Read(Path.Combine(folder, "vae", "diffusion_pytorch_model.safetensors")),
                vaeConfig.BlockOutChannels.Length, vaeConfig.LayersPerBlock))
            .ToDictionary();
        if (clip is not null)
            foreach (var (key, value) in OriginalLayout.Read(Path.Combine(Fixture("clip"), clip, "text_encoder", "model.safetensors")))
                tensors[LdmClipNames.StableDiffusion1 + key] = value;
        tensors["model_ema.decay"] = Tensor.Full(0.9999f, 1);
        var path = Path.Combine(_dir, name + ".safetensors");
        SafeTensorsWriter.Write(path, tensors, SafeTensorsDType.F16);
        return path;
    }

    /// <summary>
    /// The fixture's configs, plus a CLIP fixture's text encoder config and tokenizer: what --config gives.
    /// </summary>
    private string Configs(string name, string? clip = null)
    {
        var configs = Path.Combine(_dir, name + (clip is null ? "" : "-" + clip) + "-configs");
        if (Directory.Exists(configs)) return configs;
        foreach (var part in new[] { "unet", "vae", "scheduler" })
        {
            Directory.CreateDirectory(Path.Combine(configs, part));
            foreach (var file in Directory.GetFiles(Path.Combine(Fixture(name), part), "*.json"))
                File.Copy(file, Path.Combine(configs, part, Path.GetFileName(file)));
        }
        if (clip is not null)
            foreach (var part in new[] { "text_encoder", "tokenizer" })
            {
                Directory.CreateDirectory(Path.Combine(configs, part));
                foreach (var file in Directory.GetFiles(Path.Combine(Fixture("clip"), clip, part)).Where(f => !f.EndsWith(".safetensors")))
                    File.Copy(file, Path.Combine(configs, part, Path.GetFileName(file)));
            }
        return configs;
    }

    /// <summary>The same model as a diffusers folder: the fixture with the CLIP fixture's text side.</summary>
    private string Folder(string name, string clip) => ComposeFolder(_dir, name, clip);

    /// <summary>
    /// A diffusers folder under <paramref name="root"/>: fixture <paramref name="name"/> with CLIP fixture <paramref
    /// name="clip"/>'s text side.
    /// </summary>
    internal static string ComposeFolder(string root, string name, string clip)
    {
        var folder = Path.Combine(root, name + "-" + clip + "-folder");
        if (Directory.Exists(folder)) return folder;
        foreach (var source in new[] { Fixture(name), Path.Combine(Fixture("clip"), clip) })
            foreach (var file in Directory.GetFiles(source, "*", SearchOption.AllDirectories))
            {
                var target = Path.Combine(folder, Path.GetRelativePath(source, file));
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                if (!File.Exists(target)) File.Copy(file, target);
            }
        return folder;
    }

    [Theory]
    [InlineData("sd-tiny")]
    [InlineData("sdxl-tiny")]
    public void TheUNetAndVaeOfAnOriginalLayoutFileAreTheFoldersWeights(string name)
    {
        var single = DiffusionModel.Load(WriteSingleFile(name), textEncoder: false, configDirectory: Configs(name));
        var folder = new FixtureCase(name).Model;
        AssertSameParameters(folder.Unet, single.Unet, 1e-3);
        AssertSameParameters(folder.Vae!, single.Vae!, 1e-3);
    }

    [Fact]
    public void AnSd1FileWithItsTextEncoderGeneratesWhatTheFolderGenerates()
    {
        var single = DiffusionModel.Load(WriteSingleFile("sd-tiny", "sd1-clip"), configDirectory: Configs("sd-tiny", "sd1-clip"));
        var folder = DiffusionModel.Load(Folder("sd-tiny", "sd1-clip"));
        var request = new GenerationRequest { Steps = 4, GuidanceScale = 5, Width = 64, Height = 64, Seed = 7 };
        using var fromFile = DiffusionPipeline.Generate(single, new UNetPredictor(single.Unet), request, single.EncodePrompt("a red circle", "blurry"));
        using var fromFolder = DiffusionPipeline.Generate(folder, new UNetPredictor(folder.Unet), request, folder.EncodePrompt("a red circle", "blurry"));
        // The file holds F16 values of the folder's F32 weights.
        Assert.InRange(ResultMetrics.RelativeError(fromFile.Image, fromFolder.Image), 0, 1e-2);
        AssertSameParameters(((ClipPromptEncoder)folder.TextEncoder!).Towers[0].Encoder, ((ClipPromptEncoder)single.TextEncoder!).Towers[0].Encoder, 1e-3);
    }

    [Fact]
    public void OpenClipsFusedProjectionsAndTransposedTextProjectionAreUndone()
    {
        var folder = ClipTextModel.Load(Path.Combine(Fixture("clip"), "sdxl-clip", "text_encoder_2"));
        var weights = OriginalLayout.Read(Path.Combine(Fixture("clip"), "sdxl-clip", "text_encoder_2", "model.safetensors"));
        var path = Path.Combine(_dir, "open-clip.safetensors");
        SafeTensorsWriter.Write(path, OriginalLayout.OpenClip(weights, LdmClipNames.StableDiffusionXl2));
        using var file = SafeTensorsFile.Open(path);
        var model = new ClipTextModel(folder.Config);
        var map = LdmClipNames.OpenClip(model.NamedParameters().Select(p => p.Name), LdmClipNames.StableDiffusionXl2, folder.Config.HiddenSize);
        model.LoadStateDict(new MappedTensorSource(file, map, "text_encoder_2"));
        AssertSameParameters(folder, model, 0);
    }

    [Theory]
    [InlineData("sd15", 686)]
    [InlineData("sdxl", 1680)]
    public void RealSizeUNetsMapToTheNamesDiffusersReads(string config, int count)
    {
        using var meta = TensorScope.MetaMode();
        var unet = new UNet2DConditionModel(config == "sd15" ? UNetConfig.StableDiffusion15 : UNetConfig.StableDiffusionXl);
        var map = LdmUnetNames.For(unet.NamedParameters().Select(p => p.Name));
        Assert.Equal(count, map.Values.Select(m => m.Key).Distinct().Count());
        string Ldm(string name) => map[name].Key[LdmUnetNames.Prefix.Length..];
        if (config == "sd15")
        {
            Assert.Equal("input_blocks.4.0.skip_connection.weight", Ldm("down_blocks.1.resnets.0.conv_shortcut.weight"));
            Assert.Equal("input_blocks.3.0.op.weight", Ldm("down_blocks.0.downsamplers.0.conv.weight"));
            Assert.Equal("input_blocks.11.0.emb_layers.1.bias", Ldm("down_blocks.3.resnets.1.time_emb_proj.bias"));
            Assert.Equal("output_blocks.2.1.conv.weight", Ldm("up_blocks.0.upsamplers.0.conv.weight"));
            Assert.Equal("output_blocks.5.2.conv.weight", Ldm("up_blocks.1.upsamplers.0.conv.weight"));
            Assert.Equal("middle_block.1.transformer_blocks.0.attn2.to_k.weight", Ldm("mid_block.attentions.0.transformer_blocks.0.attn2.to_k.weight"));
            Assert.Equal("out.2.bias", Ldm("conv_out.bias"));
        }
        else
        {
            Assert.Equal("label_emb.0.0.weight", Ldm("add_embedding.linear_1.weight"));
            Assert.Equal("input_blocks.8.1.transformer_blocks.9.ff.net.2.weight", Ldm("down_blocks.2.attentions.1.transformer_blocks.9.ff.net.2.weight"));
            Assert.Equal("input_blocks.6.0.op.bias", Ldm("down_blocks.1.downsamplers.0.conv.bias"));
            Assert.Equal("output_blocks.2.2.conv.weight", Ldm("up_blocks.0.upsamplers.0.conv.weight"));
            Assert.Equal("output_blocks.8.0.skip_connection.weight", Ldm("up_blocks.2.resnets.2.conv_shortcut.weight"));
            Assert.Equal("output_blocks.5.1.proj_out.weight", Ldm("up_blocks.1.attentions.2.proj_out.weight"));
        }
    }

    [Fact]
    public void TheRealVaeDecoderMapsToTheNamesDiffusersReads()
    {
        using var meta = TensorScope.MetaMode();
        var vae = new AutoencoderKL(VaeConfig.StableDiffusion);
        var map = LdmVaeNames.For(vae.NamedParameters().Select(p => p.Name));
        Assert.Equal("first_stage_model.decoder.up.1.block.0.nin_shortcut.weight", map["decoder.up_blocks.2.resnets.0.conv_shortcut.weight"].Key);
        Assert.Equal("first_stage_model.decoder.up.3.upsample.conv.bias", map["decoder.up_blocks.0.upsamplers.0.conv.bias"].Key);
        Assert.Equal(new KeyMapping("first_stage_model.decoder.mid.attn_1.proj_out.weight", StoredAs.Conv1x1), map["decoder.mid_block.attentions.0.to_out.0.weight"]);
        Assert.Equal("first_stage_model.decoder.mid.attn_1.norm.weight", map["decoder.mid_block.attentions.0.group_norm.weight"].Key);
        Assert.Equal("first_stage_model.decoder.norm_out.bias", map["decoder.conv_norm_out.bias"].Key);
        Assert.Equal("first_stage_model.post_quant_conv.weight", map["post_quant_conv.weight"].Key);
    }

    [Theory]
    [InlineData(new[] { "model.diffusion_model.x", "cond_stage_model.transformer.text_model.y" }, CheckpointFamily.StableDiffusion1)]
    [InlineData(new[] { "model.diffusion_model.x", "cond_stage_model.model.ln_final.weight" }, CheckpointFamily.StableDiffusion2)]
    [InlineData(new[] { "model.diffusion_model.x", "conditioner.embedders.0.transformer.a", "conditioner.embedders.1.model.b" }, CheckpointFamily.StableDiffusionXl)]
    [InlineData(new[] { "model.diffusion_model.label_emb.0.0.weight" }, CheckpointFamily.StableDiffusionXl)]
    public void TheFamilyIsRecognisedFromTheKeys(string[] keys, CheckpointFamily family) =>
        Assert.Equal(family, CheckpointFamilies.Detect(keys, _ => [1], "x.safetensors"));

    [Fact]
    public void AFileOfNeitherLayoutSaysWhichKeysWereExpected()
    {
        var path = Path.Combine(_dir, "other.safetensors");
        SafeTensorsWriter.Write(path, new Dictionary<string, Tensor> { ["encoder.weight"] = Tensor.Zeros(2) });
        var e = Assert.Throws<InvalidDataException>(() => DiffusionModel.Load(path));
        Assert.Contains("model.diffusion_model.", e.Message);
        Assert.Contains("other.safetensors", e.Message);
        Assert.Contains("encoder.weight", e.Message);
    }

    [Fact]
    public void AFileThatTheConfigsDoNotDescribeNamesTheTensorsAndSaysToGiveConfigs()
    {
        var path = WriteSingleFile("sd-tiny");
        // The built-in SD 1.x configs are full size: nothing of the tiny file fits them.
        var e = Assert.Throws<InvalidDataException>(() => DiffusionModel.Load(path, textEncoder: false));
        Assert.Contains("--config", e.Message);
        Assert.Contains("sd-tiny.safetensors", e.Message);
        using (var file = SafeTensorsFile.Open(path))
        {
            var tensors = file.Keys.Where(k => !k.Contains("input_blocks.1.0.in_layers.0.weight")).ToDictionary(k => k, k => file.Read(k).Keep());
            SafeTensorsWriter.Write(Path.Combine(_dir, "missing.safetensors"), tensors);
        }
        var missing = Assert.Throws<InvalidDataException>(() => DiffusionModel.Load(Path.Combine(_dir, "missing.safetensors"), textEncoder: false, configDirectory: Configs("sd-tiny")));
        Assert.Contains("down_blocks.0.resnets.0.norm1.weight", missing.Message);
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(Path.Combine(_dir, "truncated.safetensors"), bytes[..(bytes.Length / 2)]);
        var truncated = Assert.ThrowsAny<Exception>(() => DiffusionModel.Load(Path.Combine(_dir, "truncated.safetensors"), configDirectory: Configs("sd-tiny")));
        Assert.True(truncated.Message.Contains("truncated.safetensors"), truncated.Message);
    }

    [Theory]
    [InlineData(CheckpointFamily.StableDiffusion1, 1)]
    [InlineData(CheckpointFamily.StableDiffusion2, 1)]
    [InlineData(CheckpointFamily.StableDiffusionXl, 2)]
    public void TheBuiltInConfigsOfEachFamilyLoad(CheckpointFamily family, int textEncoders)
    {
        var folder = BuiltInConfigs.Folder(family);
        using var meta = TensorScope.MetaMode();
        _ = new UNet2DConditionModel(UNetConfig.Load(Path.Combine(folder, "unet", "config.json")));
        _ = new AutoencoderKL(VaeConfig.Load(Path.Combine(folder, "vae", "config.json")));
        _ = SchedulerConfig.Load(Path.Combine(folder, "scheduler", "scheduler_config.json"));
        for (int i = 0; i < textEncoders; i++)
        {
            var suffix = i == 0 ? "" : "_2";
            _ = new ClipTextModel(ClipTextConfig.Load(Path.Combine(folder, "text_encoder" + suffix, "config.json")));
            Assert.Equal(49406, ClipTokenizer.Load(Path.Combine(folder, "tokenizer" + suffix)).Encode("").Ids[0]);
        }
    }

    private static void AssertSameParameters(Module expected, Module actual, double tolerance)
    {
        var actualParameters = actual.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor);
        foreach (var (name, tensor) in expected.NamedParameters())
        {
            var error = ResultMetrics.RelativeError(actualParameters[name], tensor);
            Assert.True(error <= tolerance, $"{name}: relative error {error}");
        }
    }

    [Fact]
    public void AConvertedCheckpointLoadsAsAFolderWithTheSameWeights()
    {
        var file = WriteSingleFile("sd-tiny", "sd1-clip");
        var output = Path.Combine(_dir, "converted");
        DiffusersFolderWriter.Convert(file, Configs("sd-tiny", "sd1-clip"), output);
        var converted = DiffusionModel.Load(output);
        var single = DiffusionModel.Load(file, configDirectory: Configs("sd-tiny", "sd1-clip"));
        AssertSameParameters(single.Unet, converted.Unet, 0);
        AssertSameParameters(single.Vae!, converted.Vae!, 0);
        AssertSameParameters(((ClipPromptEncoder)single.TextEncoder!).Towers[0].Encoder, ((ClipPromptEncoder)converted.TextEncoder!).Towers[0].Encoder, 0);
        // The encoder, which generation does not load, is written too, under diffusers' names.
        using var original = SafeTensorsFile.Open(Path.Combine(Fixture("sd-tiny"), "vae", "diffusion_pytorch_model.safetensors"));
        using var written = SafeTensorsFile.Open(Path.Combine(output, "vae", "diffusion_pytorch_model.safetensors"));
        Assert.Equal(original.Keys.Order(), written.Keys.Order());
        Assert.InRange(ResultMetrics.RelativeError(written.Read("encoder.mid_block.attentions.0.to_q.weight"), original.Read("encoder.mid_block.attentions.0.to_q.weight")), 0, 1e-3);
    }
}

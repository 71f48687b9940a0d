using DistriGen.Models.Pipelines;
using DistriGen.Models.Text;
using DistriGen.Tensors.Devices;
using DistriGen.Tensors.IO;
using DistriGen.Tensors.Nn;

namespace DistriGen.Models.Checkpoints;

/// <summary>
/// A single-file Stable Diffusion checkpoint in the original layout (SD 1.x, 2.x, SDXL base): the family
/// from its keys, the configs of that family (built in, or a diffusers folder's with --config) and the
/// UNet, VAE decoder and text encoders read through diffusers 0.24's key mapping.
/// </summary>
public static class SingleFileModel
{
    /// <summary>Keys of a checkpoint that inference does not use (EMA copies, the VAE encoder, buffers).</summary>
    private static readonly string[] Ignored = ["position_ids", "logit_scale"];

    /// <summary>The family of the checkpoint at <paramref name="path"/>, from its keys.</summary>
    public static CheckpointFamily Family(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        return CheckpointFamilies.Detect(file.Keys.ToList(), file.ShapeOf, path);
    }

    public static DiffusionModel Load(string path, string? configDirectory, SchedulerKind? schedulerOverride, bool textEncoder, Device device)
    {
        var file = SafeTensorsFile.Open(path);
        try
        {
            var family = CheckpointFamilies.Detect(file.Keys.ToList(), file.ShapeOf, path);
            var configs = configDirectory ?? BuiltInConfigs.Folder(family);
            if (configDirectory is not null && !File.Exists(Path.Combine(configs, "unet", "config.json")))
                throw new DirectoryNotFoundException($"--config {configDirectory}: no unet/config.json there (a diffusers folder's configs are expected).");
            string Config(string component, string name = "config.json") => Path.Combine(configs, component, name);
            UNet2DConditionModel unet;
            AutoencoderKL? vae = null;
            using (Device.Use(device))
            {
                unet = new UNet2DConditionModel(UNetConfig.Load(Config("unet")));
                Load(unet, file, LdmUnetNames.For(Names(unet)), "unet", LdmUnetNames.Prefix, family, configDirectory);
                if (File.Exists(Config("vae")) && file.Keys.Any(k => k.StartsWith(LdmVaeNames.Prefix, StringComparison.Ordinal)))
                {
                    vae = new AutoencoderKL(VaeConfig.Load(Config("vae")));
                    Load(vae, file, LdmVaeNames.For(Names(vae)), "vae", LdmVaeNames.Prefix + "decoder.", family, configDirectory);
                }
            }
            var scheduler = SchedulerConfig.Load(Config("scheduler", "scheduler_config.json"), schedulerOverride);
            var text = textEncoder ? TextEncoder(file, family, configs, configDirectory, path) : null;
            if (text is not null) DiffusionModel.CheckWidths(text, unet.Config, Config("unet"));
            return new DiffusionModel(path, unet, vae, scheduler, text);
        }
        finally
        {
            file.Dispose();
        }
    }

    /// <summary>
    /// The prompt encoder from the file's text encoders and the configs' tokenizers; null when the file has none.
    /// </summary>
    private static IPromptEncoder? TextEncoder(SafeTensorsFile file, CheckpointFamily family, string configs, string? configDirectory, string path)
    {
        (string Prefix, bool OpenClip)[] towers = family switch
        {
            CheckpointFamily.StableDiffusion1 => [(LdmClipNames.StableDiffusion1, false)],
            CheckpointFamily.StableDiffusion2 => [(LdmClipNames.StableDiffusion2, true)],
            _ => [(LdmClipNames.StableDiffusionXl1, false), (LdmClipNames.StableDiffusionXl2, true)],
        };
        if (!towers.All(t => file.Keys.Any(k => k.StartsWith(t.Prefix, StringComparison.Ordinal)))) return null;
        var loaded = new List<ClipTextTower>();
        for (int i = 0; i < towers.Length; i++)
        {
            var suffix = i == 0 ? "" : "_2";
            var encoder = new ClipTextModel(ClipTextConfig.Load(Path.Combine(configs, "text_encoder" + suffix, "config.json")));
            var names = Names(encoder);
            var map = towers[i].OpenClip
                ? LdmClipNames.OpenClip(names, towers[i].Prefix, encoder.Config.HiddenSize)
                : LdmClipNames.OpenAi(names, towers[i].Prefix);
            Load(encoder, file, map, "text_encoder" + suffix, towers[i].Prefix, family, configDirectory,
                extraIgnored: towers[i].OpenClip ? [$"{towers[i].Prefix}transformer.resblocks.{encoder.Config.Layers}.", $"{towers[i].Prefix}text_projection"] : []);
            loaded.Add(new ClipTextTower(ClipTokenizer.Load(Path.Combine(configs, "tokenizer" + suffix)), encoder));
        }
        return family == CheckpointFamily.StableDiffusionXl
            ? ClipPromptEncoder.StableDiffusionXl(loaded, ModelIndex.Load(configs).ForceZerosForEmptyPrompt, path)
            : ClipPromptEncoder.StableDiffusion(loaded[0], path);
    }

    private static List<string> Names(Module module) => module.NamedParameters().Select(p => p.Name).ToList();

    /// <summary>
    /// Loads one component; its keys in the file that nothing read are an error (a file of another shape
    /// than the configs describe), except buffers inference does not use.
    /// </summary>
    private static void Load(Module module, SafeTensorsFile file, Dictionary<string, KeyMapping> map, string component, string prefix,
        CheckpointFamily family, string? configDirectory, string[]? extraIgnored = null)
    {
        var source = new MappedTensorSource(file, map, component);
        string hint = configDirectory is null
            ? $" The built-in {family.Describe()} configs do not describe this file; give its diffusers configs with --config DIR."
            : $" The configs in {configDirectory} do not describe this file.";
        try
        {
            module.LoadStateDict(source);
        }
        catch (StateDictException e)
        {
            throw new InvalidDataException(e.Message.Replace(Environment.NewLine, " ") + hint, e);
        }
        var unused = source.Unused(prefix)
            .Where(k => !Ignored.Any(i => k.EndsWith(i, StringComparison.Ordinal)) && !(extraIgnored ?? []).Any(i => k.StartsWith(i, StringComparison.Ordinal)))
            .ToList();
        if (unused.Count > 0)
            throw new InvalidDataException($"{file.Path} ({component}): {unused.Count} tensors the model has no place for: " +
                string.Join(", ", unused.Take(10)) + (unused.Count > 10 ? ", …" : "") + "." + hint);
    }
}

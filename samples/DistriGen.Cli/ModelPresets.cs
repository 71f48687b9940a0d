using DistriGen.Models.Configuration;

namespace DistriGen.Cli;

/// <summary>
/// Model shapes by name for plan and bench: sd15, sdxl, a diffusers folder, or a single-file checkpoint.
/// </summary>
internal static class ModelPresets
{
    public static UNetConfig UNet(string name) => name.ToLowerInvariant() switch
    {
        "sd15" or "sd1.5" => UNetConfig.StableDiffusion15,
        "sdxl" => UNetConfig.StableDiffusionXl,
        _ when Directory.Exists(name) => UNetConfig.Load(Path.Combine(name, "unet", "config.json")),
        _ when File.Exists(name) && name.EndsWith(".safetensors", StringComparison.OrdinalIgnoreCase) =>
            UNetConfig.Load(Path.Combine(Models.Checkpoints.BuiltInConfigs.Folder(Models.Checkpoints.SingleFileModel.Family(name)), "unet", "config.json")),
        _ when File.Exists(name) => UNetConfig.Load(name),
        _ => throw new ArgumentException($"--config '{name}' is neither sd15, sdxl, a model folder nor a checkpoint file."),
    };

    /// <summary>Image pixels per latent pixel for a preset (8 for the SD family, else the folder's VAE or 1).</summary>
    public static int ImageScale(string name)
    {
        if (Directory.Exists(name))
        {
            var vae = Path.Combine(name, "vae", "config.json");
            return File.Exists(vae) ? VaeConfig.Load(vae).ScaleFactor : 1;
        }
        return 8;
    }

    public static SchedulerConfig Scheduler { get; } = new() { Kind = SchedulerKind.Ddim };
}

using System.Reflection;

namespace DistriGen.Models.Checkpoints;

/// <summary>
/// The standard diffusers configs of each family (unet/, vae/, scheduler/, text encoders, tokenizers with
/// CLIP's vocabulary, model_index.json), shipped inside this assembly and written once to a folder so the
/// folder loaders read them as they read any diffusers folder.
/// </summary>
public static class BuiltInConfigs
{
    private const string Root = "DistriGen.Models.Families/";
    private static readonly Lock Gate = new();

    /// <summary>
    /// The folder with <paramref name="family"/>'s configs (made on first use, under the temporary folder).
    /// </summary>
    public static string Folder(CheckpointFamily family)
    {
        var name = family switch
        {
            CheckpointFamily.StableDiffusion1 => "sd1",
            CheckpointFamily.StableDiffusion2 => "sd2",
            _ => "sdxl",
        };
        var assembly = typeof(BuiltInConfigs).Assembly;
        var version = assembly.GetName().Version?.ToString() ?? "0";
        var folder = Path.Combine(Path.GetTempPath(), "distrigen-configs", $"{version}-{File.GetLastWriteTimeUtc(assembly.Location).Ticks}", name);
        lock (Gate)
        {
            if (Directory.Exists(folder)) return folder;
            // Written beside and moved into place, so processes starting together never see half a folder.
            var building = $"{folder}.{Environment.ProcessId}.tmp";
            Directory.CreateDirectory(building);
            foreach (var resource in assembly.GetManifestResourceNames().Where(r => r.StartsWith(Root + name + "/", StringComparison.Ordinal)
                         || r.StartsWith(Root + name + "\\", StringComparison.Ordinal)))
                Write(assembly, resource, Path.Combine(building, resource[(Root.Length + name.Length + 1)..].Replace('\\', '/')));
            foreach (var tokenizer in Directory.GetDirectories(building, "tokenizer*"))
            {
                Write(assembly, "DistriGen.Models.Text.clip-vocab.json", Path.Combine(tokenizer, "vocab.json"));
                Write(assembly, "DistriGen.Models.Text.clip-merges.txt", Path.Combine(tokenizer, "merges.txt"));
            }
            try
            {
                Directory.Move(building, folder);
            }
            catch (IOException) when (Directory.Exists(folder))
            {
                Directory.Delete(building, recursive: true);
            }
            return folder;
        }
    }

    private static void Write(Assembly assembly, string resource, string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        using var input = assembly.GetManifestResourceStream(resource)
            ?? throw new InvalidOperationException($"The built-in resource {resource} is missing from {assembly.GetName().Name}.");
        using var output = File.Create(path);
        input.CopyTo(output);
    }
}

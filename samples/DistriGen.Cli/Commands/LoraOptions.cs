using System.CommandLine;
using System.Globalization;
using DistriGen.Models.Lora;
using Spectre.Console;

namespace DistriGen.Cli.Commands;

/// <summary>--lora FILE[:SCALE], repeatable: LoRA files merged into the model's weights at load.</summary>
internal static class LoraOptions
{
    public static Option<string[]> Create() => new("--lora")
    {
        Description = "A LoRA file (kohya or diffusers format) merged at load, with its scale (default 1): --lora style.safetensors:0.8. Repeatable.",
        Arity = ArgumentArity.ZeroOrMore,
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>Merges every --lora into <paramref name="model"/>, saying what it merged.</summary>
    public static void Apply(DiffusionModel model, IEnumerable<string>? values, bool quiet = false)
    {
        foreach (var value in values ?? [])
        {
            var (path, scale) = Parse(value);
            if (!File.Exists(path)) throw new FileNotFoundException($"--lora {value}: no file at {path}.", path);
            int merged = LoraMerge.Apply(model, LoraFile.Read(path), scale, path);
            if (!quiet) AnsiConsole.MarkupLine($"[grey]LoRA[/] {Markup.Escape(path)} · scale {scale.ToString(CultureInfo.InvariantCulture)} · {merged} layers merged");
        }
    }

    /// <summary>"FILE" or "FILE:SCALE" (a colon followed by a number; paths may hold colons too).</summary>
    internal static (string Path, float Scale) Parse(string value)
    {
        int colon = value.LastIndexOf(':');
        if (colon > 0 && float.TryParse(value[(colon + 1)..], NumberStyles.Float, CultureInfo.InvariantCulture, out var scale))
            return float.IsFinite(scale) ? (value[..colon], scale) : throw new ArgumentException($"--lora {value}: the scale must be a finite number.");
        return (value, 1f);
    }
}

using System.Text.RegularExpressions;
using DistriGen.Tensors;
using DistriGen.Tensors.IO;

namespace DistriGen.Models.Lora;

/// <summary>
/// Reads a LoRA safetensors file in kohya's format (lora_unet_*, lora_te_* / lora_te1_* / lora_te2_*,
/// with .lora_down.weight, .lora_up.weight and .alpha) or diffusers' (unet.&lt;module&gt;.lora.down.weight,
/// …lora_linear_layer…, the older …processor.to_q_lora…, PEFT's lora_A/lora_B, text_encoder(_2).…).
/// Keys of neither form are an error listing them.
/// </summary>
public static partial class LoraFile
{
    private static readonly string[] KohyaPrefixes = ["lora_unet_", "lora_te_", "lora_te1_", "lora_te2_"];

    public static IReadOnlyList<LoraLayer> Read(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        var keys = file.Keys.ToList();
        if (keys.Count == 0) throw new InvalidDataException($"{path}: the LoRA file holds no tensors.");
        bool kohya = keys.All(k => KohyaPrefixes.Any(p => k.StartsWith(p, StringComparison.Ordinal)));
        return kohya ? Kohya(file, keys) : Diffusers(file, keys);
    }

    private static List<LoraLayer> Kohya(SafeTensorsFile file, List<string> keys)
    {
        var layers = new List<LoraLayer>();
        var unknown = new List<string>();
        foreach (var group in keys.GroupBy(k => k.Split('.')[0]))
        {
            var parts = group.ToDictionary(k => k[(group.Key.Length + 1)..], k => k);
            unknown.AddRange(parts.Where(p => p.Key is not ("lora_down.weight" or "lora_up.weight" or "alpha")).Select(p => p.Value));
            if (!parts.ContainsKey("lora_down.weight") || !parts.ContainsKey("lora_up.weight"))
            {
                unknown.AddRange(parts.Values.Where(v => !unknown.Contains(v)));
                continue;
            }
            var prefix = KohyaPrefixes.First(p => group.Key.StartsWith(p, StringComparison.Ordinal));
            var component = prefix switch
            {
                "lora_unet_" => LoraComponent.Unet,
                "lora_te2_" => LoraComponent.TextEncoder2,
                _ => LoraComponent.TextEncoder,
            };
            float? alpha = parts.TryGetValue("alpha", out var alphaKey) ? Read(file, alphaKey).Values[0] : null;
            var (down, downShape) = Read(file, parts["lora_down.weight"]);
            var (up, upShape) = Read(file, parts["lora_up.weight"]);
            layers.Add(new LoraLayer(component, group.Key[prefix.Length..], IsModulePath: false, down, downShape, up, upShape, alpha));
        }
        Reject(file.Path, unknown);
        return layers;
    }

    private static List<LoraLayer> Diffusers(SafeTensorsFile file, List<string> keys)
    {
        var pairs = new Dictionary<(LoraComponent, string), Dictionary<string, string>>();
        var unknown = new List<string>();
        foreach (var key in keys)
        {
            var (component, rest) = key switch
            {
                _ when key.StartsWith("unet.", StringComparison.Ordinal) => (LoraComponent.Unet, key[5..]),
                _ when key.StartsWith("text_encoder_2.", StringComparison.Ordinal) => (LoraComponent.TextEncoder2, key[15..]),
                _ when key.StartsWith("text_encoder.", StringComparison.Ordinal) => (LoraComponent.TextEncoder, key[13..]),
                _ => (LoraComponent.Unet, key),
            };
            if (Normalise(rest, component) is not { } found)
            {
                unknown.Add(key);
                continue;
            }
            var entry = pairs.TryGetValue((component, found.Module), out var e) ? e : pairs[(component, found.Module)] = [];
            entry[found.Direction] = key;
        }
        var layers = new List<LoraLayer>();
        foreach (var ((component, module), entry) in pairs)
        {
            if (!entry.ContainsKey("down") || !entry.ContainsKey("up"))
            {
                unknown.AddRange(entry.Values);
                continue;
            }
            var (down, downShape) = Read(file, entry["down"]);
            var (up, upShape) = Read(file, entry["up"]);
            layers.Add(new LoraLayer(component, module, IsModulePath: true, down, downShape, up, upShape, Alpha: null));
        }
        Reject(file.Path, unknown);
        return layers;
    }

    /// <summary>The module path and "down"/"up" of one diffusers-format key, or null.</summary>
    private static (string Module, string Direction)? Normalise(string key, LoraComponent component)
    {
        if (Plain().Match(key) is { Success: true } plain) return (plain.Groups[1].Value, plain.Groups[2].Value);
        if (Peft().Match(key) is { Success: true } peft) return (peft.Groups[1].Value, peft.Groups[2].Value == "A" ? "down" : "up");
        if (Processor().Match(key) is { Success: true } attention)
        {
            var projection = attention.Groups[2].Value;
            var module = component == LoraComponent.Unet
                ? attention.Groups[1].Value.Replace(".processor", "", StringComparison.Ordinal) + "." + (projection == "out" ? "to_out.0" : "to_" + projection)
                : attention.Groups[1].Value + "." + projection + "_proj";
            return (module, attention.Groups[3].Value);
        }
        return null;
    }

    private static (float[] Values, int[] Shape) Read(SafeTensorsFile file, string key)
    {
        var shape = file.ShapeOf(key);
        var values = new float[Tensor.ElementCount(shape)];
        file.ReadInto(key, values);
        return (values, shape);
    }

    private static void Reject(string path, List<string> unknown)
    {
        if (unknown.Count == 0) return;
        throw new InvalidDataException($"{path}: {unknown.Count} keys are not LoRA layers DistriGen reads (kohya lora_down/lora_up/alpha, " +
            $"or diffusers lora.down/lora.up, lora_linear_layer, lora_A/lora_B): {string.Join(", ", unknown.Take(10))}{(unknown.Count > 10 ? ", …" : "")}.");
    }

    [GeneratedRegex(@"^(.+?)\.(?:lora|lora_linear_layer)\.(down|up)\.weight$")]
    private static partial Regex Plain();

    [GeneratedRegex(@"^(.+?)\.lora_(A|B)\.weight$")]
    private static partial Regex Peft();

    [GeneratedRegex(@"^(.+?)\.to_(q|k|v|out)_lora\.(down|up)\.weight$")]
    private static partial Regex Processor();
}

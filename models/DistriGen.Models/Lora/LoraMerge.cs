using DistriGen.Models.Checkpoints;
using DistriGen.Models.Pipelines;
using DistriGen.Models.Text;
using DistriGen.Tensors;
using DistriGen.Tensors.Nn;

namespace DistriGen.Models.Lora;

/// <summary>
/// Merges LoRA layers into a model's weights at load: W += s · (alpha / rank) · up · down for every
/// layer, as diffusers 0.24's load_lora_weights computes with cross_attention_kwargs={"scale": s} (the
/// scale reaches the text encoders too). The merged weights are the model's, so every rank shares them
/// and a step costs nothing more; to change the scale, load the model again. kohya names are found by
/// flattening the model's own module paths (diffusers' for SD 1.x/2.x, and the original SGM block
/// names SDXL LoRAs use); a layer the model does not have is an error listing them all.
/// </summary>
public static class LoraMerge
{
    /// <summary>
    /// Merges <paramref name="layers"/> at <paramref name="scale"/> into <paramref name="model"/>; returns how many it
    /// merged.
    /// </summary>
    public static int Apply(DiffusionModel model, IReadOnlyList<LoraLayer> layers, float scale, string source)
    {
        var targets = new Dictionary<LoraComponent, Module?>
        {
            [LoraComponent.Unet] = model.Unet,
            [LoraComponent.TextEncoder] = Tower(model, 0),
            [LoraComponent.TextEncoder2] = Tower(model, 1),
        };
        var indexes = new Dictionary<LoraComponent, Dictionary<string, Module>>();
        var missing = new List<string>();
        int merged = 0;
        var changed = new HashSet<Module>();
        foreach (var layer in layers)
        {
            var root = targets[layer.Component];
            if (root is null)
            {
                // The model was loaded without its text side (e.g. eval-unet): its layers have nothing to change.
                if (layer.Component != LoraComponent.Unet && model.TextEncoder is null) continue;
                missing.Add($"{layer.Component}: {layer.Name}");
                continue;
            }
            var index = indexes.TryGetValue(layer.Component, out var i) ? i : indexes[layer.Component] = Index(root, layer.Component);
            var key = layer.IsModulePath ? layer.Name : layer.Name.Replace('.', '_');
            if (!index.TryGetValue(key, out var module))
            {
                missing.Add($"{layer.Component}: {layer.Name}");
                continue;
            }
            Merge(module, layer, scale, source);
            changed.Add(root);
            merged++;
        }
        if (missing.Count > 0)
            throw new InvalidDataException($"{source}: {missing.Count} LoRA layers name modules this model does not have: " +
                string.Join(", ", missing.Take(10)) + (missing.Count > 10 ? ", …" : "") + ".");
        foreach (var root in changed) root.ParametersChanged();
        return merged;
    }

    private static ClipTextModel? Tower(DiffusionModel model, int i) =>
        model.TextEncoder is ClipPromptEncoder clip && clip.Towers.Count > i ? clip.Towers[i].Encoder : null;

    /// <summary>
    /// Every Linear and Conv2d by its module path and by its kohya name (the path with '_' for '.'); for the
    /// UNet also by the kohya name of its original SGM path (input_blocks_4_1_…).
    /// </summary>
    private static Dictionary<string, Module> Index(Module root, LoraComponent component)
    {
        var index = new Dictionary<string, Module>(StringComparer.Ordinal);
        var layers = root.NamedModules().Where(m => m.Module is Linear or Conv2d).ToList();
        foreach (var (path, module) in layers)
        {
            index[path] = module;
            index[path.Replace('.', '_')] = module;
        }
        if (component == LoraComponent.Unet)
        {
            var original = LdmUnetNames.For(layers.Select(l => l.Path + ".weight"));
            foreach (var (path, module) in layers)
                index.TryAdd(original[path + ".weight"].Key[LdmUnetNames.Prefix.Length..^".weight".Length].Replace('.', '_'), module);
        }
        return index;
    }

    private static void Merge(Module module, LoraLayer layer, float scale, string source)
    {
        var weight = module switch
        {
            Linear linear => linear.Weight,
            Conv2d conv => conv.Weight,
            _ => throw new InvalidOperationException($"{layer.Name} is neither a Linear nor a Conv2d."),
        };
        int rank = layer.Rank, outputs = weight.Dim(0), inputs = weight.Length / outputs;
        if (layer.Down.Length != rank * inputs || layer.Up.Length != outputs * rank || layer.UpShape[0] != outputs)
            throw new InvalidDataException($"{source}: LoRA layer {layer.Name} has down {Tensor.Format(layer.DownShape)} and up " +
                $"{Tensor.Format(layer.UpShape)}, which do not fit the weight {Tensor.Format(weight.Shape)}.");
        var values = weight.ToArray();
        float factor = layer.Factor(scale);
        var row = new double[inputs];
        for (int o = 0; o < outputs; o++)
        {
            Array.Clear(row);
            for (int r = 0; r < rank; r++)
            {
                double u = layer.Up[o * rank + r];
                if (u == 0) continue;
                for (int i = 0; i < inputs; i++) row[i] += u * layer.Down[r * inputs + i];
            }
            for (int i = 0; i < inputs; i++) values[o * inputs + i] += (float)(factor * row[i]);
        }
        Tensors.Ops.Ops.CopyFromHost(values, weight);
    }
}

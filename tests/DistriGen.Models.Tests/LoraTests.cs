using DistriGen.Models.Configuration;
using DistriGen.Models.Lora;
using DistriGen.Models.Pipelines;
using DistriGen.Models.Text;
using DistriGen.Tensors;
using DistriGen.Tensors.IO;
using DistriGen.Tensors.Nn;
using DistriGen.Tensors.Ops;

namespace DistriGen.Models.Tests;

/// <summary>
/// LoRA files of both formats, made here from seeded low-rank weights, merged at load: the model's
/// outputs equal a model whose weights were merged independently (W + s · alpha/r · up·down).
/// </summary>
public sealed class LoraTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("distrigen-lora-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private const int Rank = 4;

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    /// <summary>
    /// The modules a LoRA of this test covers: attention, feed-forward, projections, resnet convs and time projections.
    /// </summary>
    private static List<(string Path, Module Module)> Targets(Module root) =>
        root.NamedModules().Where(m => m.Module is Linear or Conv2d && (m.Path.Contains(".attn") || m.Path.Contains(".ff.")
            || m.Path.Contains("proj_in") || m.Path.Contains(".conv1") || m.Path.Contains("time_emb_proj") || m.Path.Contains("self_attn")
            || m.Path.Contains("mlp.fc1") || m.Path.Contains("downsamplers"))).ToList();

    /// <summary>Seeded down (rank, in[, k, k]) and up (out, rank[, 1, 1]) for a module.</summary>
    private static (Tensor Down, Tensor Up) Pair(Module module, int seed)
    {
        var weight = module is Linear linear ? linear.Weight : ((Conv2d)module).Weight;
        int[] down = weight.Rank == 4 ? [Rank, weight.Dim(1), weight.Dim(2), weight.Dim(3)] : [Rank, weight.Dim(1)];
        int[] up = weight.Rank == 4 ? [weight.Dim(0), Rank, 1, 1] : [weight.Dim(0), Rank];
        return (Ops.Multiply(SeededNormal.Sample(seed, down), 0.1f).Keep(), Ops.Multiply(SeededNormal.Sample(seed + 1, up), 0.1f).Keep());
    }

    /// <summary>The reference: each target's weight plus factor · up·down, computed with a matrix product.</summary>
    private static Dictionary<string, Tensor> Merged(Module root, string prefix, IEnumerable<(string Path, Tensor Down, Tensor Up)> layers, float factor)
    {
        var weights = root.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor.Clone().Keep());
        foreach (var (path, down, up) in layers)
        {
            var name = path[prefix.Length..] + ".weight";
            var w = weights[name];
            using var product = Ops.MatMul(up.Reshape(up.Dim(0), Rank), down.Reshape(Rank, down.Length / Rank));
            weights[name] = Ops.AddScaled(w, 1f, product.Reshape(w.Shape), factor).Keep();
        }
        return weights;
    }

    private DiffusionModel Sd1() => DiffusionModel.Load(SingleFileCheckpointTests.ComposeFolder(_dir, "sd-tiny", "sd1-clip"));

    [Theory]
    [InlineData("kohya", 1f)]
    [InlineData("kohya", 0.5f)]
    [InlineData("diffusers", 1f)]
    [InlineData("diffusers-processor", 0.5f)]
    [InlineData("peft", 1f)]
    public void AMergedLoraEqualsIndependentlyMergedWeights(string format, float scale)
    {
        var model = Sd1();
        var encoder = ((ClipPromptEncoder)model.TextEncoder!).Towers[0].Encoder;
        var unetLayers = Targets(model.Unet).Select((t, i) => (t.Path, Pair(t.Module, 10 * i))).Select(x => (x.Path, x.Item2.Down, x.Item2.Up)).ToList();
        var textLayers = Targets(encoder).Select((t, i) => (t.Path, Pair(t.Module, 1000 + 10 * i))).Select(x => (x.Path, x.Item2.Down, x.Item2.Up)).ToList();
        float alpha = format == "kohya" ? 2f : Rank;
        var file = new Dictionary<string, Tensor>();
        foreach (var (path, down, up) in unetLayers) Add(file, format, "unet", path, down, up, alpha);
        foreach (var (path, down, up) in textLayers) Add(file, format, "text_encoder", path, down, up, alpha);
        var loraPath = Path.Combine(_dir, $"{format}.safetensors");
        SafeTensorsWriter.Write(loraPath, file);

        var reference = Sd1();
        var referenceEncoder = ((ClipPromptEncoder)reference.TextEncoder!).Towers[0].Encoder;
        reference.Unet.LoadStateDict(new DictionaryTensorSource(Merged(reference.Unet, "", unetLayers, scale * alpha / Rank)));
        referenceEncoder.LoadStateDict(new DictionaryTensorSource(Merged(referenceEncoder, "", textLayers, scale * alpha / Rank)), ClipTextModel.IgnoredKeys);

        int merged = LoraMerge.Apply(model, LoraFile.Read(loraPath), scale, loraPath);
        Assert.Equal(unetLayers.Count + textLayers.Count, merged);
        var fixture = new FixtureCase("sd-tiny");
        using var sample = fixture.Input("sample");
        using var conditioning = model.EncodePrompt("a blue square", "blurry");
        using var expectedConditioning = reference.EncodePrompt("a blue square", "blurry");
        Assert.InRange(ResultMetrics.RelativeError(conditioning.EncoderHiddenStates, expectedConditioning.EncoderHiddenStates), 0, 1e-5);
        using var actual = model.Unet.Forward(sample, 500f, conditioning.EncoderHiddenStates);
        using var expected = reference.Unet.Forward(sample, 500f, expectedConditioning.EncoderHiddenStates);
        Assert.InRange(ResultMetrics.RelativeError(actual, expected), 0, 1e-5);
        using var withoutLora = Sd1().Unet.Forward(sample, 500f, expectedConditioning.EncoderHiddenStates);
        Assert.True(ResultMetrics.RelativeError(withoutLora, expected) > 1e-3, "the LoRA changes the output");
    }

    [Fact]
    public void SdxlLorasWithOriginalBlockNamesFindTheirModules()
    {
        var fixture = new FixtureCase("sdxl-tiny");
        var model = DiffusionModel.Load(fixture.Directory, textEncoder: false);
        var config = UNetConfig.Load(Path.Combine(fixture.Directory, "unet", "config.json"));
        var layers = Targets(model.Unet).Select((t, i) => (t.Path, Pair(t.Module, 10 * i))).Select(x => (x.Path, x.Item2.Down, x.Item2.Up)).ToList();
        // The SGM names as diffusers' conversion script writes the original layout: input_blocks_4_1_…
        var sgm = OriginalLayout.UNet(layers.ToDictionary(l => l.Path + ".weight", l => l.Down), config)
            .ToDictionary(kv => kv.Value, kv => kv.Key["model.diffusion_model.".Length..^".weight".Length].Replace('.', '_'));
        var file = new Dictionary<string, Tensor>();
        foreach (var (_, down, up) in layers)
        {
            file[$"lora_unet_{sgm[down]}.lora_down.weight"] = down;
            file[$"lora_unet_{sgm[down]}.lora_up.weight"] = up;
            file[$"lora_unet_{sgm[down]}.alpha"] = Tensor.Full(8f, 1).Reshape();
        }
        Assert.Contains(file.Keys, k => k.StartsWith("lora_unet_input_blocks_", StringComparison.Ordinal));
        var path = Path.Combine(_dir, "sgm.safetensors");
        SafeTensorsWriter.Write(path, file);
        var reference = DiffusionModel.Load(fixture.Directory, textEncoder: false);
        reference.Unet.LoadStateDict(new DictionaryTensorSource(Merged(reference.Unet, "", layers, 0.5f * 8 / Rank)));
        LoraMerge.Apply(model, LoraFile.Read(path), 0.5f, path);
        using var sample = fixture.Input("sample");
        var conditioning = Conditioning.Load(fixture.InputsPath);
        using var actual = model.Unet.Forward(sample, 500f, conditioning.EncoderHiddenStates, conditioning.TextEmbeds, Conditioning.SdxlTimeIds(64, 64, 2));
        using var expected = reference.Unet.Forward(sample, 500f, conditioning.EncoderHiddenStates, conditioning.TextEmbeds, Conditioning.SdxlTimeIds(64, 64, 2));
        Assert.InRange(ResultMetrics.RelativeError(actual, expected), 0, 1e-5);
    }

    [Fact]
    public void KeysOfNeitherFormatAndModulesTheModelLacksAreErrorsListingThem()
    {
        var path = Path.Combine(_dir, "odd.safetensors");
        SafeTensorsWriter.Write(path, new Dictionary<string, Tensor>
        {
            ["lora_unet_down_blocks_0_resnets_0_conv1.hada_w1_a"] = Tensor.Zeros(2, 2),
            ["lora_unet_down_blocks_0_resnets_0_conv1.lora_down.weight"] = Tensor.Zeros(2, 2),
        });
        var e = Assert.Throws<InvalidDataException>(() => LoraFile.Read(path));
        Assert.Contains("hada_w1_a", e.Message);
        SafeTensorsWriter.Write(path, new Dictionary<string, Tensor>
        {
            ["lora_unet_no_such_module.lora_down.weight"] = Tensor.Zeros(2, 4),
            ["lora_unet_no_such_module.lora_up.weight"] = Tensor.Zeros(4, 2),
        });
        var missing = Assert.Throws<InvalidDataException>(() => LoraMerge.Apply(new FixtureCase("sd-tiny").Model, LoraFile.Read(path), 1f, path));
        Assert.Contains("no_such_module", missing.Message);
    }

    private static void Add(Dictionary<string, Tensor> file, string format, string component, string path, Tensor down, Tensor up, float alpha)
    {
        switch (format)
        {
            case "kohya":
                var name = (component == "unet" ? "lora_unet_" : "lora_te_") + path.Replace('.', '_');
                file[name + ".lora_down.weight"] = down;
                file[name + ".lora_up.weight"] = up;
                file[name + ".alpha"] = Tensor.Full(alpha, 1).Reshape();
                break;
            case "peft":
                file[$"{component}.{path}.lora_A.weight"] = down;
                file[$"{component}.{path}.lora_B.weight"] = up;
                break;
            case "diffusers-processor" when component == "unet" && path.Contains(".attn") && path.EndsWith("to_q"):
                file[$"unet.{path[..^5]}.processor.to_q_lora.down.weight"] = down;
                file[$"unet.{path[..^5]}.processor.to_q_lora.up.weight"] = up;
                break;
            case "diffusers-processor" when component == "text_encoder" && path.EndsWith("self_attn.out_proj"):
                file[$"text_encoder.{path[..^9]}.to_out_lora.down.weight"] = down;
                file[$"text_encoder.{path[..^9]}.to_out_lora.up.weight"] = up;
                break;
            default:
                var layer = component == "unet" ? "lora" : "lora_linear_layer";
                file[$"{component}.{path}.{layer}.down.weight"] = down;
                file[$"{component}.{path}.{layer}.up.weight"] = up;
                break;
        }
    }
}

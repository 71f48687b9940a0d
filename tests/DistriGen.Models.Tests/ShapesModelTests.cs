using System.Text.Json;
using DistriGen.Models.Pipelines;
using DistriGen.Tensors;
using DistriGen.Tensors.IO;

namespace DistriGen.Models.Tests;

/// <summary>The built-in "shapes" model: a pixel-space model with the token-embedding text encoder.</summary>
public sealed class ShapesModelTests
{
    private static readonly string Directory = Path.Combine(AppContext.BaseDirectory, "shapes");
    private static readonly Lazy<DiffusionModel> Model = new(() => DiffusionModel.Load(Directory));

    [Fact]
    public void ReferenceCaseReproducesDiffusers()
    {
        var model = Model.Value;
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, "reference", "case.json")));
        var root = doc.RootElement;
        using var inputs = SafeTensorsFile.Open(Path.Combine(Directory, "reference", "inputs.safetensors"));
        using var expectedFile = SafeTensorsFile.Open(Path.Combine(Directory, "reference", "expected.safetensors"));
        var request = new GenerationRequest
        {
            Steps = root.GetProperty("steps").GetInt32(),
            GuidanceScale = root.GetProperty("guidance_scale").GetSingle(),
            Width = root.GetProperty("width").GetInt32(),
            Height = root.GetProperty("height").GetInt32(),
            InitNoise = inputs.Read("init_noise").Keep(),
        };
        var conditioning = new Conditioning(inputs.Read("encoder_hidden_states").Keep());

        // Our text encoder gives the same embeddings the reference used.
        var encoded = model.EncodePrompt(root.GetProperty("caption").GetString()!);
        Assert.InRange(ResultMetrics.RelativeError(encoded.EncoderHiddenStates.Span, conditioning.EncoderHiddenStates.Span), 0, 1e-6);

        var result = DiffusionPipeline.Generate(model, new UNetPredictor(model.Unet), request, conditioning);
        using var expected = expectedFile.Read("image");
        Assert.Null(model.Vae);
        Assert.Equal(expected.Shape, result.Image.Shape);
        Assert.InRange(ResultMetrics.RelativeError(result.Image.Span, expected.Span), 0, 1e-3);
    }

    [Fact]
    public void UnknownWordListsTheVocabulary()
    {
        var e = Assert.Throws<ArgumentException>(() => Model.Value.EncodePrompt("a magenta circle"));
        Assert.Contains("'magenta'", e.Message);
        Assert.Contains("red green blue", e.Message);
        Assert.Contains("circle square triangle ring", e.Message);
    }

    [Fact]
    public void CaptionsAreLowerCasedPaddedAndCut()
    {
        var tokenizer = Text.WordTokenizer.Load(Path.Combine(Directory, "tokenizer"));
        Assert.Equal([1, 5, 13, 0, 0], tokenizer.Encode("A RED  circle", 5));
        Assert.Equal([1, 5], tokenizer.Encode("a red circle", 2));
        Assert.All(tokenizer.Encode("", 4), id => Assert.Equal(tokenizer.PadId, id));
    }
}

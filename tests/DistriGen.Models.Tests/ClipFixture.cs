using System.Text.Json;
using DistriGen.Models.Text;
using DistriGen.Tensors;
using DistriGen.Tensors.IO;

namespace DistriGen.Models.Tests;

/// <summary>
/// A CLIP reference case: tokenizers, tiny text encoders and what transformers 4.34 / diffusers 0.24
/// gave for its prompts (Fixtures/clip, see case.json).
/// </summary>
public sealed class ClipFixture
{
    private static readonly Dictionary<string, ClipFixture> Cases = new();

    private ClipFixture(string name)
    {
        Directory = Path.Combine(Root, name);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, "case.json")));
        Prompts = doc.RootElement.GetProperty("prompts").EnumerateArray().Select(p => p.GetString()!).ToArray();
        NegativePrompts = doc.RootElement.GetProperty("negative_prompts").EnumerateArray().Select(p => p.GetString()!).ToArray();
        Expected = SafeTensorsFile.Open(Path.Combine(Directory, "expected.safetensors"));
        Encoder = PromptEncoders.Load(Directory, Configuration.ModelIndex.None) as ClipPromptEncoder
            ?? throw new InvalidOperationException($"{Directory} has no CLIP text side.");
    }

    public static string Root => Path.Combine(AppContext.BaseDirectory, "Fixtures", "clip");

    public static ClipFixture Get(string name)
    {
        lock (Cases)
        {
            if (!Cases.TryGetValue(name, out var c)) Cases[name] = c = new ClipFixture(name);
            return c;
        }
    }

    public string Directory { get; }
    public string[] Prompts { get; }
    public string[] NegativePrompts { get; }
    public SafeTensorsFile Expected { get; }
    public ClipPromptEncoder Encoder { get; }

    /// <summary>Row <paramref name="row"/> of a reference tensor (index 0 of its first axis), as a tensor.</summary>
    public Tensor Row(string key, int row)
    {
        using var all = Expected.Read(key);
        int per = all.Length / all.Dim(0);
        return Tensor.FromArray(all.Span.Slice(row * per, per), [1, .. all.Shape[1..]]);
    }

    public int[] Ids(string key, int row) => Row(key, row).ToArray().Select(v => (int)v).ToArray();

    /// <summary>|actual − expected| ≤ 1e-4 everywhere (the fixtures' suggested float32 tolerance).</summary>
    public static void Close(Tensor expected, Tensor actual, string what)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        double worst = Pipelines.ResultMetrics.MaxAbsError(actual.Span, expected.Span);
        Assert.True(worst <= 1e-4, $"{what}: max abs difference {worst:0.0e+0} > 1e-4");
    }
}

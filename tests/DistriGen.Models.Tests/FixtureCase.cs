using System.Text.Json;
using DistriGen.Models.Pipelines;
using DistriGen.Tensors;
using DistriGen.Tensors.IO;

namespace DistriGen.Models.Tests;

/// <summary>One case of reference numbers from diffusers (copied from the project's fixtures into the test output).</summary>
public sealed class FixtureCase
{
    private static readonly Dictionary<string, DiffusionModel> Models = new();

    public FixtureCase(string name)
    {
        Name = name;
        Directory = Path.Combine(AppContext.BaseDirectory, "Fixtures", name);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, "case.json")));
        Steps = doc.RootElement.GetProperty("steps").GetInt32();
        GuidanceScale = doc.RootElement.GetProperty("guidance_scale").GetSingle();
        LatentHeight = doc.RootElement.GetProperty("latent_height").GetInt32();
        LatentWidth = doc.RootElement.GetProperty("latent_width").GetInt32();
    }

    public string Name { get; }
    public string Directory { get; }
    public int Steps { get; }
    public float GuidanceScale { get; }
    public int LatentHeight { get; }
    public int LatentWidth { get; }
    public string InputsPath => Path.Combine(Directory, "inputs.safetensors");
    public string ExpectedPath => Path.Combine(Directory, "expected.safetensors");

    /// <summary>The loaded model, shared by the tests of this run (weights are read-only).</summary>
    public DiffusionModel Model
    {
        get
        {
            lock (Models)
            {
                if (!Models.TryGetValue(Name, out var model)) Models[Name] = model = DiffusionModel.Load(Directory);
                return model;
            }
        }
    }

    public Tensor Input(string key)
    {
        using var file = SafeTensorsFile.Open(InputsPath);
        return file.Read(key).Keep();
    }

    public Tensor Expected(string key)
    {
        using var file = SafeTensorsFile.Open(ExpectedPath);
        return file.Read(key).Keep();
    }

    public GenerationRequest Request(int? steps = null) => new()
    {
        Steps = steps ?? Steps,
        GuidanceScale = GuidanceScale,
        Width = LatentWidth * Model.ImageScale,
        Height = LatentHeight * Model.ImageScale,
        InitNoise = Input("init_noise"),
    };
}

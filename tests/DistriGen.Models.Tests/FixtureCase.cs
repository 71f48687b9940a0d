using System.Text.Json;
using DistriGen.Models.Pipelines;
using DistriGen.Runtime;
using DistriGen.Runtime.Communication;
using DistriGen.Tensors;
using DistriGen.Tensors.Devices;
using DistriGen.Tensors.IO;

namespace DistriGen.Models.Tests;

/// <summary>
/// One case of reference numbers from diffusers (copied from the project's fixtures into the test
/// output), with its model loaded on a device (the host unless given).
/// </summary>
public sealed class FixtureCase
{
    private static readonly Dictionary<(string, Device), DiffusionModel> Models = new();

    public FixtureCase(string name, Device? device = null)
    {
        Name = name;
        Device = device ?? Device.Host;
        Directory = Path.Combine(AppContext.BaseDirectory, "Fixtures", name);
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Directory, "case.json")));
        Steps = doc.RootElement.GetProperty("steps").GetInt32();
        GuidanceScale = doc.RootElement.GetProperty("guidance_scale").GetSingle();
        LatentHeight = doc.RootElement.GetProperty("latent_height").GetInt32();
        LatentWidth = doc.RootElement.GetProperty("latent_width").GetInt32();
    }

    public string Name { get; }
    public Device Device { get; }
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
                if (!Models.TryGetValue((Name, Device), out var model))
                    Models[(Name, Device)] = model = DiffusionModel.Load(Directory, device: Device);
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

    /// <summary>The case's guided loop on one device.</summary>
    public GenerationResult SingleDevice() =>
        DiffusionPipeline.Generate(Model, new UNetPredictor(Model.Unet), Request(), Conditioning.Load(InputsPath));

    /// <summary>
    /// The case's guided loop on <paramref name="ranks"/> in-process ranks; every rank's latents must agree exactly.
    /// </summary>
    public GenerationResult Parallel(int ranks, PatchParallelOptions options)
    {
        var model = Model;
        var request = Request();
        var conditioning = Conditioning.Load(InputsPath);
        var results = InProcessLauncher.Run(ranks, 1, comm =>
        {
            using var run = PatchParallelRun.Create(comm, options.SplitBatch);
            var predictor = new PatchParallelPredictor(model.Unet, run, options, LatentHeight, LatentWidth);
            return DiffusionPipeline.Generate(model, predictor, request, conditioning);
        }, TimeSpan.FromSeconds(60));
        // Every rank steps the sampler on the same full prediction.
        foreach (var other in results.Skip(1)) Assert.Equal(results[0].FinalLatents.ToArray(), other.FinalLatents.ToArray());
        return results[0];
    }
}

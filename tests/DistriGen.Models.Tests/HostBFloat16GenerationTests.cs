using DistriGen.Models.Pipelines;
using DistriGen.Tensors.Compute;
using Xunit.Abstractions;

namespace DistriGen.Models.Tests;

/// <summary>Tests that switch the process-wide compute backend run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class ComputeBackendCollection
{
    public const string Name = "Compute backend";
}

/// <summary>
/// Whole generations with the host engine in bf16 (`--precision bf16`) against float32, on the built-in model and
/// the diffusers fixtures: the final image stays within 35 dB PSNR (the README reports these numbers).
/// </summary>
[Collection(ComputeBackendCollection.Name)]
public sealed class HostBFloat16GenerationTests(ITestOutputHelper output)
{
    [Theory]
    [InlineData("shapes", 32)]    // as `distrigen generate` draws by default
    [InlineData("shapes", 128)]   // as `distrigen compare` does
    [InlineData("sd-tiny", 0)]
    [InlineData("sdxl-tiny", 0)]
    public void Bf16_generation_stays_within_35_dB_of_float32(string name, int size)
    {
        if (DnnlBackend.TryLoad(out var why, bfloat16: true) is not { } bf16)
        {
            output.WriteLine($"not measured: {why}");
            return;
        }
        var fp32 = DnnlBackend.TryLoad(out _)!;
        var (model, request, conditioning) = Case(name, size);
        var reference = Generate(fp32, model, request, conditioning);
        var rounded = Generate(bf16, model, request, conditioning);
        double psnr = ResultMetrics.Psnr(rounded.Image, reference.Image);
        output.WriteLine($"{name} {size}: bf16 against float32, PSNR {psnr:0.0} dB, relative error " +
            $"{ResultMetrics.RelativeError(rounded.Image, reference.Image):0.0e0}");
        Assert.True(psnr >= 35, $"{name}: bf16 generation is {psnr:0.0} dB from float32's, below 35 dB.");
        Assert.True(!double.IsPositiveInfinity(psnr),
            $"{name}: bf16 gave float32's image bit for bit: it did not run.");
        reference.Dispose();
        rounded.Dispose();
    }

    private static GenerationResult Generate(IComputeBackend backend, DiffusionModel model, GenerationRequest request,
        Conditioning conditioning)
    {
        var previous = ComputeBackends.Current;
        try
        {
            ComputeBackends.Current = backend;
            return DiffusionPipeline.Generate(model, new UNetPredictor(model.Unet), request, conditioning);
        }
        finally
        {
            ComputeBackends.Current = previous;
        }
    }

    private static (DiffusionModel, GenerationRequest, Conditioning) Case(string name, int size)
    {
        if (name != "shapes")
        {
            var fixture = new FixtureCase(name);
            return (fixture.Model, fixture.Request(), Conditioning.Load(fixture.InputsPath));
        }
        // The built-in model on a prompt of its vocabulary, with its default steps and guidance.
        var model = DiffusionModel.Load(Path.Combine(AppContext.BaseDirectory, "shapes"));
        var request = new GenerationRequest { Steps = 30, GuidanceScale = 2, Width = size, Height = size };
        return (model, request, model.EncodePrompt("a red circle on blue background"));
    }
}

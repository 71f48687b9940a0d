using DistriGen.Models.Pipelines;

namespace DistriGen.Models.Tests;

/// <summary>Our numbers against diffusers' on the fixture cases, at the fixtures' tolerances.</summary>
public sealed class DiffusersFixtureTests
{
    public static TheoryData<string> Cases => new() { "sd-tiny", "sdxl-tiny" };

    [Theory]
    [MemberData(nameof(Cases))]
    public void UNetOutputMatchesDiffusers(string name)
    {
        var fixture = new FixtureCase(name);
        var conditioning = Conditioning.Load(fixture.InputsPath);
        using var sample = fixture.Input("sample");
        using var timestep = fixture.Input("timestep");
        using var output = fixture.Model.Unet.Forward(sample, timestep.Span[0], conditioning.EncoderHiddenStates, conditioning.TextEmbeds, conditioning.TimeIds);
        using var expected = fixture.Expected("unet_out");
        Assert.Equal(expected.Shape, output.Shape);
        Assert.InRange(ResultMetrics.RelativeError(output.Span, expected.Span), 0, 1e-4);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GuidedLoopMatchesDiffusers(string name)
    {
        var fixture = new FixtureCase(name);
        var conditioning = Conditioning.Load(fixture.InputsPath);
        var result = DiffusionPipeline.Generate(fixture.Model, new UNetPredictor(fixture.Model.Unet), fixture.Request(), conditioning);
        using var timesteps = fixture.Expected("timesteps");
        Assert.Equal(timesteps.ToArray(), result.Timesteps.ToArray());
        using var latents = fixture.Expected("final_latents");
        Assert.InRange(ResultMetrics.RelativeError(result.FinalLatents.Span, latents.Span), 0, 1e-3);
        using var image = fixture.Expected("image");
        Assert.Equal(image.Shape, result.Image.Shape);
        Assert.InRange(ResultMetrics.RelativeError(result.Image.Span, image.Span), 0, 1e-3);
    }
}

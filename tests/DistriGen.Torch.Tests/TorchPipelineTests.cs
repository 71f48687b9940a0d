using DistriGen.Models.Pipelines;
using DistriGen.Models.Tests;
using DistriGen.Runtime;
using DistriGen.Tensors.Devices;
using static DistriGen.Torch.Tests.TorchTesting;

namespace DistriGen.Torch.Tests;

/// <summary>
/// The diffusers fixtures on LibTorch's CPU device, at the same tolerances as on the host; patch
/// parallelism on it: Exact on two ranks equals one device, DistriFusion is as close as on the host.
/// </summary>
public sealed class TorchPipelineTests
{
    public static TheoryData<string> Cases => new() { "sd-tiny", "sdxl-tiny" };

    [Theory]
    [MemberData(nameof(Cases))]
    public void UNetOutputMatchesDiffusers(string name)
    {
        var fixture = new FixtureCase(name, Target);
        Assert.All(fixture.Model.Unet.NamedParameters(), p => Assert.Same(Target, p.Tensor.Device));
        using var conditioning = Conditioning.Load(fixture.InputsPath).To(Target);
        using var sample = Tensors.Ops.Ops.To(fixture.Input("sample"), Target);
        using var timestep = fixture.Input("timestep");
        using var output = fixture.Model.Unet.Forward(sample, timestep.ToArray()[0], conditioning.EncoderHiddenStates,
            conditioning.TextEmbeds, conditioning.TimeIds);
        Assert.Same(Target, output.Device);
        using var expected = fixture.Expected("unet_out");
        Assert.InRange(ResultMetrics.RelativeError(output, expected), 0, 1e-4);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void GuidedLoopMatchesDiffusers(string name)
    {
        var fixture = new FixtureCase(name, Target);
        using var result = fixture.SingleDevice();
        Assert.True(result.Image.Device.IsHost, "results come back to the host");
        using var latents = fixture.Expected("final_latents");
        Assert.InRange(ResultMetrics.RelativeError(result.FinalLatents, latents), 0, 1e-3);
        using var image = fixture.Expected("image");
        Assert.InRange(ResultMetrics.RelativeError(result.Image, image), 0, 1e-3);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void ExactOnTwoRanksEqualsOneDevice(string name)
    {
        var fixture = new FixtureCase(name, Target);
        using var single = fixture.SingleDevice();
        using var parallel = fixture.Parallel(2, new PatchParallelOptions { Mode = ParallelMode.Exact });
        Assert.InRange(ResultMetrics.RelativeError(parallel.FinalLatents, single.FinalLatents), 0, 1e-5);
        Assert.InRange(ResultMetrics.RelativeError(parallel.Image, single.Image), 0, 1e-5);
    }

    [Fact]
    public void DistriFusionIsAsCloseToOneDeviceAsOnTheHost()
    {
        var options = new PatchParallelOptions { Mode = ParallelMode.DistriFusion, WarmupSteps = 1 };
        double Psnr(Device device)
        {
            var fixture = new FixtureCase("sd-tiny", device);
            using var single = fixture.SingleDevice();
            using var parallel = fixture.Parallel(2, options);
            return ResultMetrics.Psnr(parallel.Image, single.Image);
        }
        double host = Psnr(Device.Host), torch = Psnr(Target);
        Assert.InRange(torch, host - 0.1, host + 0.1);
        Assert.InRange(host, 30, 200);
    }

    [Fact]
    public void Bf16GenerationStaysCloseToFp32()
    {
        var fp32 = new FixtureCase("sd-tiny", Target);
        var bf16 = new FixtureCase("sd-tiny", Target16);
        Assert.Equal(TorchSharp.torch.ScalarType.BFloat16, Target16.Precision);
        using var reference = fp32.SingleDevice();
        using var half = bf16.SingleDevice();
        Assert.InRange(ResultMetrics.RelativeError(half.Image, reference.Image), 1e-4, 5e-2);
    }
}

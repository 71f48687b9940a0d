using DistriGen.Runtime;
using DistriGen.Tensors.Devices;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using static DistriGen.Torch.Tests.TorchTesting;

namespace DistriGen.Torch.Tests;

/// <summary>Device names, rank → device mapping and the LibTorch provider.</summary>
public sealed class DevicePlacementTests
{
    [Theory]
    [InlineData("host", "host", null)]
    [InlineData("torch-cpu", "torch-cpu", null)]
    [InlineData("CUDA", "cuda", null)]
    [InlineData("cuda:3", "cuda", 3)]
    public void DeviceNamesParse(string text, string kind, int? index)
    {
        var spec = DeviceSpec.Parse(text);
        Assert.Equal(kind, spec.Kind);
        Assert.Equal(index, spec.Index);
    }

    [Theory]
    [InlineData("gpu", "--device")]
    [InlineData("cuda:-1", "--device")]
    [InlineData("cuda:x", "--device")]
    public void WrongDeviceNamesSayWhatIsAccepted(string text, string option)
    {
        var e = Assert.Throws<ArgumentException>(() => DeviceSpec.Parse(text));
        Assert.Contains(option, e.Message);
        Assert.Contains("torch-cpu", e.Message);
    }

    [Fact]
    public void HalfPrecisionNeedsALibTorchDevice()
    {
        var fp16 = Assert.Throws<ArgumentException>(() => DeviceSpec.Parse("host", "fp16"));
        Assert.Contains("--precision", fp16.Message);
        Assert.Equal("bf16", DeviceSpec.Parse("host", "bf16").Precision);
        Assert.Contains("fp32, bf16, fp16", Assert.Throws<ArgumentException>(() => DeviceSpec.Parse("cuda", "fp8")).Message);
    }

    [Fact]
    public void RanksTakeGpusAsTorchrunsLocalRankDoes()
    {
        var cuda = DeviceSpec.Parse("cuda");
        Assert.Equal([0, 1, 2, 0, 1], Enumerable.Range(0, 5).Select(r => cuda.IndexFor(r, 3)!.Value));
        var pinned = DeviceSpec.Parse("cuda:1");
        Assert.Equal([1, 1], Enumerable.Range(0, 2).Select(r => pinned.IndexFor(r, 2)!.Value));
        Assert.Contains("only 1 GPU", Assert.Throws<InvalidOperationException>(() => pinned.IndexFor(0, 1)).Message);
        Assert.Contains("no CUDA device", Assert.Throws<InvalidOperationException>(() => cuda.IndexFor(0, 0)).Message);
        Assert.Null(DeviceSpec.Parse("torch-cpu").IndexFor(3, 0));
    }

    [Fact]
    public void PlacementGivesEveryRankTheConfiguredDevice()
    {
        TorchTesting.Load();
        var services = new ServiceCollection().AddDistriGen(o => o.Device = DeviceSpec.Parse("torch-cpu")).AddDistriGenTorch().BuildServiceProvider();
        var placement = services.GetRequiredService<DevicePlacement>();
        Assert.Same(Cpu, placement.For(0));
        Assert.Same(Cpu, placement.For(1));
        var bf16 = new DevicePlacement([new TorchDeviceProvider()], Options.Create(new DistriGenOptions { Device = DeviceSpec.Parse("torch-cpu", "bf16") }));
        var half = TorchDevice.Cpu("bf16");
        Assert.Same(half, bf16.For(0));
        Assert.Equal("torch-cpu (bf16)", half.Name);
    }

    [Fact]
    public void WithoutALibTorchProviderALibTorchDeviceSaysWhatToReference()
    {
        var placement = new DevicePlacement([], Options.Create(new DistriGenOptions { Device = DeviceSpec.Parse("cuda") }));
        Assert.Contains("AddDistriGenTorch", Assert.Throws<InvalidOperationException>(() => placement.For(0)).Message);
        Assert.Same(Device.Host, new DevicePlacement([], Options.Create(new DistriGenOptions())).For(0));
    }

    [Fact]
    public void TheCpuBuildHasNoGpusAndSaysSo()
    {
        TorchTesting.Load();
        Assert.Equal(0, TorchDevice.CudaCount);
        var e = Assert.Throws<TorchUnavailableException>(() => new TorchDeviceProvider().Get(DeviceSpec.Parse("cuda"), 0));
        Assert.Contains("no CUDA GPU", e.Message);
    }
}

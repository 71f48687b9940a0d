using System.Text.Json;
using DistriGen.Models.Pipelines;
using DistriGen.Tensors.IO;
using DistriGen.Torch;

namespace DistriGen.Cli.Tests;

/// <summary>Tests whose runs switch the process-wide host backend (bf16 setups) run alone.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HostBackendCollection
{
    public const string Name = "Host backend";
}

/// <summary>
/// The tool on LibTorch's CPU device, as the diffusers cases are checked: eval-unet, generate on two
/// ranks in Exact mode, and the benchmarks side by side with the host. (The tests opt in to loading
/// TorchSharp's bridge on this system's older libstdc++.)
/// </summary>
[Collection(HostBackendCollection.Name)]
public sealed class DeviceCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("distrigen-device-").FullName;

    static DeviceCliTests() => Environment.SetEnvironmentVariable(TorchLibrary.GlibcxxFixVariable, "1");

    /// <summary>torch-cpu, or with DISTRIGEN_TORCH_TEST_DEVICE=cuda the GPU (tools/device-check.sh).</summary>
    private static string Device => Environment.GetEnvironmentVariable("DISTRIGEN_TORCH_TEST_DEVICE") == "cuda" ? "cuda" : "torch-cpu";

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Temp(string name) => Path.Combine(_dir, name);

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    private static double Error(string ours, string expected, string key)
    {
        using var a = SafeTensorsFile.Open(ours);
        using var b = SafeTensorsFile.Open(expected);
        return ResultMetrics.RelativeError(a.Read(key), b.Read(key));
    }

    [Theory]
    [InlineData("sd-tiny")]
    [InlineData("sdxl-tiny")]
    public void EvalUnetOnTorchCpuMatchesDiffusers(string name)
    {
        var inputs = Path.Combine(Fixture(name), "inputs.safetensors");
        Assert.Equal(0, Program.Run(["eval-unet", "--model", Fixture(name), "--inputs", inputs, "--out", Temp("unet.safetensors"), "--device", Device]));
        Assert.InRange(Error(Temp("unet.safetensors"), Path.Combine(Fixture(name), "expected.safetensors"), "unet_out"), 0, 1e-4);
    }

    [Fact]
    public void ExactOnTwoTorchCpuRanksMatchesDiffusers()
    {
        var fixture = Fixture("sd-tiny");
        var inputs = Path.Combine(fixture, "inputs.safetensors");
        Assert.Equal(0, Program.Run(["generate", "--model", fixture, "--embeddings", inputs, "--init-noise", inputs, "--steps", "10", "--guidance", "5",
            "--size", "64x64", "--device", Device, "--ranks", "2", "--parallelism", "exact", "--save-latents", Temp("latents.safetensors"),
            "--out", Temp("image.png")]));
        var expected = Path.Combine(fixture, "expected.safetensors");
        Assert.InRange(Error(Temp("latents.safetensors"), expected, "final_latents"), 0, 1e-3);
        Assert.InRange(Error(Temp("latents.safetensors"), expected, "image"), 0, 1e-3);
    }

    [Fact]
    public void BenchmarksMeasureDevicesSideBySide()
    {
        Assert.Equal(0, Program.Run(["bench", "unet", "--config", Fixture("sd-tiny"), "--size", "64x64", "--batch", "1", "--repeat", "1",
            "--device", $"host,{Device}", "--precision", "fp32,bf16", "--json", Temp("unet.json")]));
        using var unet = JsonDocument.Parse(File.ReadAllText(Temp("unet.json")));
        var setups = unet.RootElement.GetProperty("setups").EnumerateArray().ToList();
        // host, host (bf16), the LibTorch device, the LibTorch device (bf16).
        Assert.Equal(4, setups.Count);
        Assert.Equal(["host", "host (bf16)"], setups.Take(2).Select(s => s.GetProperty("device").GetString()));
        Assert.EndsWith("(bf16)", setups[3].GetProperty("device").GetString());
        Assert.InRange(setups[2].GetProperty("relative_error_vs_first").GetDouble(), 0, 1e-5);
        foreach (int bf16 in new[] { 1, 3 })
            Assert.InRange(setups[bf16].GetProperty("relative_error_vs_first").GetDouble(), 1e-5, 5e-2);
        Assert.Equal(0, Program.Run(["bench", "vae", "--size", "32x32", "--repeat", "1", "--device", $"{Device},host", "--json", Temp("vae.json")]));
        using var vae = JsonDocument.Parse(File.ReadAllText(Temp("vae.json")));
        Assert.Equal(2, vae.RootElement.GetProperty("devices").GetArrayLength());
    }

    [Theory]
    [InlineData("--device", "gpu")]
    [InlineData("--precision", "fp8")]
    public void AWrongDeviceIsAnErrorNamingTheOption(string option, string value) =>
        Assert.Equal(1, Program.Run(["generate", "--size", "32x32", "--steps", "1", "--device", option == "--device" ? value : Device,
            "--precision", option == "--precision" ? value : "fp32", "--out", Temp("x.png")]));
}

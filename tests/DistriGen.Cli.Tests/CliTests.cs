using DistriGen.Models;
using DistriGen.Models.Pipelines;
using DistriGen.Runtime;
using DistriGen.Tensors;
using DistriGen.Tensors.IO;
using DistriGen.Tensors.Nn;

namespace DistriGen.Cli.Tests;

/// <summary>The distrigen tool, run in-process as a user runs it.</summary>
public sealed class CliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("distrigen-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Temp(string name) => Path.Combine(_dir, name);

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    private static double RelativeError(Tensor actual, Tensor expected) => ResultMetrics.RelativeError(actual.Span, expected.Span);

    [Fact]
    public void TheDefaultCommandDrawsWithTheBuiltInModel()
    {
        Assert.Equal(0, Program.Run(["generate", "a red circle on dark background", "--size", "32x32", "--steps", "4", "--out", Temp("shapes.png")]));
        var bytes = File.ReadAllBytes(Temp("shapes.png"));
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, bytes[..4]);
    }

    [Theory]
    [InlineData("distrifusion")]
    [InlineData("pcpp")]
    [InlineData("naive")]
    [InlineData("exact")]
    public void EveryParallelismModeRunsOnTheBuiltInModel(string mode) =>
        Assert.Equal(0, Program.Run(["generate", "a blue ring on grass background", "--size", "32x32", "--steps", "3", "--ranks", "2", "--warmup-steps", "1", "--parallelism", mode, "--out", Temp($"{mode}.png")]));

    [Theory]
    [InlineData("ddim")]
    [InlineData("euler")]
    [InlineData("dpm")]
    public void EverySchedulerRunsOnAnyModel(string scheduler) =>
        Assert.Equal(0, Program.Run(["generate", "a white ring on light background", "--size", "32x32", "--steps", "4", "--scheduler", scheduler, "--out", Temp($"{scheduler}.png")]));

    [Fact]
    public void AnUnknownWordIsAnErrorNotACrash() =>
        Assert.Equal(1, Program.Run(["generate", "a magenta circle", "--size", "32x32", "--steps", "1", "--out", Temp("x.png")]));

    [Fact]
    public void AStepCountOutsideTheScheduleIsAnError() =>
        Assert.Equal(1, Program.Run(["generate", "--size", "32x32", "--steps", "0", "--out", Temp("x.png")]));

    [Fact]
    public void ASizeThatDoesNotSplitIsAnError() =>
        Assert.Equal(1, Program.Run(["generate", "--size", "32x8", "--steps", "1", "--ranks", "4", "--out", Temp("x.png")]));

    [Theory]
    [InlineData("sd-tiny")]
    [InlineData("sdxl-tiny")]
    public void EvalUnetMatchesDiffusers(string name)
    {
        Assert.Equal(0, Program.Run(["eval-unet", "--model", Fixture(name), "--inputs", Path.Combine(Fixture(name), "inputs.safetensors"), "--out", Temp("unet.safetensors")]));
        using var ours = SafeTensorsFile.Open(Temp("unet.safetensors"));
        using var expected = SafeTensorsFile.Open(Path.Combine(Fixture(name), "expected.safetensors"));
        Assert.InRange(RelativeError(ours.Read("unet_out"), expected.Read("unet_out")), 0, 1e-4);
    }

    [Theory]
    [InlineData("sd-tiny", "10", "5")]
    [InlineData("sdxl-tiny", "8", "5")]
    public void GenerateFromEmbeddingsMatchesDiffusers(string name, string steps, string guidance)
    {
        var inputs = Path.Combine(Fixture(name), "inputs.safetensors");
        Assert.Equal(0, Program.Run(["generate", "--model", Fixture(name), "--embeddings", inputs, "--init-noise", inputs, "--steps", steps, "--guidance", guidance, "--size", "64x64", "--save-latents", Temp("latents.safetensors"), "--out", Temp("image.png")]));
        using var ours = SafeTensorsFile.Open(Temp("latents.safetensors"));
        using var expected = SafeTensorsFile.Open(Path.Combine(Fixture(name), "expected.safetensors"));
        Assert.InRange(RelativeError(ours.Read("final_latents"), expected.Read("final_latents")), 0, 1e-3);
        Assert.InRange(RelativeError(ours.Read("image"), expected.Read("image")), 0, 1e-3);
    }

    [Fact]
    public void CompareWritesTheSideBySidePictureAndTheNumbers()
    {
        Assert.Equal(0, Program.Run(["compare", "--size", "32x32", "--steps", "3", "--warmup-steps", "1", "--ranks", "2", "--distrifuser-gn", "--out-dir", Temp("compare")]));
        foreach (var file in new[] { "single.png", "naive.png", "distrifusion.png", "pcpp.png", "side-by-side.png" })
            Assert.True(File.Exists(Path.Combine(Temp("compare"), file)), file);
        var rows = File.ReadAllLines(Path.Combine(Temp("compare"), "compare.csv"));
        Assert.StartsWith("mode,psnr_db,latent_rel_err", rows[0]);
        var psnr = rows.Skip(1).ToDictionary(r => r.Split(',')[0], r => double.Parse(r.Split(',')[1], System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(["naive", "distrifusion", "pcpp"], psnr.Keys);
        Assert.True(psnr["distrifusion"] > psnr["naive"], $"DistriFusion {psnr["distrifusion"]} dB, naive {psnr["naive"]} dB");
    }

    [Fact]
    public void PlanListsWhatDistriFusionWrapsOnSdxl()
    {
        Assert.Equal(0, Program.Run(["plan", "--config", "sdxl", "--ranks", "2"]));
        var context = Commands.PlanCommand.Plan(Models.Configuration.UNetConfig.StableDiffusionXl, 128, 128, 2, 2, new PatchParallelOptions())[0];
        using var meta = TensorScope.MetaMode();
        var modules = new UNet2DConditionModel(Models.Configuration.UNetConfig.StableDiffusionXl).NamedModules().ToList();
        var convs = modules.Where(m => m.Module is Conv2d { KernelSize: 3 } && m.Path != "conv_in").Select(m => m.Path).Order();
        var selfAttention = modules.Where(m => m.Module is Attention && m.Path.EndsWith("attn1")).Select(m => m.Path).Order();
        var norms = modules.Where(m => m.Module is GroupNorm).Select(m => m.Path).Order();
        Assert.Equal(convs, context.Points.Where(p => p.Kind == PatchMemberKind.HaloConv).Select(p => p.Path).Order());
        Assert.Equal(selfAttention, context.Points.Where(p => p.Kind == PatchMemberKind.Attention).Select(p => p.Path).Order());
        Assert.Equal(norms, context.Points.Where(p => p.Kind == PatchMemberKind.GroupNorm).Select(p => p.Path).Order());
        Assert.Equal(70, selfAttention.Count());
    }

    [Fact]
    public void PcppCutsAttentionTrafficAtFourRanksByMoreThanSeventyPercent()
    {
        var config = Models.Configuration.UNetConfig.StableDiffusion15;
        long Attention(ParallelMode mode) => Commands.PlanCommand.Plan(config, 64, 64, 4, 2, new PatchParallelOptions { Mode = mode, PcppRatio = 0.3 })
            .Max(c => c.Cache.PredictedBytesPerStep(CommKind.Attention).Async);
        Assert.True(Attention(ParallelMode.Pcpp) < 0.3 * Attention(ParallelMode.DistriFusion));
    }

    [Fact]
    public void BenchmarksRunOnASmallModelAndWriteJson()
    {
        Assert.Equal(0, Program.Run(["bench", "unet", "--config", Fixture("sd-tiny"), "--size", "64x64", "--batch", "1", "--repeat", "1", "--threads", "1", "--json", Temp("unet.json")]));
        using (var unet = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Temp("unet.json"))))
            Assert.True(unet.RootElement.GetProperty("setups")[0].GetProperty("call").GetProperty("seconds").GetDouble() > 0);
        Assert.Equal(0, Program.Run(["bench", "vae", "--size", "64x64", "--ranks", "2", "--threads-per-rank", "1", "--repeat", "1", "--json", Temp("vae.json")]));
        using (var vae = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Temp("vae.json"))))
        {
            var setups = vae.RootElement.GetProperty("setups").EnumerateArray().ToList();
            Assert.Equal([1, 2], setups.Select(s => s.GetProperty("ranks").GetInt32()));
            Assert.All(setups, s => Assert.True(s.GetProperty("seconds").GetDouble() > 0 && s.GetProperty("peak_bytes_per_rank").GetInt64() > 0));
            Assert.All(setups, s => Assert.Equal(1, s.GetProperty("threads_per_rank").GetInt32()));
        }
        Assert.Equal(0, Program.Run(["bench", "parallel", "--config", Fixture("sd-tiny"), "--size", "64x64", "--ranks", "2", "--steps", "3", "--threads", "2", "--json", Temp("parallel.json")]));
        Assert.True(System.Text.Json.JsonDocument.Parse(File.ReadAllText(Temp("parallel.json"))).RootElement.GetProperty("setups").GetArrayLength() >= 3);
        Assert.Equal(0, Program.Run(["bench", "parallel", "--config", Fixture("sd-tiny"), "--size", "64x64", "--ranks", "2", "--steps", "3", "--threads", "2",
            "--baseline", "false", "--modes", "distrifusion,pcpp@0.3", "--breakdown", "--backend", "auto"]));
    }

    [Fact]
    public async Task OpenMpiRanksGiveTheSingleDeviceImage()
    {
        if (!ToolProcess.HasMpi()) return;
        string[] common = ["generate", "a green triangle on sky background", "--size", "32x32", "--steps", "3", "--seed", "3", "--threads-per-rank", "1"];
        Assert.Equal(0, Program.Run([.. common, "--save-latents", Temp("single.safetensors"), "--out", Temp("single.png")]));
        async Task Mpirun(params string[] options)
        {
            var r = await ToolProcess.RunMpi([(2, [.. common, .. options])]);
            Assert.True(r.ExitCode == 0, $"mpirun exited {r.ExitCode}: {r.All}");
        }

        await Mpirun("--parallelism", "exact", "--save-latents", Temp("mpi.safetensors"), "--out", Temp("mpi.png"));
        using var single = SafeTensorsFile.Open(Temp("single.safetensors"));
        using var mpi = SafeTensorsFile.Open(Temp("mpi.safetensors"));
        Assert.InRange(RelativeError(mpi.Read("final_latents"), single.Read("final_latents")), 0, 1e-5);

        // PCPP's point-to-point windows over MPI: it runs and rank 0 writes the image.
        await Mpirun("--parallelism", "pcpp", "--warmup-steps", "1", "--out", Temp("pcpp.png"));
        Assert.True(File.Exists(Temp("pcpp.png")));
    }
}

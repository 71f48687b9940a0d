using DistriGen.Models.Configuration;
using DistriGen.Models.Pipelines;
using DistriGen.Models.Tests;
using DistriGen.Tensors;
using DistriGen.Tensors.IO;
using DistriGen.Tensors.Ops;

namespace DistriGen.Cli.Tests;

/// <summary>The tool on a single-file checkpoint and with LoRA, as the diffusers cases are checked.</summary>
public sealed class CheckpointCliTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("distrigen-checkpoint-cli-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Temp(string name) => Path.Combine(_dir, name);

    private static string Fixture(string name) => Path.Combine(AppContext.BaseDirectory, "Fixtures", name);

    /// <summary>sd-tiny as one original-layout F32 file.</summary>
    private string SingleFile()
    {
        var folder = Fixture("sd-tiny");
        var vae = VaeConfig.Load(Path.Combine(folder, "vae", "config.json"));
        var tensors = OriginalLayout.UNet(OriginalLayout.Read(Path.Combine(folder, "unet", "diffusion_pytorch_model.safetensors")),
                UNetConfig.Load(Path.Combine(folder, "unet", "config.json")))
            .Concat(OriginalLayout.Vae(OriginalLayout.Read(Path.Combine(folder, "vae", "diffusion_pytorch_model.safetensors")), vae.BlockOutChannels.Length, vae.LayersPerBlock));
        SafeTensorsWriter.Write(Temp("sd-tiny.safetensors"), tensors.ToDictionary());
        return Temp("sd-tiny.safetensors");
    }

    private static double Error(string ours, string theirs, string key)
    {
        using var a = SafeTensorsFile.Open(ours);
        using var b = SafeTensorsFile.Open(theirs);
        return ResultMetrics.RelativeError(a.Read(key), b.Read(key));
    }

    [Fact]
    public void ASingleFileGivesTheFoldersNumbersAndConvertsToAFolder()
    {
        var file = SingleFile();
        var inputs = Path.Combine(Fixture("sd-tiny"), "inputs.safetensors");
        var expected = Path.Combine(Fixture("sd-tiny"), "expected.safetensors");
        Assert.Equal(0, Program.Run(["eval-unet", "--model", file, "--config", Fixture("sd-tiny"), "--inputs", inputs, "--out", Temp("unet.safetensors")]));
        Assert.InRange(Error(Temp("unet.safetensors"), expected, "unet_out"), 0, 1e-4);
        string[] generate = ["generate", "--embeddings", inputs, "--init-noise", inputs, "--steps", "10", "--guidance", "5", "--size", "64x64"];
        Assert.Equal(0, Program.Run([.. generate, "--model", file, "--config", Fixture("sd-tiny"), "--save-latents", Temp("file.safetensors"), "--out", Temp("file.png")]));
        Assert.InRange(Error(Temp("file.safetensors"), expected, "final_latents"), 0, 1e-3);
        Assert.Equal(0, Program.Run(["convert", file, "--config", Fixture("sd-tiny"), "--out", Temp("converted")]));
        Assert.Equal(0, Program.Run(["eval-unet", "--model", Temp("converted"), "--inputs", inputs, "--out", Temp("converted.safetensors")]));
        Assert.InRange(Error(Temp("converted.safetensors"), Temp("unet.safetensors"), "unet_out"), 0, 1e-6);
    }

    [Fact]
    public void ALoraGivesTheSameOutputOnTheFileAndOnTheFolderAndItsScaleCounts()
    {
        var file = SingleFile();
        var lora = new Dictionary<string, Tensor>();
        var model = DiffusionModel.Load(Fixture("sd-tiny"), textEncoder: false).Unet;
        int seed = 0;
        foreach (var (path, module) in model.NamedModules().Where(m => m.Module is DistriGen.Tensors.Nn.Linear && m.Path.Contains("attn")))
        {
            var weight = ((DistriGen.Tensors.Nn.Linear)module).Weight;
            var name = "lora_unet_" + path.Replace('.', '_');
            lora[name + ".lora_down.weight"] = Ops.Multiply(SeededNormal.Sample(seed++, 4, weight.Dim(1)), 0.2f).Keep();
            lora[name + ".lora_up.weight"] = Ops.Multiply(SeededNormal.Sample(seed++, weight.Dim(0), 4), 0.2f).Keep();
        }
        SafeTensorsWriter.Write(Temp("lora.safetensors"), lora);
        var inputs = Path.Combine(Fixture("sd-tiny"), "inputs.safetensors");
        string[] eval = ["eval-unet", "--inputs", inputs];
        Assert.Equal(0, Program.Run([.. eval, "--model", file, "--config", Fixture("sd-tiny"), "--lora", Temp("lora.safetensors") + ":0.5", "--out", Temp("file.safetensors")]));
        Assert.Equal(0, Program.Run([.. eval, "--model", Fixture("sd-tiny"), "--lora", Temp("lora.safetensors") + ":0.5", "--out", Temp("folder.safetensors")]));
        Assert.Equal(0, Program.Run([.. eval, "--model", Fixture("sd-tiny"), "--lora", Temp("lora.safetensors"), "--out", Temp("full.safetensors")]));
        Assert.InRange(Error(Temp("file.safetensors"), Temp("folder.safetensors"), "unet_out"), 0, 1e-5);
        Assert.True(Error(Temp("full.safetensors"), Temp("folder.safetensors"), "unet_out") > 1e-4, "scale 1 and 0.5 differ");
        Assert.Equal(1, Program.Run([.. eval, "--model", Fixture("sd-tiny"), "--lora", Temp("missing.safetensors"), "--out", Temp("x.safetensors")]));
    }

    [Theory]
    [InlineData("style.safetensors", "style.safetensors", 1f)]
    [InlineData("style.safetensors:0.75", "style.safetensors", 0.75f)]
    [InlineData("C:/loras/a:b.safetensors:-1", "C:/loras/a:b.safetensors", -1f)]
    public void LoraArgumentsCarryTheirScale(string value, string path, float scale) =>
        Assert.Equal((path, scale), Commands.LoraOptions.Parse(value));
}

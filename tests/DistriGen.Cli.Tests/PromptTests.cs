using DistriGen.Models.Pipelines;
using DistriGen.Tensors;
using DistriGen.Tensors.IO;

namespace DistriGen.Cli.Tests;

/// <summary>Prompt to image on Stable Diffusion and SDXL folders, and encode-prompt.</summary>
public sealed class PromptTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("distrigen-prompt-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Temp(string name) => Path.Combine(_dir, name);

    [Fact]
    public void Stable_diffusion_folder_generates_from_a_prompt_as_from_its_encoded_embeddings()
    {
        var model = ModelFolders.StableDiffusion(_dir);
        string[] common = ["--model", model, "--steps", "3", "--size", "64x64", "--seed", "5"];
        Assert.Equal(0, Program.Run(["generate", "a photo of a cat", "--negative-prompt", "blurry", .. common, "--save-latents", Temp("prompt.safetensors"), "--out", Temp("a.png")]));
        Assert.Equal(0, Program.Run(["encode-prompt", "a photo of a cat", "--model", model, "--negative-prompt", "blurry", "--out", Temp("embeds.safetensors")]));
        Assert.Equal(0, Program.Run(["generate", "--embeddings", Temp("embeds.safetensors"), .. common, "--save-latents", Temp("embedded.safetensors"), "--out", Temp("b.png")]));
        using var a = SafeTensorsFile.Open(Temp("prompt.safetensors"));
        using var b = SafeTensorsFile.Open(Temp("embedded.safetensors"));
        Assert.Equal(a.Read("image").ToArray(), b.Read("image").ToArray());

        using var embeds = SafeTensorsFile.Open(Temp("embeds.safetensors"));
        Assert.Equal(SafeTensorsDType.I64, embeds.Entry("input_ids").DType);
        Assert.Equal([1, 77], embeds.ShapeOf("input_ids"));
        Assert.Equal([1, 77, 32], embeds.ShapeOf("prompt_embeds"));
        Assert.False(embeds.Contains("pooled_prompt_embeds"));
    }

    [Fact]
    public void Stable_diffusion_2_folder_pads_with_its_own_token()
    {
        var model = ModelFolders.StableDiffusion2(_dir);
        Assert.Equal(0, Program.Run(["encode-prompt", "a cat!", "--model", model, "--out", Temp("sd2.safetensors")]));
        using var embeds = SafeTensorsFile.Open(Temp("sd2.safetensors"));
        var ids = embeds.Read("input_ids").ToArray();
        Assert.Equal([49406f, 320, 2368, 0, 49407, 0], ids[..6]);
        Assert.Equal(0, Program.Run(["generate", "a cat", "--model", model, "--steps", "2", "--size", "64x64", "--out", Temp("sd2.png")]));
    }

    [Fact]
    public void Sdxl_folder_generates_from_a_prompt_on_one_and_two_ranks()
    {
        var model = ModelFolders.StableDiffusionXl(_dir);
        string[] common = ["generate", "an astronaut riding a horse", "--model", model, "--steps", "2", "--size", "64x64"];
        Assert.Equal(0, Program.Run([.. common, "--save-latents", Temp("single.safetensors"), "--out", Temp("single.png")]));
        Assert.Equal(0, Program.Run([.. common, "--ranks", "2", "--parallelism", "exact", "--save-latents", Temp("two.safetensors"), "--out", Temp("two.png")]));
        using var single = SafeTensorsFile.Open(Temp("single.safetensors"));
        using var two = SafeTensorsFile.Open(Temp("two.safetensors"));
        Assert.InRange(ResultMetrics.RelativeError(two.Read("final_latents").Span, single.Read("final_latents").Span), 0, 1e-5);

        Assert.Equal(0, Program.Run(["encode-prompt", "an astronaut", "--model", model, "--out", Temp("xl.safetensors")]));
        using var embeds = SafeTensorsFile.Open(Temp("xl.safetensors"));
        Assert.Equal([1, 77, 72], embeds.ShapeOf("prompt_embeds"));
        Assert.Equal([1, 24], embeds.ShapeOf("pooled_prompt_embeds"));
        Assert.Equal([1, 77], embeds.ShapeOf("input_ids_2"));
        // No negative prompt: SDXL's force_zeros_for_empty_prompt.
        Assert.All(embeds.Read("negative_prompt_embeds").ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void A_folder_without_a_tokenizer_says_which_folder_is_missing_and_what_to_do()
    {
        var model = ModelFolders.StableDiffusion(_dir);
        Directory.Delete(Path.Combine(model, "tokenizer"), recursive: true);
        var e = Assert.Throws<DirectoryNotFoundException>(() => DiffusionModel.Load(model));
        Assert.Contains("no tokenizer/", e.Message);
        Assert.Contains("--embeddings", e.Message);
    }

    [Fact]
    public void An_encoder_of_the_wrong_width_names_both_numbers_and_files()
    {
        var model = ModelFolders.StableDiffusion(_dir);
        ModelFolders.CopyFolder(Path.Combine(AppContext.BaseDirectory, "Fixtures", "clip", "sdxl-clip", "text_encoder_2"), Path.Combine(model, "text_encoder"));
        var e = Assert.ThrowsAny<Exception>(() => DiffusionModel.Load(model));
        Assert.Contains("unet", e.Message);
        Assert.Contains("32", e.Message);
        Assert.Contains("40", e.Message);
    }

    [Fact]
    public void The_built_in_model_draws_at_its_own_size_and_enlarges_for_viewing()
    {
        Assert.Equal(0, Program.Run(["generate", "a red circle on dark background", "--steps", "2", "--out", Temp("shapes.png")]));
        var png = File.ReadAllBytes(Temp("shapes.png"));
        // IHDR width and height, big-endian at bytes 16–23: 32×32 drawn, written as 256×256.
        Assert.Equal(256, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16)));
        Assert.Equal(256, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20)));
        Assert.Equal(0, Program.Run(["generate", "a red circle on dark background", "--steps", "2", "--scale", "1", "--out", Temp("small.png")]));
        Assert.Equal(32, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(File.ReadAllBytes(Temp("small.png")).AsSpan(16)));
    }
}

using DistriGen.Models.Pipelines;
using DistriGen.Runtime.Communication;
using DistriGen.Tensors;

namespace DistriGen.Models.Tests;

/// <summary>The VAE decode split across ranks against the whole decode on one device.</summary>
public sealed class PatchParallelVaeTests
{
    [Theory]
    [InlineData("sd-tiny", 2)]
    [InlineData("sd-tiny", 3)]
    [InlineData("sdxl-tiny", 4)]
    public void Decoding_in_bands_gives_the_single_device_image(string name, int ranks)
    {
        var fixture = new FixtureCase(name);
        var vae = fixture.Model.Vae!;
        using var latents = fixture.Expected("final_latents");
        using var scaled = Tensors.Ops.Ops.Multiply(latents, 1f / vae.Config.ScalingFactor);
        using var single = vae.Decode(scaled);
        var images = InProcessLauncher.Run(ranks, 1, comm => new PatchParallelDecoder(comm, TimeSpan.FromSeconds(30)).Decode(vae, scaled).Keep());
        foreach (var image in images)
        {
            Assert.Equal(single.Shape, image.Shape);
            Assert.InRange(ResultMetrics.MaxAbsError(image.Span, single.Span), 0, 1e-5);
        }
        // Every rank holds the same image.
        Assert.All(images, image => Assert.Equal(images[0].ToArray(), image.ToArray()));
    }

    [Fact]
    public void A_latent_with_fewer_rows_than_ranks_is_decoded_whole()
    {
        var vae = new FixtureCase("sd-tiny").Model.Vae!;
        using var latents = Tensors.Ops.SeededNormal.Sample(3, 1, 4, 2, 8);
        using var single = vae.Decode(latents);
        var images = InProcessLauncher.Run(3, 1, comm => new PatchParallelDecoder(comm, TimeSpan.FromSeconds(30)).Decode(vae, latents).Keep());
        Assert.Equal(single.ToArray(), images[1].ToArray());
    }
}

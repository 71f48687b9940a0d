using DistriGen.Runtime;
using DistriGen.Runtime.Communication;
using DistriGen.Tensors;

namespace DistriGen.Models.Pipelines;

/// <summary>Turns the final latents (already divided by the scaling factor) into the image.</summary>
public interface ILatentDecoder
{
    Tensor Decode(AutoencoderKL vae, Tensor latents);
}

/// <summary>The whole VAE decode on this device.</summary>
public sealed class SingleDeviceDecoder : ILatentDecoder
{
    public static SingleDeviceDecoder Instance { get; } = new();

    public Tensor Decode(AutoencoderKL vae, Tensor latents) => vae.Decode(latents);
}

/// <summary>
/// The VAE decode split across the ranks of <paramref name="world"/>: each decodes one band of latent
/// rows (and the halo rows its convolutions need) with the VAE's patch-parallel variant in Exact mode —
/// one synchronous pass, so the image equals the single device's — then the bands are gathered so
/// every rank holds the image. Each rank's activations are its band's, a fraction of the whole decode's.
/// </summary>
public sealed class PatchParallelDecoder(ICommunicator world, TimeSpan timeout) : ILatentDecoder
{
    public Tensor Decode(AutoencoderKL vae, Tensor latents)
    {
        int height = latents.Dim(2), width = latents.Dim(3), scale = vae.Config.ScaleFactor;
        if (height < world.Size) return vae.Decode(latents);
        // Any row count splits: the decoder only upsamples, so every level has whole rows of each band.
        var layout = new BandLayout(height, width, world.Size, alignment: 1);
        var context = new PatchContext(world, layout, new PatchParallelOptions { Mode = ParallelMode.Exact, GroupNormMode = GroupNormMode.Exact, Timeout = timeout });
        var variant = vae.ToPatchParallel(context);
        context.BeginGeneration(1);
        context.BeginStep(0);
        using var band = variant.Decode(latents);
        context.EndStep();
        using var run = PatchParallelRun.Create(world, splitBatch: false);
        return run.GatherBands(band, new BandLayout(height * scale, width * scale, world.Size, alignment: scale));
    }
}

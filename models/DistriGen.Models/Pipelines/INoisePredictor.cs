using DistriGen.Tensors;

namespace DistriGen.Models.Pipelines;

/// <summary>Runs the UNet on a whole latent batch, on one device or as one rank of a patch-parallel run.</summary>
public interface INoisePredictor
{
    /// <summary>Called once before the first step of a generation; exchanges stop when <paramref name="cancellation"/> is cancelled.</summary>
    void BeginGeneration(int steps, CancellationToken cancellation = default);

    /// <summary>The UNet's prediction for the full batch <paramref name="x"/> at step <paramref name="step"/>.</summary>
    Tensor Predict(Tensor x, float timestep, Conditioning conditioning, int step);

    /// <summary>The UNet on one device, which a run that went non-finite repeats with its layers traced.</summary>
    UNet2DConditionModel SingleDevice { get; }
}

/// <summary>Plain single-device inference.</summary>
public sealed class UNetPredictor(UNet2DConditionModel unet) : INoisePredictor
{
    public void BeginGeneration(int steps, CancellationToken cancellation = default) { }

    public UNet2DConditionModel SingleDevice => unet;

    public Tensor Predict(Tensor x, float timestep, Conditioning c, int step) =>
        unet.Forward(x, timestep, c.EncoderHiddenStates, c.TextEmbeds, c.TimeIds);
}

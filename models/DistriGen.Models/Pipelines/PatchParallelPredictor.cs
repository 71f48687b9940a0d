using DistriGen.Runtime;
using DistriGen.Tensors;
using DistriGen.Tensors.Ops;

namespace DistriGen.Models.Pipelines;

/// <summary>
/// One rank of a patch-parallel UNet: it runs the generated variant on its band (and, with batch
/// splitting, on its guidance row), then gathers every band so each rank holds the full prediction
/// and steps the sampler on the full latent, identically.
/// </summary>
public sealed class PatchParallelPredictor : INoisePredictor
{
    private readonly UNet2DConditionModel _variant;
    private readonly PatchParallelRun _run;
    private int _steps;
    private long _bytesAtStart;

    public PatchParallelPredictor(UNet2DConditionModel unet, PatchParallelRun run, PatchParallelOptions options, int latentHeight, int latentWidth)
    {
        SingleDevice = unet;
        _run = run;
        Layout = new BandLayout(latentHeight, latentWidth, run.PatchGroup.Size, unet.Config.Downsampling);
        Context = new PatchContext(run.PatchGroup, Layout, options);
        _variant = unet.ToPatchParallel(Context);
    }

    public PatchContext Context { get; }
    public UNet2DConditionModel SingleDevice { get; }
    public BandLayout Layout { get; }

    /// <summary>Steps run in the last generation.</summary>
    public int StepsRun => _steps;

    public void BeginGeneration(int steps, CancellationToken cancellation = default)
    {
        Context.BeginGeneration(steps, cancellation);
        Context.Cache.ResetCounters();
        _bytesAtStart = _bytesAfterLastStep = CommunicatorBytes;
        _steps = 0;
    }

    /// <summary>
    /// Bytes this rank's communicators sent in this generation's denoising steps (layers and band gathers).
    /// </summary>
    public long BytesSentThisGeneration => _bytesAfterLastStep - _bytesAtStart;

    private long _bytesAfterLastStep;

    private long CommunicatorBytes => _run.World.BytesSent + (ReferenceEquals(_run.World, _run.PatchGroup) ? 0 : _run.PatchGroup.BytesSent);

    public Tensor Predict(Tensor x, float timestep, Conditioning c, int step)
    {
        if (_run.SplitBatch && x.Dim(0) != 2)
            throw new InvalidOperationException("--split-batch splits the guidance batch; it needs classifier-free guidance (guidance scale above 1).");
        Context.BeginStep(step);
        Tensor band;
        if (_run.SplitBatch)
        {
            using var row = Ops.SliceBatch(x, _run.BatchIndex, _run.BatchIndex + 1);
            var rows = c.Rows(_run.BatchIndex, _run.BatchIndex + 1);
            band = _variant.Forward(row, timestep, rows.EncoderHiddenStates, rows.TextEmbeds, rows.TimeIds);
        }
        else
        {
            band = _variant.Forward(x, timestep, c.EncoderHiddenStates, c.TextEmbeds, c.TimeIds);
        }
        Context.EndStep();
        _steps++;
        using (band)
        {
            var full = _run.GatherBands(band, Layout);
            _bytesAfterLastStep = CommunicatorBytes;
            return full;
        }
    }
}

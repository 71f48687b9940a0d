using DistriGen.Runtime.Communication;

namespace DistriGen.Runtime;

/// <summary>
/// One rank's place in a patch-parallel run: its rank among the ranks, the band layout, the options,
/// the step scheduler and the exchange. <see cref="Rewriter"/> builds the rank's variant of a model
/// (the generated ToPatchParallel uses it); the step calls mark the generation's progress.
/// </summary>
public sealed class PatchContext
{
    public PatchContext(ICommunicator patchGroup, BandLayout layout, PatchParallelOptions options)
    {
        options.Validate();
        if (layout.Ranks != patchGroup.Size)
            throw new ArgumentException($"The band layout has {layout.Ranks} bands but the patch group has {patchGroup.Size} ranks.");
        Communicator = patchGroup;
        Layout = layout;
        Options = options;
        Scheduler = new StepScheduler(options);
        Cache = new ActivationCache(patchGroup, Scheduler, options.BucketSize);
        Rewriter = new PatchRewriter(this);
    }

    public ICommunicator Communicator { get; }
    public BandLayout Layout { get; }
    public PatchParallelOptions Options { get; }
    public StepScheduler Scheduler { get; }

    /// <summary>The exchange every patch layer's point belongs to.</summary>
    public ActivationCache Cache { get; }

    /// <summary>Builds variants of models for this rank; used by generated code.</summary>
    public PatchRewriter Rewriter { get; }

    public int Rank => Communicator.Rank;
    public int Size => Communicator.Size;
    public ParallelMode Mode => Options.Mode;

    /// <summary>This rank's first and last latent row (exclusive).</summary>
    public (int Start, int End) Band => (Layout.Start(Rank), Layout.End(Rank));

    /// <summary>Every communication point of the variants built with this context, with its path.</summary>
    public IReadOnlyList<PatchPoint> Points => Rewriter.Points;

    /// <summary>Starts a generation of <paramref name="steps"/> denoising steps; <paramref name="cancellation"/> stops its exchanges.</summary>
    public void BeginGeneration(int steps, CancellationToken cancellation = default)
    {
        Scheduler.BeginGeneration(steps, cancellation);
        Cache.ResetReceived();
    }

    public void BeginStep(int step) => Scheduler.BeginStep(step);

    public void EndStep()
    {
        if (Scheduler.Step == 0) Cache.CloseRegistration();
    }
}

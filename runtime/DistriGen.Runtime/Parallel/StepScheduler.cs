namespace DistriGen.Runtime;

/// <summary>
/// Which steps exchange synchronously: the first <see cref="PatchParallelOptions.WarmupSteps"/>
/// (and every step in <see cref="ParallelMode.Exact"/>); the rest use the previous step's data.
/// </summary>
public sealed class StepScheduler(PatchParallelOptions options)
{
    /// <summary>The current denoising step (0-based); -1 before the first.</summary>
    public int Step { get; private set; } = -1;

    public ParallelMode Mode => options.Mode;

    /// <summary>Whether this step exchanges synchronously.</summary>
    public bool IsSync => options.Mode == ParallelMode.Exact || Step < options.WarmupSteps;

    /// <summary>Synchronous steps at the start of a generation.</summary>
    public int WarmupSteps => options.WarmupSteps;

    /// <summary>Steps in this generation.</summary>
    public int TotalSteps { get; private set; }

    /// <summary>Generations started so far; messages of one never meet those of another.</summary>
    public int Generation { get; private set; }

    /// <summary>On the last step nothing is sent for a next step.</summary>
    public bool IsLastStep => Step == TotalSteps - 1;

    /// <summary>Cancels the generation: checked before every exchange.</summary>
    public CancellationToken Cancellation { get; private set; }

    /// <summary>Starts a new generation of <paramref name="totalSteps"/> steps.</summary>
    public void BeginGeneration(int totalSteps, CancellationToken cancellation = default)
    {
        if (totalSteps < 1) throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "At least one step.");
        Cancellation = cancellation;
        TotalSteps = totalSteps;
        Generation++;
        Step = -1;
    }

    public void BeginStep(int step)
    {
        if (TotalSteps == 0) throw new InvalidOperationException("BeginGeneration must be called before the first step.");
        if (step != Step + 1) throw new InvalidOperationException($"Steps must run in order: step {step} after step {Step}.");
        if (step >= TotalSteps) throw new InvalidOperationException($"Step {step} is past the {TotalSteps} steps this generation announced.");
        Step = step;
    }
}

namespace DistriGen.Runtime;

/// <summary>How ranks share the layers that need other bands' pixels.</summary>
public enum ParallelMode
{
    /// <summary>Synchronous exchange at every step: identical to single-device inference up to rounding.</summary>
    Exact,
    /// <summary>DistriFusion: synchronous warmup, then each rank uses the previous step's data from the others, sent asynchronously.</summary>
    DistriFusion,
    /// <summary>PCPP: as DistriFusion, but after warmup self-attention sees only a fraction of its neighbours' rows.</summary>
    Pcpp,
    /// <summary>No exchange: zero padding at the seams, local attention and statistics. The baseline that shows why exchange matters.</summary>
    Naive,
}

/// <summary>How GroupNorm statistics are shared after warmup (DistriFusion's GN modes).</summary>
public enum GroupNormMode
{
    /// <summary>All-reduce at every step (DistriFusion's sync_gn).</summary>
    Exact,
    /// <summary>
    /// DistriFusion's correction (the others' bands change as ours did), averaged with each band's own
    /// trend over its last two steps, on mean and variance.
    /// </summary>
    Corrected,
    /// <summary>Others' statistics from the previous step with the own fresh ones.</summary>
    Stale,
    /// <summary>Local statistics only.</summary>
    Separate,
}

/// <summary>The options of a patch-parallel run.</summary>
public sealed class PatchParallelOptions
{
    public ParallelMode Mode { get; set; } = ParallelMode.DistriFusion;

    /// <summary>Synchronous steps at the start (at least 1). distrifuser's warmup_steps=w runs w+1 of them.</summary>
    public int WarmupSteps { get; set; } = 4;

    public GroupNormMode GroupNormMode { get; set; } = GroupNormMode.Corrected;

    /// <summary>
    /// GroupNorm as distrifuser computes it: the variance times n/(n−1), n the band's elements per group,
    /// and the correction alone. Reproduces its numbers; then even synchronous steps are not single-device.
    /// </summary>
    public bool DistriFuserGroupNorm { get; set; }

    /// <summary>PCPP: the fraction of each neighbour's rows a band attends to after warmup.</summary>
    public double PcppRatio { get; set; } = 0.3;

    /// <summary>Communication points per asynchronous message (DistriFusion's comm_checkpoint).</summary>
    public int BucketSize { get; set; } = 60;

    /// <summary>Split the guidance batch across two rank groups (DistriFusion's split_batch).</summary>
    public bool SplitBatch { get; set; }

    /// <summary>
    /// Decode the image on all ranks, a band each (--vae-parallel on, the default); off: every rank decodes the whole
    /// image.
    /// </summary>
    public bool VaeParallel { get; set; } = true;

    /// <summary>The longest a rank waits for another (--comm-timeout; default DISTRIGEN_COMM_TIMEOUT seconds, else 120 s).</summary>
    public TimeSpan Timeout { get; set; } = DefaultTimeout;

    /// <summary>DISTRIGEN_COMM_TIMEOUT (seconds) when set, else 120 s.</summary>
    public static TimeSpan DefaultTimeout
    {
        get
        {
            var text = Environment.GetEnvironmentVariable("DISTRIGEN_COMM_TIMEOUT");
            if (string.IsNullOrWhiteSpace(text)) return TimeSpan.FromSeconds(120);
            if (double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var seconds)
                && seconds > 0 && seconds <= 86400)
                return TimeSpan.FromSeconds(seconds);
            throw new ArgumentException($"DISTRIGEN_COMM_TIMEOUT='{text}' is not a number of seconds between 0 and 86400.");
        }
    }

    /// <summary>A copy to change for one run.</summary>
    public PatchParallelOptions Clone() => (PatchParallelOptions)MemberwiseClone();

    public void Validate()
    {
        if (WarmupSteps < 1) throw new ArgumentOutOfRangeException(nameof(WarmupSteps), WarmupSteps, "--warmup-steps must be at least 1: the first step has no previous step to take stale data from.");
        if (PcppRatio is < 0 or > 1 || double.IsNaN(PcppRatio)) throw new ArgumentOutOfRangeException(nameof(PcppRatio), PcppRatio, "--pcpp-ratio must be between 0 and 1.");
        if (BucketSize < 1) throw new ArgumentOutOfRangeException(nameof(BucketSize), BucketSize, "The bucket size must be at least 1.");
        if (Timeout <= TimeSpan.Zero || Timeout > TimeSpan.FromDays(1)) throw new ArgumentOutOfRangeException(nameof(Timeout), Timeout, "--comm-timeout must be positive and at most a day (86400 s).");
    }
}

using DistriGen.Tensors;
using DistriGen.Tensors.Ops;

namespace DistriGen.Runtime.Layers;

/// <summary>
/// GroupNorm over the whole image from per-band sums. Synchronous steps add every rank's fresh sums
/// (in rank order, so all ranks agree bit for bit, and with the biased variance of single-device
/// GroupNorm). After warmup the <see cref="GroupNormMode"/> decides: all-reduce anyway (Exact), the
/// others' previous sums with our fresh ones (Stale), each other band's statistics predicted from its
/// last two steps and our own change (Corrected), or local only (Separate).
/// </summary>
internal sealed class PatchGroupNorm(Tensors.Nn.GroupNorm source, PatchContext context, string path) : Tensors.Nn.GroupNorm(source)
{
    private int _slot = -1;
    private readonly SentHistory _sent = new(context.Size);

    private GroupNormMode GnMode => context.Options.GroupNormMode;

    public override Tensor Forward(Tensor x, Activation activation = Activation.None)
    {
        var local = Ops.GroupNormStatistics(x, Groups);
        int packed = Packed(local.Sum.Length);
        if (_slot < 0)
        {
            var schedule = GnMode switch
            {
                GroupNormMode.Exact => SlotSchedule.EveryStepSync,
                GroupNormMode.Separate => SlotSchedule.WarmupOnly,
                _ => SlotSchedule.WarmupSyncThenAsync,
            };
            _slot = context.Cache.Register(path, CommKind.GroupNorm, context.PerPeer(_ => packed), context.PerPeer(_ => packed), schedule);
        }
        if (x.IsMeta) return Ops.GroupNormApply(x, local, Weight, Bias, Eps, activation);

        // What goes on the wire, and the same values as the other ranks will see them.
        var wire = ToFloats(Pack(local));
        int step = context.Scheduler.Step;
        if (step == 0) _sent.Clear();
        _sent.Record(step, context.Rank, Unpack(wire.Span));
        bool sync = context.Scheduler.IsSync || GnMode == GroupNormMode.Exact;
        GroupStatistics stats;
        if (sync)
        {
            context.Cache.Exchange(_slot, (_, destination) => wire.Span.CopyTo(destination));
            foreach (int p in Peers) _sent.Record(step, p, Unpack(context.Cache.Current(_slot, p)));
            stats = SumOf(local, _ => step);
        }
        else if (GnMode == GroupNormMode.Separate)
        {
            stats = local;
        }
        else
        {
            foreach (int p in Peers) _sent.Record(step - 1, p, Unpack(context.Cache.Previous(_slot, p)));
            stats = GnMode == GroupNormMode.Stale ? SumOf(local, p => p == context.Rank ? step : step - 1)
                : context.Options.DistriFuserGroupNorm ? DistriFuserCorrected(local, step)
                : Predicted(local, step);
            if (!context.Scheduler.IsLastStep) context.Cache.Publish(_slot, (_, destination) => wire.Span.CopyTo(destination));
        }
        // distrifuser's separate_gn calls the plain layer after warmup; everywhere else it scales the variance.
        if (context.Options.DistriFuserGroupNorm && (sync || GnMode != GroupNormMode.Separate)) stats = WithUnbiasedVariance(stats, local.CountPerGroup);
        return Ops.GroupNormApply(x, stats, Weight, Bias, Eps, activation);
    }

    private IEnumerable<int> Peers => Enumerable.Range(0, context.Size).Where(p => p != context.Rank);

    /// <summary>Sums over all ranks, in rank order, of what each sent for the step <paramref name="stepOf"/> gives for it.</summary>
    private GroupStatistics SumOf(GroupStatistics local, Func<int, int> stepOf)
    {
        var total = new double[2 * local.Sum.Length + 1];
        for (int p = 0; p < context.Size; p++)
        {
            var values = _sent.At(stepOf(p), p)!;
            for (int i = 0; i < total.Length; i++) total[i] += values[i];
        }
        return FromPacked(local, total);
    }

    private static GroupStatistics FromPacked(GroupStatistics local, double[] packed)
    {
        int n = local.Sum.Length;
        return new GroupStatistics(local.Batch, local.Groups, packed[..n], packed[n..(2 * n)], (long)packed[2 * n]);
    }

    /// <summary>
    /// The weight of DistriFusion's correction against the band's own trend. Least-squares fits per layer
    /// on the built-in model put a median 0.9 on the correction, and the trend carries the layers where it
    /// fails; 3/4 keeps most of the correction.
    /// </summary>
    private const double OwnChangeWeight = 0.75;

    /// <summary>
    /// Our fresh sums with each other band's mean and variance predicted for this step. DistriFusion's
    /// correction assumes the other bands changed as much as ours did since the last step; a band's own
    /// trend assumes it changes as much as it did the step before. The two predictions err for different
    /// reasons (bands differ; the change itself changes), so a weighted average is closer than either.
    /// The variance is predicted as a variance, not through the mean square, which would subtract the
    /// square of the predicted mean's error. Without two earlier steps (one synchronous step) it is the
    /// correction alone.
    /// </summary>
    private GroupStatistics Predicted(GroupStatistics local, int step)
    {
        int n = local.Sum.Length;
        var fresh = _sent.At(step, context.Rank)!;
        var ownLast = _sent.At(step - 1, context.Rank)!;
        var total = (double[])fresh.Clone();
        foreach (int p in Peers)
        {
            var last = _sent.At(step - 1, p)!;
            var before = _sent.At(step - 2, p);
            double count = last[2 * n];
            for (int i = 0; i < n; i++)
            {
                var (lastMean, lastVar) = MeanVariance(last, i, n);
                var (freshMean, freshVar) = MeanVariance(fresh, i, n);
                var (ownMean, ownVar) = MeanVariance(ownLast, i, n);
                var (beforeMean, beforeVar) = before is null ? (lastMean, lastVar) : MeanVariance(before, i, n);
                double w = before is null ? 1 : OwnChangeWeight;
                double mean = lastMean + w * (freshMean - ownMean) + (1 - w) * (lastMean - beforeMean);
                double variance = lastVar + w * (freshVar - ownVar) + (1 - w) * (lastVar - beforeVar);
                if (variance < 0) variance = lastVar;
                total[i] += mean * count;
                total[n + i] += (variance + mean * mean) * count;
            }
            total[2 * n] += count;
        }
        return FromPacked(local, total);
    }

    private static (double Mean, double Variance) MeanVariance(double[] values, int i, int n)
    {
        double count = values[2 * n], mean = values[i] / count;
        return (mean, values[n + i] / count - mean * mean);
    }

    /// <summary>
    /// distrifuser's corrected_async_gn: the previous global moments plus our own fresh-minus-previous
    /// moments, with this band's variance where that is negative.
    /// </summary>
    private GroupStatistics DistriFuserCorrected(GroupStatistics local, int step)
    {
        int n = local.Sum.Length;
        var previous = SumOf(local, _ => step - 1);
        var own = _sent.At(step - 1, context.Rank)!;
        double ownCount = own[2 * n], count = local.CountPerGroup;
        var sum = new double[n];
        var squares = new double[n];
        for (int i = 0; i < n; i++)
        {
            double mean = previous.Sum[i] / previous.CountPerGroup + (local.Sum[i] / count - own[i] / ownCount);
            double meanSq = previous.SumOfSquares[i] / previous.CountPerGroup + (local.SumOfSquares[i] / count - own[n + i] / ownCount);
            if (meanSq - mean * mean < 0)
            {
                double localMean = local.Sum[i] / count;
                meanSq = local.SumOfSquares[i] / count - localMean * localMean + mean * mean;
            }
            sum[i] = mean * count;
            squares[i] = meanSq * count;
        }
        return new GroupStatistics(local.Batch, local.Groups, sum, squares, local.CountPerGroup);
    }

    /// <summary>The same mean with the variance times n/(n−1), n this band's elements per group, as distrifuser computes it.</summary>
    private static GroupStatistics WithUnbiasedVariance(GroupStatistics s, long bandCount)
    {
        double factor = bandCount / (bandCount - 1.0);
        var squares = new double[s.Sum.Length];
        for (int i = 0; i < squares.Length; i++)
        {
            double mean = s.Sum[i] / s.CountPerGroup;
            squares[i] = ((s.SumOfSquares[i] / s.CountPerGroup - mean * mean) * factor + mean * mean) * s.CountPerGroup;
        }
        return s with { SumOfSquares = squares };
    }

    /// <summary>Sums, sums of squares and the count, each as two floats (high and low part) so no precision is lost in transit.</summary>
    private static int Packed(int n) => 2 * (2 * n + 1);

    private static double[] Pack(GroupStatistics s)
    {
        int n = s.Sum.Length;
        var values = new double[2 * n + 1];
        s.Sum.CopyTo(values, 0);
        s.SumOfSquares.CopyTo(values, n);
        values[2 * n] = s.CountPerGroup;
        return values;
    }

    private static ReadOnlyMemory<float> ToFloats(double[] values)
    {
        var result = new float[2 * values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            float hi = (float)values[i];
            result[2 * i] = hi;
            result[2 * i + 1] = (float)(values[i] - hi);
        }
        return result;
    }

    private static double[] Unpack(ReadOnlySpan<float> packed)
    {
        var values = new double[packed.Length / 2];
        for (int i = 0; i < values.Length; i++) values[i] = (double)packed[2 * i] + packed[2 * i + 1];
        return values;
    }

    /// <summary>The packed sums each rank sent for the last three steps, by step.</summary>
    private sealed class SentHistory(int ranks)
    {
        private readonly Dictionary<int, double[]?[]> _byStep = new();

        public void Clear() => _byStep.Clear();

        public void Record(int step, int rank, double[] values)
        {
            if (!_byStep.TryGetValue(step, out var byRank)) _byStep[step] = byRank = new double[ranks][];
            byRank[rank] = values;
            _byStep.Remove(step - 3);
        }

        public double[]? At(int step, int rank) => _byStep.TryGetValue(step, out var byRank) ? byRank[rank] : null;
    }
}

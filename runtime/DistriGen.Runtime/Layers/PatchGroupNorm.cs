using DistriGen.Tensors;
using DistriGen.Tensors.Ops;

namespace DistriGen.Runtime.Layers;

/// <summary>
/// GroupNorm over the whole image from per-band sums. Synchronous steps add every rank's fresh sums
/// (in rank order, so all ranks agree bit for bit, and with the biased variance of single-device
/// GroupNorm). After warmup the <see cref="GroupNormMode"/> decides: all-reduce anyway (Exact), the
/// others' previous sums with our fresh ones (Stale), the previous global moments corrected by our own
/// change (Corrected, with the local variance where the corrected one is negative), or local only
/// (Separate).
/// </summary>
internal sealed class PatchGroupNorm(Tensors.Nn.GroupNorm source, PatchContext context, string path) : Tensors.Nn.GroupNorm(source)
{
    private int _slot = -1;
    private double[]? _ownPrevious;

    private GroupNormMode GnMode => context.Options.GroupNormMode;

    public override Tensor Forward(Tensor x, Activation activation = Activation.None)
    {
        var local = Ops.GroupNormStatistics(x, Groups);
        int n = local.Sum.Length;
        int packed = Packed(n);
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
        var fresh = Unpack(wire.Span);
        var scheduler = context.Scheduler;
        GroupStatistics stats;
        if (scheduler.IsSync || GnMode == GroupNormMode.Exact)
        {
            context.Cache.Exchange(_slot, (_, destination) => wire.Span.CopyTo(destination));
            stats = Combine(local, p => context.Cache.Current(_slot, p), fresh);
        }
        else if (GnMode == GroupNormMode.Separate)
        {
            stats = local;
        }
        else
        {
            stats = GnMode == GroupNormMode.Stale
                ? Combine(local, p => context.Cache.Previous(_slot, p), fresh)
                : Corrected(local, Combine(local, p => context.Cache.Previous(_slot, p), _ownPrevious!));
            if (!scheduler.IsLastStep) context.Cache.Publish(_slot, (_, destination) => wire.Span.CopyTo(destination));
        }
        _ownPrevious = fresh;
        return Ops.GroupNormApply(x, stats, Weight, Bias, Eps, activation);
    }

    /// <summary>Sums over all ranks in rank order; <paramref name="own"/> stands in for this rank.</summary>
    private GroupStatistics Combine(GroupStatistics local, Func<int, ReadOnlySpan<float>> peer, double[] own)
    {
        int n = local.Sum.Length;
        var total = new double[2 * n + 1];
        for (int p = 0; p < context.Size; p++)
        {
            var values = p == context.Rank ? own : Unpack(peer(p));
            for (int i = 0; i < total.Length; i++) total[i] += values[i];
        }
        return new GroupStatistics(local.Batch, local.Groups, total[..n], total[n..(2 * n)], (long)total[2 * n]);
    }

    /// <summary>DistriFusion's corrected statistics: previous global moments plus our own fresh-minus-previous moments.</summary>
    private GroupStatistics Corrected(GroupStatistics local, GroupStatistics previousGlobal)
    {
        int n = local.Sum.Length;
        var own = _ownPrevious!;
        double ownCount = own[2 * n], count = local.CountPerGroup;
        var sum = new double[n];
        var squares = new double[n];
        for (int i = 0; i < n; i++)
        {
            double mean = previousGlobal.Sum[i] / previousGlobal.CountPerGroup + (local.Sum[i] / count - own[i] / ownCount);
            double meanSq = previousGlobal.SumOfSquares[i] / previousGlobal.CountPerGroup + (local.SumOfSquares[i] / count - own[n + i] / ownCount);
            if (meanSq - mean * mean < 0)
            {
                // Keep the corrected mean but take this band's own variance.
                double localMean = local.Sum[i] / count;
                meanSq = local.SumOfSquares[i] / count - localMean * localMean + mean * mean;
            }
            sum[i] = mean * count;
            squares[i] = meanSq * count;
        }
        return new GroupStatistics(local.Batch, local.Groups, sum, squares, local.CountPerGroup);
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
}

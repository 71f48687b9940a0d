using DistriGen.Tensors;
using DistriGen.Tensors.Nn;
using DistriGen.Tensors.Ops;
using static DistriGen.Runtime.Layers.GroupNormEstimates;

namespace DistriGen.Runtime.Layers;

/// <summary>
/// GroupNorm over the whole image from per-band sums. With fresh sums from every rank (synchronous
/// steps, or GN mode Exact) the statistics are the single device's (biased variance). With the others'
/// previous sums the <see cref="GroupNormMode"/> decides: those with our fresh ones (Stale), each other
/// band predicted from its last two steps and our own change (Corrected); without an exchange
/// (Separate after warmup) the band's own statistics.
/// </summary>
internal sealed class PatchGroupNorm(Tensors.Nn.GroupNorm source, StatisticsPoint point, PatchParallelOptions options) : Tensors.Nn.GroupNorm(source)
{
    private readonly Dictionary<int, double[][]> _sentByStep = new();

    public override Tensor Forward(Tensor x, Activation activation = Activation.None)
    {
        var local = Ops.GroupNormStatistics(x, Groups);
        var round = point.Exchange(Pack(local), registerOnly: x.IsMeta);
        var stats = round is null ? local : Combine(local, round);
        // distrifuser's separate_gn calls the plain layer after warmup; everywhere else it scales the variance.
        if (options.DistriFuserGroupNorm && round is not null) stats = WithUnbiasedVariance(stats, local.CountPerGroup);
        return NonFiniteTrace.After(this, Ops.GroupNormApply(x, stats, Weight, Bias, Eps, activation));
    }

    private GroupStatistics Combine(GroupStatistics local, StatisticsRound round)
    {
        int ranks = round.PerRank.Count, rank = round.Rank;
        int step = round.Fresh ? round.Step : round.Step + 1;
        if (step == 0) _sentByStep.Clear();
        Record(step, rank, round.PerRank[rank]);
        for (int p = 0; p < ranks; p++)
            if (p != rank) Record(round.Step, p, round.PerRank[p]);
        if (round.Fresh) return SumOf(local, ranks, p => round.PerRank[p]);
        double[]? Sent(int s, int p) => _sentByStep.TryGetValue(s, out var byRank) ? byRank[p] : null;
        return options.GroupNormMode switch
        {
            GroupNormMode.Stale => SumOf(local, ranks, p => round.PerRank[p]),
            _ when options.DistriFuserGroupNorm => DistriFuserCorrected(local, SumOf(local, ranks, p => Sent(step - 1, p)!), Sent(step - 1, rank)!),
            _ => Predicted(local, rank, ranks, step, Sent),
        };
    }

    /// <summary>Keeps what each rank sent for the last three steps.</summary>
    private void Record(int step, int rank, double[] values)
    {
        if (!_sentByStep.TryGetValue(step, out var byRank)) _sentByStep[step] = byRank = new double[point.Ranks][];
        byRank[rank] = values;
        _sentByStep.Remove(step - 3);
    }
}

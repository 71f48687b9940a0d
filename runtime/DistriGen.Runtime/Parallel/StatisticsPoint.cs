namespace DistriGen.Runtime;

/// <summary>
/// What every rank sent for a statistics point: the own values (at <see cref="Rank"/>) are this step's;
/// <see cref="Step"/> is the peers' step, this one when <see cref="Fresh"/>, else the previous one.
/// </summary>
public sealed record StatisticsRound(int Rank, int Step, bool Fresh, IReadOnlyList<double[]> PerRank);

/// <summary>
/// GroupNorm's per-band sums, shared with every other rank: fresh in synchronous steps, the previous
/// step's after warmup, or not at all (when the schedule says the layer keeps its own statistics).
/// Values travel as pairs of floats (high and low part), so no precision is lost.
/// </summary>
public sealed class StatisticsPoint(ActivationCache exchange, string path, int rank, int ranks, SlotSchedule schedule)
{
    private int _slot = -1;

    public string Path => path;
    public int Ranks => ranks;

    /// <summary>
    /// Shares <paramref name="mine"/>; null when this step has no exchange for the point (or with
    /// <paramref name="registerOnly"/>, when shapes are traced without data).
    /// </summary>
    public StatisticsRound? Exchange(double[] mine, bool registerOnly = false)
    {
        if (_slot < 0)
        {
            int[] counts = Enumerable.Range(0, ranks).Select(p => p == rank ? 0 : 2 * mine.Length).ToArray();
            _slot = exchange.Register(path, CommKind.GroupNorm, counts, counts, schedule);
        }
        if (registerOnly || !exchange.IsActive(_slot)) return null;
        var wire = new float[2 * mine.Length];
        for (int i = 0; i < mine.Length; i++)
        {
            float hi = (float)mine[i];
            wire[2 * i] = hi;
            wire[2 * i + 1] = (float)(mine[i] - hi);
        }
        var data = exchange.Step(_slot, (_, destination) => wire.CopyTo(destination));
        var perRank = new double[ranks][];
        for (int p = 0; p < ranks; p++)
        {
            if (p == rank)
            {
                // Our own values as the others see them (rounded through the wire format), so all ranks agree bit for bit.
                perRank[p] = Unpack(wire);
                continue;
            }
            perRank[p] = Unpack(data.From(p).Span);
        }
        return new StatisticsRound(rank, data.Step, data.IsFresh, perRank);
    }

    private static double[] Unpack(ReadOnlySpan<float> packed)
    {
        var values = new double[packed.Length / 2];
        for (int i = 0; i < values.Length; i++) values[i] = (double)packed[2 * i] + packed[2 * i + 1];
        return values;
    }
}

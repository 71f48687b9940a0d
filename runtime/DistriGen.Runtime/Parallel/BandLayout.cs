namespace DistriGen.Runtime;

/// <summary>
/// Which latent rows each rank owns. Bands are cut at the model's coarsest level (latent rows divided
/// by <see cref="Alignment"/>, the product of all downsampling), so every level splits into whole rows
/// and any number of ranks works, as long as there is at least one coarse row per rank.
/// </summary>
public sealed class BandLayout
{
    private readonly int[] _starts;
    private readonly int[] _ends;

    public BandLayout(int latentHeight, int latentWidth, int ranks, int alignment)
    {
        if (ranks < 1) throw new ArgumentOutOfRangeException(nameof(ranks), ranks, "At least one rank.");
        if (alignment < 1) throw new ArgumentOutOfRangeException(nameof(alignment), alignment, "Alignment is at least 1.");
        if (latentHeight % alignment != 0 || latentHeight / alignment < ranks)
            throw new ArgumentException(
                $"A latent height of {latentHeight} rows cannot be split into {ranks} bands: the model downsamples by {alignment}, " +
                $"so the height must be a multiple of {alignment} with at least one {alignment}-row block per rank. " +
                $"The smallest height that works is {SmallestHeight(latentHeight, ranks, alignment)} latent rows.");
        LatentHeight = latentHeight;
        LatentWidth = latentWidth;
        Ranks = ranks;
        Alignment = alignment;
        int coarse = latentHeight / alignment;
        _starts = new int[ranks];
        _ends = new int[ranks];
        int row = 0;
        for (int r = 0; r < ranks; r++)
        {
            // The first (coarse % ranks) bands take one extra coarse row.
            int rows = coarse / ranks + (r < coarse % ranks ? 1 : 0);
            _starts[r] = row * alignment;
            row += rows;
            _ends[r] = row * alignment;
        }
    }

    public int LatentHeight { get; }
    public int LatentWidth { get; }
    public int Ranks { get; }
    public int Alignment { get; }

    public int Start(int rank) => _starts[rank];
    public int End(int rank) => _ends[rank];
    public int Rows(int rank) => _ends[rank] - _starts[rank];

    /// <summary>The smallest latent height ≥ <paramref name="height"/> that splits into <paramref name="ranks"/> bands.</summary>
    public static int SmallestHeight(int height, int ranks, int alignment) =>
        Math.Max(ranks * alignment, (height + alignment - 1) / alignment * alignment);

    /// <summary>
    /// How many times the band was halved to reach a tensor whose local height is
    /// <paramref name="localRows"/> on <paramref name="rank"/> (0 at the latent).
    /// </summary>
    public int LevelOf(int rank, int localRows)
    {
        int rows = Rows(rank);
        for (int level = 0; rows >> level > 0; level++)
            if (rows >> level == localRows && (rows >> level) << level == rows) return level;
        throw new InvalidOperationException($"Rank {rank} owns {rows} latent rows; a tensor with {localRows} rows is not at any level of the model (is the input split the way the layout says?).");
    }

    /// <summary>Rows of <paramref name="rank"/>'s band at <paramref name="level"/>.</summary>
    public int RowsAt(int rank, int level) => Rows(rank) >> level;

    /// <summary>The width of a level, following stride-2 convolutions (⌈w/2⌉ per level).</summary>
    public int WidthAt(int level)
    {
        int w = LatentWidth;
        for (int i = 0; i < level; i++) w = (w + 1) / 2;
        return w;
    }

    /// <summary>The level and local (rows, width) of a band holding <paramref name="tokens"/> tokens on <paramref name="rank"/>.</summary>
    public (int Level, int Rows, int Width) TokenShape(int rank, int tokens)
    {
        for (int level = 0; Rows(rank) >> level > 0; level++)
        {
            int rows = RowsAt(rank, level), width = WidthAt(level);
            if (rows * width == tokens && rows << level == Rows(rank)) return (level, rows, width);
        }
        throw new InvalidOperationException($"Rank {rank}: {tokens} tokens are not a band of this layout ({Rows(rank)}×{LatentWidth} latent).");
    }

    public override string ToString() =>
        string.Join(", ", Enumerable.Range(0, Ranks).Select(r => $"rank {r}: rows {Start(r)}–{End(r)}"));
}

using DistriGen.Tensors.Ops;

namespace DistriGen.Runtime.Layers;

/// <summary>
/// GroupNorm statistics of the whole image from what each band sent. The values of one rank for one
/// step are packed as [sums (n) | sums of squares (n) | count]; sums are added in rank order, so every
/// rank gets bit-identical statistics.
/// </summary>
internal static class GroupNormEstimates
{
    /// <summary>Sums over all ranks of the values <paramref name="valuesOf"/> gives for each rank.</summary>
    public static GroupStatistics SumOf(GroupStatistics local, int ranks, Func<int, double[]> valuesOf)
    {
        var total = new double[2 * local.Sum.Length + 1];
        for (int p = 0; p < ranks; p++)
        {
            var values = valuesOf(p);
            for (int i = 0; i < total.Length; i++) total[i] += values[i];
        }
        return FromPacked(local, total);
    }

    public static double[] Pack(GroupStatistics s)
    {
        int n = s.Sum.Length;
        var values = new double[2 * n + 1];
        s.Sum.CopyTo(values, 0);
        s.SumOfSquares.CopyTo(values, n);
        values[2 * n] = s.CountPerGroup;
        return values;
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
    /// <param name="sent">What rank p sent for step s, or null: (s, p) → packed values.</param>
    public static GroupStatistics Predicted(GroupStatistics local, int rank, int ranks, int step, Func<int, int, double[]?> sent)
    {
        int n = local.Sum.Length;
        var fresh = sent(step, rank)!;
        var ownLast = sent(step - 1, rank)!;
        var total = (double[])fresh.Clone();
        for (int p = 0; p < ranks; p++)
        {
            if (p == rank) continue;
            var last = sent(step - 1, p)!;
            var before = sent(step - 2, p);
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
    public static GroupStatistics DistriFuserCorrected(GroupStatistics local, GroupStatistics previous, double[] ownPrevious)
    {
        int n = local.Sum.Length;
        double ownCount = ownPrevious[2 * n], count = local.CountPerGroup;
        var sum = new double[n];
        var squares = new double[n];
        for (int i = 0; i < n; i++)
        {
            double mean = previous.Sum[i] / previous.CountPerGroup + (local.Sum[i] / count - ownPrevious[i] / ownCount);
            double meanSq = previous.SumOfSquares[i] / previous.CountPerGroup + (local.SumOfSquares[i] / count - ownPrevious[n + i] / ownCount);
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
    public static GroupStatistics WithUnbiasedVariance(GroupStatistics s, long bandCount)
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
}

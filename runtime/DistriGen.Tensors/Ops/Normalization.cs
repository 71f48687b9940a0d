using System.Numerics.Tensors;
using DistriGen.Tensors.Compute;

namespace DistriGen.Tensors.Ops;

/// <summary>A pointwise activation fused into the operation before it.</summary>
public enum Activation
{
    None,
    Silu,
}

/// <summary>
/// Sums of x and x² per (batch, group), in double, and the element count per group. A patch of rows
/// gives partial sums that add up to the whole image's: this is what ranks exchange for GroupNorm.
/// </summary>
public sealed record GroupStatistics(int Batch, int Groups, double[] Sum, double[] SumOfSquares, long CountPerGroup)
{
    public (float Mean, float InvStd) MeanInvStd(int index, float eps)
    {
        double mean = Sum[index] / CountPerGroup;
        double variance = SumOfSquares[index] / CountPerGroup - mean * mean;
        return ((float)mean, (float)(1.0 / Math.Sqrt(Math.Max(variance, 0) + eps)));
    }
}

public static partial class Ops
{
    /// <summary>Per-(batch, group) sums over an NCHW tensor, summed row by row so that bands agree with the whole.</summary>
    public static GroupStatistics GroupNormStatistics(Tensor x, int groups)
    {
        const string op = "group_norm";
        Shapes.Rank(x, 4, op, "input");
        int batch = x.Dim(0), channels = x.Dim(1), h = x.Dim(2), w = x.Dim(3);
        Shapes.Check(groups > 0 && channels % groups == 0, op, () => $"{channels} channels cannot be split into {groups} groups.");
        var sum = new double[batch * groups];
        var sq = new double[batch * groups];
        int perGroup = channels / groups;
        var stats = new GroupStatistics(batch, groups, sum, sq, (long)perGroup * h * w);
        if (x.IsMeta) return stats;
        if (KernelsOf(op, x) is { } device) return device.GroupNormStatistics(x, groups);
        using var _ = OpProfiler.Measure(OpCategory.Norm, 2L * x.Length);
        var data = x.Buffer;
        ComputeThreads.For(batch * groups, ComputeThreads.Current, bg => SumGroup(data, bg, perGroup * h, w, sum, sq));
        return stats;
    }

    /// <summary>Group bg's sums: its rows' float sums (each in one pass) added in double.</summary>
    private static void SumGroup(float[] data, int bg, int rows, int w, double[] sum, double[] squares)
    {
        double s = 0, s2 = 0;
        int start = bg * rows * w;
        for (int row = 0; row < rows; row++)
        {
            var (rowSum, rowSquares) = VectorMath.SumAndSquares(new ReadOnlySpan<float>(data, start + row * w, w));
            s += rowSum;
            s2 += rowSquares;
        }
        sum[bg] = s;
        squares[bg] = s2;
    }

    /// <summary>
    /// Channel bc of x normalised with its group's statistics into y, then scaled, shifted,
    /// activated.
    /// </summary>
    private static void ApplyChannel(float[] xd, float[] yd, int bc, int channels, int hw, GroupStatistics stats,
        float[] gamma, float[] beta, float eps, Activation activation)
    {
        int b = bc / channels, c = bc % channels, perGroup = channels / stats.Groups;
        var (mean, invStd) = stats.MeanInvStd(b * stats.Groups + c / perGroup, eps);
        float scale = invStd * gamma[c], shift = beta[c] - mean * scale;
        var src = new ReadOnlySpan<float>(xd, bc * hw, hw);
        var dst = new Span<float>(yd, bc * hw, hw);
        if (activation == Activation.Silu)
        {
            VectorMath.ScaleShiftSilu(src, scale, shift, dst);
            return;
        }
        TensorPrimitives.Multiply(src, scale, dst);
        TensorPrimitives.Add(dst, shift, dst);
    }

    /// <summary>Normalises x with the given statistics, then scales and shifts per channel; optionally SiLU.</summary>
    public static Tensor GroupNormApply(Tensor x, GroupStatistics stats, Tensor gamma, Tensor beta, float eps, Activation activation = Activation.None)
    {
        const string op = "group_norm";
        int batch = x.Dim(0), channels = x.Dim(1), hw = x.Dim(2) * x.Dim(3);
        Shapes.Check(gamma.Length == channels && beta.Length == channels, op, () => $"affine parameters {Tensor.Format(gamma.Shape)} do not match the channels of the input {Tensor.Format(x.Shape)}.");
        if (Tensor.AnyMeta(x, gamma)) return Tensor.Meta(x.Shape);
        if (KernelsOf(op, x, gamma, beta) is { } device) return device.GroupNormApply(x, stats, gamma, beta, eps, activation);
        var y = Tensor.HostEmpty(x.Shape);
        using var _ = OpProfiler.Measure(OpCategory.Norm, 3L * x.Length);
        var xd = x.Buffer;
        var yd = y.Buffer;
        ComputeThreads.For(batch * channels, ComputeThreads.Current,
            bc => ApplyChannel(xd, yd, bc, channels, hw, stats, gamma.Buffer, beta.Buffer, eps, activation));
        return y;
    }

    public static Tensor GroupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, Activation activation = Activation.None)
    {
        if (!x.IsMeta && KernelsOf("group_norm", x, gamma, beta) is { } device)
        {
            Shapes.Check(x.Rank == 4 && groups > 0 && x.Dim(1) % groups == 0 && gamma.Length == x.Dim(1) && beta.Length == x.Dim(1), "group_norm",
                () => $"{Tensor.Format(x.Shape)} cannot be normalised in {groups} groups with parameters {Tensor.Format(gamma.Shape)}.");
            return device.GroupNorm(x, groups, gamma, beta, eps, activation);
        }
        if (Tensor.AnyMeta(x, gamma) || x.Rank != 4 || groups <= 0 || x.Dim(1) % groups != 0
            || gamma.Length != x.Dim(1) || beta.Length != x.Dim(1))
            return GroupNormApply(x, GroupNormStatistics(x, groups), gamma, beta, eps, activation);
        // One job per group sums it and normalises it while it is still in this core's cache; the arithmetic is
        // statistics-then-apply's, so the result is the same bit for bit.
        int batch = x.Dim(0), channels = x.Dim(1), h = x.Dim(2), w = x.Dim(3), perGroup = channels / groups;
        var stats = new GroupStatistics(batch, groups, new double[batch * groups], new double[batch * groups],
            (long)perGroup * h * w);
        var y = Tensor.HostEmpty(x.Shape);
        using var _ = OpProfiler.Measure(OpCategory.Norm, 5L * x.Length);
        var xd = x.Buffer;
        var yd = y.Buffer;
        ComputeThreads.For(batch * groups, ComputeThreads.Current, bg =>
        {
            SumGroup(xd, bg, perGroup * h, w, stats.Sum, stats.SumOfSquares);
            int b = bg / groups, first = bg % groups * perGroup;
            for (int c = first; c < first + perGroup; c++)
                ApplyChannel(xd, yd, b * channels + c, channels, h * w, stats, gamma.Buffer, beta.Buffer, eps,
                    activation);
        });
        return y;
    }

    /// <summary>Normalisation over the last axis (biased variance), then scale and shift.</summary>
    public static Tensor LayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps)
    {
        int c = x.Dim(-1);
        Shapes.Check(gamma.Length == c && beta.Length == c, "layer_norm", () => $"parameters of {gamma.Length} features for an input {Tensor.Format(x.Shape)}.");
        if (Tensor.AnyMeta(x, gamma)) return Tensor.Meta(x.Shape);
        if (KernelsOf("layer_norm", x, gamma, beta) is { } device) return device.LayerNorm(x, gamma, beta, eps);
        var y = Tensor.HostEmpty(x.Shape);
        using var _ = OpProfiler.Measure(OpCategory.Norm, 5L * x.Length);
        int rows = x.Length / c;
        var xd = x.Buffer;
        var yd = y.Buffer;
        var g = gamma.Buffer;
        var bt = beta.Buffer;
        ComputeThreads.For((rows + 63) / 64, ComputeThreads.Current, chunk =>
        {
            for (int r = chunk * 64; r < Math.Min(rows, chunk * 64 + 64); r++)
            {
                var src = new ReadOnlySpan<float>(xd, r * c, c);
                var dst = new Span<float>(yd, r * c, c);
                var (sum, squares) = VectorMath.SumAndSquares(src);
                double mean = sum / (double)c;
                double variance = squares / (double)c - mean * mean;
                float invStd = (float)(1.0 / Math.Sqrt(Math.Max(variance, 0) + eps));
                VectorMath.Normalize(src, (float)mean, invStd, g.AsSpan(0, c), bt.AsSpan(0, c), dst);
            }
        });
        return y;
    }
}

using DistriGen.Tensors;

namespace DistriGen.Models.Pipelines;

/// <summary>How close one generation is to another: the measures DistriFusion reports.</summary>
public static class ResultMetrics
{
    /// <summary>PSNR in dB of two images in −1..1 mapped to 0..1 (x·0.5 + 0.5, clamped); infinite when identical.</summary>
    public static double Psnr(Tensor image, Tensor reference)
    {
        float[] x = image.ToArray(), y = reference.ToArray();
        if (x.Length != y.Length) throw new ArgumentException($"PSNR of images of different sizes: {Tensor.Format(image.Shape)} and {Tensor.Format(reference.Shape)}.");
        double mse = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double d = Math.Clamp(x[i] * 0.5 + 0.5, 0, 1) - Math.Clamp(y[i] * 0.5 + 0.5, 0, 1);
            mse += d * d;
        }
        mse /= x.Length;
        return mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(1 / mse);
    }

    /// <summary>‖actual − expected‖ / ‖expected‖ of two tensors (on any device).</summary>
    public static double RelativeError(Tensor actual, Tensor expected) => RelativeError(actual.ToArray(), expected.ToArray());

    /// <summary>The largest |actual − expected| of two tensors (on any device).</summary>
    public static double MaxAbsError(Tensor actual, Tensor expected) => MaxAbsError(actual.ToArray(), expected.ToArray());

    /// <summary>‖actual − expected‖ / ‖expected‖.</summary>
    public static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        if (actual.Length != expected.Length) throw new ArgumentException($"Relative error of {actual.Length} values against {expected.Length}.");
        double diff = 0, norm = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            diff += (actual[i] - (double)expected[i]) * (actual[i] - (double)expected[i]);
            norm += (double)expected[i] * expected[i];
        }
        return Math.Sqrt(diff / norm);
    }

    public static double MaxAbsError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        if (actual.Length != expected.Length) throw new ArgumentException($"Error of {actual.Length} values against {expected.Length}.");
        double max = 0;
        for (int i = 0; i < expected.Length; i++) max = Math.Max(max, Math.Abs(actual[i] - expected[i]));
        return max;
    }
}

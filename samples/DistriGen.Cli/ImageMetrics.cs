using DistriGen.Tensors;
using DistriGen.Tensors.IO;

namespace DistriGen.Cli;

/// <summary>How close two results are, and pictures side by side.</summary>
internal static class ImageMetrics
{
    /// <summary>PSNR in dB of two images in −1..1 mapped to 0..1 (x·0.5 + 0.5, clamped), as the DistriFusion comparisons.</summary>
    public static double Psnr(Tensor a, Tensor b)
    {
        var x = a.Span;
        var y = b.Span;
        double mse = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double d = Math.Clamp(x[i] * 0.5 + 0.5, 0, 1) - Math.Clamp(y[i] * 0.5 + 0.5, 0, 1);
            mse += d * d;
        }
        mse /= x.Length;
        return mse == 0 ? double.PositiveInfinity : 10 * Math.Log10(1 / mse);
    }

    public static double RelativeError(Tensor actual, Tensor expected)
    {
        double diff = 0, norm = 0;
        var a = actual.Span;
        var e = expected.Span;
        for (int i = 0; i < e.Length; i++)
        {
            diff += (a[i] - (double)e[i]) * (a[i] - (double)e[i]);
            norm += (double)e[i] * e[i];
        }
        return Math.Sqrt(diff / norm);
    }

    public static double MaxAbsError(Tensor actual, Tensor expected)
    {
        double max = 0;
        var a = actual.Span;
        var e = expected.Span;
        for (int i = 0; i < e.Length; i++) max = Math.Max(max, Math.Abs(a[i] - e[i]));
        return max;
    }

    /// <summary>Writes images (each (1, 3, H, W), −1..1) left to right with a white gap.</summary>
    public static void WriteSideBySide(string path, IReadOnlyList<Tensor> images, int gap = 4)
    {
        int h = images[0].Dim(2), w = images[0].Dim(3);
        int width = images.Count * w + (images.Count - 1) * gap;
        var rgb = new byte[h * width * 3];
        Array.Fill(rgb, (byte)255);
        for (int k = 0; k < images.Count; k++)
        {
            var s = images[k].Span;
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < h; y++)
                    for (int x = 0; x < w; x++)
                        rgb[(y * width + k * (w + gap) + x) * 3 + c] = Png.ToByte(s[(c * h + y) * w + x]);
        }
        Png.WriteRgb(path, width, h, rgb);
    }
}

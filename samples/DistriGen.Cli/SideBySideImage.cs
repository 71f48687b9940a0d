using DistriGen.Tensors;
using DistriGen.Tensors.IO;

namespace DistriGen.Cli;

/// <summary>Pictures side by side in one PNG.</summary>
internal static class SideBySideImage
{
    /// <summary>Writes images (each (1, 3, H, W), −1..1) left to right with a white gap.</summary>
    public static void Write(string path, IReadOnlyList<Tensor> images, int gap = 4)
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

using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace DistriGen.Tensors.IO;

/// <summary>Writes 8-bit RGB PNG files.</summary>
public static class Png
{
    /// <summary>
    /// Writes an image tensor (3, H, W) or (1, 3, H, W) with values in −1..1 as diffusers does:
    /// (clamp(x)·0.5 + 0.5)·255, rounded; each pixel as a <paramref name="scale"/>×<paramref name="scale"/>
    /// block (nearest neighbour), so small images can be looked at. The file is replaced whole or not at all.
    /// </summary>
    public static void WriteImage(string path, Tensor image, int scale = 1) => AtomicFile.Write(path, s => WriteImage(s, image, scale));

    public static void WriteImage(Stream stream, Tensor image, int scale = 1)
    {
        var t = image.Rank == 4 ? image.Reshape(image.Dim(1), image.Dim(2), image.Dim(3)) : image;
        if (t.Rank != 3 || t.Dim(0) != 3) throw new ArgumentException($"An RGB image is (3, H, W); got {Tensor.Format(image.Shape)}.");
        if (scale is < 1 or > 64) throw new ArgumentOutOfRangeException(nameof(scale), scale, "--scale must be between 1 and 64.");
        int h = t.Dim(1), w = t.Dim(2), sw = w * scale;
        var rgb = new byte[h * scale * sw * 3];
        ReadOnlySpan<float> s = t.Device.IsHost ? t.Span : t.ToArray();
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h * scale; y++)
                for (int x = 0; x < sw; x++)
                    rgb[(y * sw + x) * 3 + c] = ToByte(s[(c * h + y / scale) * w + x / scale]);
        WriteRgb(stream, sw, h * scale, rgb);
    }

    public static byte ToByte(float x) => (byte)MathF.Round((Math.Clamp(x, -1f, 1f) * 0.5f + 0.5f) * 255f);

    /// <summary>Writes packed RGB bytes (row-major, 3 per pixel) to a file, replaced whole or not at all.</summary>
    public static void WriteRgb(string path, int width, int height, ReadOnlySpan<byte> rgb)
    {
        var copy = rgb.ToArray();
        AtomicFile.Write(path, s => WriteRgb(s, width, height, copy));
    }

    public static void WriteRgb(Stream file, int width, int height, ReadOnlySpan<byte> rgb)
    {
        if (rgb.Length != width * height * 3) throw new ArgumentException($"{rgb.Length} bytes do not make a {width}×{height} RGB image.");
        var raw = new byte[height * (width * 3 + 1)];
        for (int y = 0; y < height; y++) rgb.Slice(y * width * 3, width * 3).CopyTo(raw.AsSpan(y * (width * 3 + 1) + 1));
        using var compressed = new MemoryStream();
        using (var z = new ZLibStream(compressed, CompressionLevel.Optimal, leaveOpen: true)) z.Write(raw);

        file.Write([0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A]);
        var ihdr = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(ihdr, width);
        BinaryPrimitives.WriteInt32BigEndian(ihdr.AsSpan(4), height);
        ihdr[8] = 8;  // bit depth
        ihdr[9] = 2;  // colour type: RGB
        WriteChunk(file, "IHDR", ihdr);
        WriteChunk(file, "IDAT", compressed.ToArray());
        WriteChunk(file, "IEND", []);
    }

    private static void WriteChunk(Stream s, string type, byte[] data)
    {
        Span<byte> len = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(len, data.Length);
        s.Write(len);
        var typeBytes = Encoding.ASCII.GetBytes(type);
        s.Write(typeBytes);
        s.Write(data);
        uint crc = Crc32.Update(Crc32.Update(0xFFFFFFFFu, typeBytes), data) ^ 0xFFFFFFFFu;
        BinaryPrimitives.WriteUInt32BigEndian(len, crc);
        s.Write(len);
    }

    /// <summary>The CRC-32 of PNG chunks (polynomial 0xEDB88320).</summary>
    internal static class Crc32
    {
        private static readonly uint[] Table = Enumerable.Range(0, 256).Select(n =>
        {
            uint c = (uint)n;
            for (int k = 0; k < 8; k++) c = (c & 1) != 0 ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            return c;
        }).ToArray();

        public static uint Update(uint crc, ReadOnlySpan<byte> data)
        {
            foreach (var b in data) crc = Table[(crc ^ b) & 0xFF] ^ (crc >> 8);
            return crc;
        }
    }
}

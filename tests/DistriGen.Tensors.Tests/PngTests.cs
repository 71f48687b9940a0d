using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using DistriGen.Tensors.IO;

namespace DistriGen.Tensors.Tests;

/// <summary>PNG output checked chunk by chunk: signature, IHDR, CRCs recomputed here, and the decompressed rows.</summary>
public class PngTests
{
    private sealed record Chunk(string Type, byte[] Data, uint Crc);

    /// <summary>CRC-32 (ISO-HDLC, reflected 0xEDB88320) bit by bit, independent of the writer's table.</summary>
    private static uint Crc32(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (var b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
        }
        return ~crc;
    }

    private static List<Chunk> ReadChunks(byte[] png)
    {
        Assert.Equal(new byte[] { 0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A }, png[..8]);
        var chunks = new List<Chunk>();
        int at = 8;
        while (at < png.Length)
        {
            int length = BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(at));
            string type = Encoding.ASCII.GetString(png, at + 4, 4);
            var data = png.AsSpan(at + 8, length).ToArray();
            uint crc = BinaryPrimitives.ReadUInt32BigEndian(png.AsSpan(at + 8 + length));
            // The CRC covers the type and the data, not the length.
            Assert.True(Crc32(png.AsSpan(at + 4, 4 + length)) == crc, $"bad CRC on {type}");
            chunks.Add(new Chunk(type, data, crc));
            at += 12 + length;
        }
        Assert.Equal(png.Length, at);
        return chunks;
    }

    /// <summary>Checks the file's structure and returns the decompressed, still filtered, scanlines.</summary>
    private static byte[] ReadScanlines(string path, int width, int height)
    {
        var chunks = ReadChunks(File.ReadAllBytes(path));
        Assert.Equal("IHDR", chunks[0].Type);
        Assert.Equal("IEND", chunks[^1].Type);
        Assert.Empty(chunks[^1].Data);
        var ihdr = chunks[0].Data;
        Assert.Equal(13, ihdr.Length);
        Assert.Equal(width, BinaryPrimitives.ReadInt32BigEndian(ihdr));
        Assert.Equal(height, BinaryPrimitives.ReadInt32BigEndian(ihdr.AsSpan(4)));
        Assert.Equal(new byte[] { 8, 2, 0, 0, 0 }, ihdr[8..]); // 8-bit RGB, deflate, no filter method, no interlace
        var idat = chunks.Where(c => c.Type == "IDAT").SelectMany(c => c.Data).ToArray();
        Assert.NotEmpty(idat);
        using var z = new ZLibStream(new MemoryStream(idat), CompressionMode.Decompress);
        using var raw = new MemoryStream();
        z.CopyTo(raw);
        var rows = raw.ToArray();
        Assert.Equal(height * (1 + 3 * width), rows.Length);
        return rows;
    }

    [Theory]
    [InlineData(5, 3)]
    [InlineData(1, 1)]
    [InlineData(64, 17)]
    public void WriteRgb_writes_a_valid_png_with_the_given_pixels(int width, int height)
    {
        var rgb = new byte[width * height * 3];
        for (int i = 0; i < rgb.Length; i++) rgb[i] = (byte)(i * 37 + i / 7);
        using var dir = new TempDirectory();
        var path = dir.File("sub/dir/out.png"); // missing folders are created
        Png.WriteRgb(path, width, height, rgb);
        var rows = ReadScanlines(path, width, height);
        for (int y = 0; y < height; y++)
        {
            Assert.Equal(0, rows[y * (1 + 3 * width)]); // filter type None
            Assert.Equal(rgb.AsSpan(y * width * 3, width * 3).ToArray(), rows.AsSpan(y * (1 + 3 * width) + 1, width * 3).ToArray());
        }
    }

    [Fact]
    public void WriteImage_maps_minus_one_to_one_onto_bytes_as_diffusers()
    {
        // (clamp(x)·0.5 + 0.5)·255, rounded half to even: −1→0, −0.5→63.75→64, 0→127.5→128, 0.25→159.375→159, 0.5→191.25→191, 1→255.
        float[] values = [-1.5f, -1f, -0.5f, 0f, 0.25f, 0.5f, 1f, 2f];
        byte[] expected = [0, 0, 64, 128, 159, 191, 255, 255];
        int w = values.Length, h = 2;
        var data = new float[3 * h * w];
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < h; y++)
                for (int x = 0; x < w; x++)
                    data[(c * h + y) * w + x] = values[(x + c + y) % w]; // a different value per channel and row
        using var image = Tensor.FromArray(data, 1, 3, h, w);
        using var dir = new TempDirectory();
        var path = dir.File("image.png");
        Png.WriteImage(path, image);
        var rows = ReadScanlines(path, w, h);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                    Assert.Equal(expected[(x + c + y) % w], rows[y * (1 + 3 * w) + 1 + 3 * x + c]);
        Assert.Equal(128, Png.ToByte(0f));
    }

    [Fact]
    public void WriteImage_accepts_3_H_W_and_rejects_other_shapes()
    {
        using var dir = new TempDirectory();
        using var chw = Tensor.Zeros(3, 2, 4);
        Png.WriteImage(dir.File("a.png"), chw);
        ReadScanlines(dir.File("a.png"), 4, 2);
        using var gray = Tensor.Zeros(1, 2, 4);
        var e = Assert.Throws<ArgumentException>(() => Png.WriteImage(dir.File("b.png"), gray));
        Assert.Contains("(1, 2, 4)", e.Message);
    }

    [Fact]
    public void WriteRgb_rejects_a_wrong_byte_count()
    {
        using var dir = new TempDirectory();
        Assert.Throws<ArgumentException>(() => Png.WriteRgb(dir.File("x.png"), 2, 2, new byte[11]));
    }

    [Fact]
    public void Writer_crc_table_matches_the_bitwise_crc()
    {
        // The standard check value: CRC-32 of "123456789" is 0xCBF43926.
        var check = Encoding.ASCII.GetBytes("123456789");
        Assert.Equal(0xCBF43926u, Crc32(check));
        Assert.Equal(0xCBF43926u, Png.Crc32.Update(0xFFFFFFFFu, check) ^ 0xFFFFFFFFu);
    }
}

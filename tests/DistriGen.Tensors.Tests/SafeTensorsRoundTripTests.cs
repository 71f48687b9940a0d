using DistriGen.Tensors.IO;

namespace DistriGen.Tensors.Tests;

/// <summary>SafeTensorsWriter → SafeTensorsFile round trips in every dtype the writer supports.</summary>
public class SafeTensorsRoundTripTests
{
    private static Dictionary<string, Tensor> SampleTensors() => new()
    {
        ["conv.weight"] = Check.Normal(161, 5, 3, 3, 3),
        ["conv.bias"] = Check.Normal(162, 5),
        ["norm.weight"] = Tensor.FromArray([1f, -2.5f, 1e-3f, 65504f, 0f, -0f, 3.4e38f], 7),
        ["scalar"] = Tensor.FromArray([42f]),
        ["empty"] = Tensor.Zeros(0, 4),
    };

    [Fact]
    public void F32_round_trip_is_exact()
    {
        using var dir = new TempDirectory();
        var tensors = SampleTensors();
        var path = dir.File("model.safetensors");
        SafeTensorsWriter.Write(path, tensors);
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(tensors.Keys.Order(StringComparer.Ordinal), file.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, t) in tensors)
        {
            Assert.Equal(t.Shape, file.ShapeOf(name));
            Assert.Equal(SafeTensorsDType.F32, file.Entry(name).DType);
            using var read = file.Read(name);
            Check.Shape(read, t.Shape);
            Check.Bitwise(t.Span, read.Span, name);
        }
    }

    [Fact]
    public void F16_round_trip_rounds_to_nearest_half()
    {
        using var dir = new TempDirectory();
        var tensors = SampleTensors();
        var path = dir.File("model.fp16.safetensors");
        SafeTensorsWriter.Write(path, tensors, SafeTensorsDType.F16);
        Assert.Equal(8 + HeaderLength(path) + 2L * tensors.Values.Sum(t => t.Length), new FileInfo(path).Length);
        using var file = SafeTensorsFile.Open(path);
        foreach (var (name, t) in tensors)
        {
            Assert.Equal(SafeTensorsDType.F16, file.Entry(name).DType);
            using var read = file.Read(name);
            var src = t.ToArray();
            var got = read.ToArray();
            for (int i = 0; i < src.Length; i++)
            {
                // Exactly the IEEE round-to-nearest half, and so within half a unit in the last place (2⁻¹¹ relative).
                Assert.Equal((float)(Half)src[i], got[i]);
                if (Math.Abs(src[i]) is > 6.2e-5f and < 65504f) Assert.True(Math.Abs(got[i] - src[i]) <= Math.Abs(src[i]) / 2048, $"{name}[{i}]");
            }
        }
    }

    /// <summary>Round-to-nearest-even to bfloat16, written independently of the production bit trick.</summary>
    private static float ToBf16(float x)
    {
        if (float.IsNaN(x)) return float.NaN;
        if (float.IsInfinity(x)) return x;
        uint bits = BitConverter.SingleToUInt32Bits(x);
        float lower = BitConverter.UInt32BitsToSingle(bits & 0xFFFF0000u);
        float upper = BitConverter.UInt32BitsToSingle((bits & 0xFFFF0000u) + 0x10000u);
        double dl = Math.Abs((double)x - lower), du = Math.Abs((double)upper - x);
        if (float.IsInfinity(upper) && !float.IsInfinity(x)) du = Math.Abs(Math.Pow(2, 128) * Math.Sign(x) - x); // overflow rounds like a finite value 2¹²⁸
        if (dl < du) return lower;
        if (du < dl) return upper;
        return (bits & 0x10000u) == 0 ? lower : upper;
    }

    [Fact]
    public void Bf16_round_trip_rounds_to_nearest_even()
    {
        using var dir = new TempDirectory();
        var values = Check.NormalArray(163, 999).Select(v => v * 100f)
            .Concat([1f, -1f, 0f, -0f, 1.00390625f /* exactly halfway: to even */, 1.01171875f /* halfway: to even (up) */, 3.4e38f, float.MaxValue, 1e-40f, float.PositiveInfinity, float.NegativeInfinity])
            .ToArray();
        using var t = Tensor.FromArray(values, values.Length);
        var path = dir.File("model.safetensors");
        SafeTensorsWriter.Write(path, new Dictionary<string, Tensor> { ["x"] = t }, SafeTensorsDType.BF16);
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(SafeTensorsDType.BF16, file.Entry("x").DType);
        var got = file.Read("x").ToArray();
        for (int i = 0; i < values.Length; i++)
        {
            Assert.True(BitConverter.SingleToInt32Bits(ToBf16(values[i])) == BitConverter.SingleToInt32Bits(got[i]), $"bf16({values[i]:R}) read back as {got[i]:R}, expected {ToBf16(values[i]):R}");
            if (float.IsNormal(values[i]) && Math.Abs(values[i]) < 3e38f) Assert.True(Math.Abs(got[i] - values[i]) <= Math.Abs(values[i]) / 256, $"x[{i}]");
        }
    }

    [Fact]
    public void Bf16_keeps_NaN_whatever_its_payload()
    {
        // torch narrows any NaN to the quiet NaN 0x7FC0; a NaN must never come back as a number.
        uint[] nans = [0x7FC00000, 0xFFC00000, 0x7F800001, 0x7FFFFFFF, 0xFFFFFFFF, 0x7F80FFFF];
        var values = nans.Select(BitConverter.UInt32BitsToSingle).ToArray();
        using var dir = new TempDirectory();
        var path = dir.File("nan.safetensors");
        SafeTensorsWriter.Write(path, new Dictionary<string, Tensor> { ["x"] = Tensor.FromArray(values, values.Length) }, SafeTensorsDType.BF16);
        using var file = SafeTensorsFile.Open(path);
        var got = file.Read("x").ToArray();
        for (int i = 0; i < nans.Length; i++) Assert.True(float.IsNaN(got[i]), $"NaN 0x{nans[i]:X8} came back as {got[i]:R}");
    }

    [Fact]
    public void Metadata_round_trips()
    {
        using var dir = new TempDirectory();
        var path = dir.File("m.safetensors");
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcödé \"quoted\"" };
        SafeTensorsWriter.Write(path, SampleTensors(), metadata: metadata);
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(metadata, file.Metadata);
        Assert.False(file.Contains("__metadata__"));
    }

    [Fact]
    public void Written_file_does_not_depend_on_key_order_and_data_is_8_byte_aligned()
    {
        using var dir = new TempDirectory();
        var tensors = SampleTensors();
        var forward = dir.File("a.safetensors");
        var backward = dir.File("b.safetensors");
        SafeTensorsWriter.Write(forward, tensors.ToList());
        SafeTensorsWriter.Write(backward, tensors.Reverse().ToList());
        Assert.Equal(File.ReadAllBytes(forward), File.ReadAllBytes(backward));
        Assert.Equal(0, HeaderLength(forward) % 8);
    }

    [Fact]
    public void Reader_accepts_header_keys_in_any_order_and_data_in_another_order()
    {
        // Other writers need not sort: here the header lists b before a, and a's bytes come first.
        var a = new[] { 1f, 2f, 3f };
        var b = new[] { -4f, 5.5f };
        var header = "{\"b\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[12,20]},\"__metadata__\":{\"k\":\"v\"},\"a\":{\"dtype\":\"F32\",\"shape\":[3,1],\"data_offsets\":[0,12]}}";
        var data = a.Concat(b).SelectMany(BitConverter.GetBytes).ToArray();
        using var dir = new TempDirectory();
        var path = dir.File("unsorted.safetensors");
        SafeTensorsFiles.WriteRaw(path, header, data);
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal(a, file.Read("a").ToArray());
        Assert.Equal([3, 1], file.ShapeOf("a"));
        Assert.Equal(b, file.Read("b").ToArray());
        Assert.Equal("v", file.Metadata["k"]);
    }

    [Fact]
    public void Reader_widens_F64_I64_and_I32()
    {
        var header = "{\"d\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]},\"l\":{\"dtype\":\"I64\",\"shape\":[2],\"data_offsets\":[16,32]},\"i\":{\"dtype\":\"I32\",\"shape\":[2],\"data_offsets\":[32,40]}}";
        var data = BitConverter.GetBytes(0.1).Concat(BitConverter.GetBytes(-2.0))
            .Concat(BitConverter.GetBytes(7L)).Concat(BitConverter.GetBytes(-9L))
            .Concat(BitConverter.GetBytes(3)).Concat(BitConverter.GetBytes(1000)).ToArray();
        using var dir = new TempDirectory();
        var path = dir.File("wide.safetensors");
        SafeTensorsFiles.WriteRaw(path, header, data);
        using var file = SafeTensorsFile.Open(path);
        Assert.Equal([0.1f, -2f], file.Read("d").ToArray());
        Assert.Equal([7f, -9f], file.Read("l").ToArray());
        Assert.Equal([3f, 1000f], file.Read("i").ToArray());
    }

    [Fact]
    public void Memory_mapped_file_reads_into_spans_and_reports_entries()
    {
        using var dir = new TempDirectory();
        var tensors = SampleTensors();
        var path = dir.File("mm.safetensors");
        SafeTensorsWriter.Write(path, tensors);
        var file = SafeTensorsFile.Open(path);
        Assert.Equal(path, file.Path);
        Assert.Equal(path, file.Description);
        var entries = file.Entries.OrderBy(e => e.Begin).ToList();
        Assert.Equal(tensors.Count, entries.Count);
        Assert.Equal(0, entries[0].Begin);
        for (int i = 1; i < entries.Count; i++) Assert.Equal(entries[i - 1].End, entries[i].Begin); // tiled, no gaps

        var destination = new float[5];
        file.ReadInto("conv.bias", destination);
        Assert.Equal(tensors["conv.bias"].ToArray(), destination);
        Assert.Throws<ArgumentException>(() => file.ReadInto("conv.bias", new float[4]));

        var missing = Assert.Throws<KeyNotFoundException>(() => file.Entry("nope"));
        Assert.Contains(path, missing.Message);
        Assert.Contains("'nope'", missing.Message);
        Assert.Contains("conv.weight", missing.Message); // lists what the file does have

        file.Dispose();
        Assert.Throws<ObjectDisposedException>(() => file.ReadInto("conv.bias", destination));
        file.Dispose(); // twice is fine
    }

    [Fact]
    public void Writer_refuses_dtypes_it_cannot_write()
    {
        using var dir = new TempDirectory();
        Assert.Throws<ArgumentException>(() => SafeTensorsWriter.Write(dir.File("x.safetensors"), SampleTensors(), SafeTensorsDType.I32));
    }

    private static long HeaderLength(string path)
    {
        using var s = File.OpenRead(path);
        var b = new byte[8];
        s.ReadExactly(b);
        return (long)BitConverter.ToUInt64(b);
    }
}

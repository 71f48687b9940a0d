using DistriGen.Tensors.IO;

namespace DistriGen.Tensors.Tests;

/// <summary>
/// Damaged or hostile safetensors files must fail when opened, with a SafeTensorsFormatException
/// naming the file (and the tensor, where one is at fault), never with an out-of-memory, an access
/// violation or garbage values later.
/// </summary>
public class SafeTensorsCorruptionTests
{
    private static byte[] Floats(int n) => new byte[4 * n];

    private static string Entry(string name, string dtype, string shape, long begin, long end) =>
        $"\"{name}\":{{\"dtype\":\"{dtype}\",\"shape\":{shape},\"data_offsets\":[{begin},{end}]}}";

    /// <summary>Writes <paramref name="write"/>'s file, opens it, and returns the exception, checked for the file name and tensor.</summary>
    private static SafeTensorsFormatException OpenFails(Action<string> write, string? tensor, params string[] messageParts)
    {
        using var dir = new TempDirectory();
        var path = dir.File("bad.safetensors");
        write(path);
        var e = Assert.Throws<SafeTensorsFormatException>(() => SafeTensorsFile.Open(path).Dispose());
        Assert.Equal(path, e.Path);
        Assert.Contains(path, e.Message);
        Assert.Equal(tensor, e.Tensor);
        if (tensor is not null) Assert.Contains($"'{tensor}'", e.Message);
        foreach (var part in messageParts) Assert.Contains(part, e.Message);
        return e;
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    public void File_shorter_than_the_length_field_fails(int length) =>
        OpenFails(p => File.WriteAllBytes(p, new byte[length]), null, $"{length} bytes", "too short");

    [Fact]
    public void File_with_only_the_length_field_fails() =>
        OpenFails(p => File.WriteAllBytes(p, BitConverter.GetBytes(0UL)), null, "no header");

    [Fact]
    public void Header_cut_off_fails() =>
        // Claims a 100-byte header; only 20 bytes follow.
        OpenFails(p => SafeTensorsFiles.WriteRaw(p, "{\"w\":{\"dtype\":\"F32\",", [], headerLength: 100), null, "100", "20");

    [Fact]
    public void Header_length_past_the_end_of_the_file_fails() =>
        OpenFails(p => SafeTensorsFiles.WriteRaw(p, "{" + Entry("w", "F32", "[2]", 0, 8) + "}", Floats(2), headerLength: 4096), null, "4096", "truncated");

    [Fact]
    public void Huge_header_length_fails_without_allocating_it()
    {
        // ulong.MaxValue must be compared with the file's length, not cast to int or allocated.
        long before = GC.GetAllocatedBytesForCurrentThread();
        OpenFails(p => SafeTensorsFiles.WriteRaw(p, "{}", Floats(16), headerLength: ulong.MaxValue), null, ulong.MaxValue.ToString());
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20, "opening the file allocated more than 16 MiB");
    }

    [Fact]
    public void Header_length_just_over_the_limit_of_a_long_is_not_taken_as_negative() =>
        OpenFails(p => SafeTensorsFiles.WriteRaw(p, "{}", [], headerLength: 1UL << 63), null, "truncated");

    [Fact]
    public void Invalid_json_fails() =>
        OpenFails(p => SafeTensorsFiles.WriteRaw(p, "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [0, 8]", Floats(2)), null, "not valid JSON");

    [Fact]
    public void Header_that_is_not_an_object_fails() =>
        OpenFails(p => SafeTensorsFiles.WriteRaw(p, "[1, 2, 3]", []), null, "JSON object");

    [Fact]
    public void Unknown_dtype_fails_naming_the_tensor() =>
        OpenFails(p => SafeTensorsFiles.WriteRaw(p, "{" + Entry("unet.conv_in.weight", "Q8", "[2]", 0, 2) + "}", new byte[2]), "unet.conv_in.weight", "'Q8'");

    [Fact]
    public void Lowercase_or_numeric_dtype_names_are_not_accepted() =>
        // Enum parsing would take "1" or "f32"; the format only has the exact upper-case names.
        OpenFails(p => SafeTensorsFiles.WriteRaw(p, "{" + Entry("w", "1", "[2]", 0, 4) + "}", new byte[4]), "w", "'1'");

    [Fact]
    public void Missing_dtype_fails_naming_the_tensor() =>
        OpenFails(p => SafeTensorsFiles.WriteRaw(p, "{\"w\":{\"shape\":[2],\"data_offsets\":[0,8]}}", Floats(2)), "w", "dtype");

    [Fact]
    public void Negative_dimension_fails_naming_the_tensor() =>
        OpenFails(p => SafeTensorsFiles.WriteRaw(p, "{" + Entry("w", "F32", "[2,-1]", 0, 8) + "}", Floats(2)), "w", "invalid dimension");

    [Fact]
    public void Shape_and_byte_count_mismatch_fails_naming_the_tensor() =>
        // (2, 3) F32 needs 24 bytes; the offsets give 16.
        OpenFails(p => SafeTensorsFiles.WriteRaw(p, "{" + Entry("proj.weight", "F32", "[2,3]", 0, 16) + "}", Floats(4)), "proj.weight", "24", "16");

    [Fact]
    public void Overlapping_tensors_fail_naming_both()
    {
        var e = OpenFails(p => SafeTensorsFiles.WriteRaw(p, "{" + Entry("a", "F32", "[3]", 0, 12) + "," + Entry("b", "F32", "[3]", 8, 20) + "}", Floats(5)), "b", "overlap");
        Assert.Contains("'a'", e.Message);
    }

    [Fact]
    public void Offsets_past_the_end_of_the_data_fail_naming_the_tensor() =>
        OpenFails(p => SafeTensorsFiles.WriteRaw(p, "{" + Entry("a", "F32", "[2]", 0, 8) + "," + Entry("b", "F32", "[4]", 8, 24) + "}", Floats(4)), "b", "past the end");

    [Fact]
    public void Negative_or_reversed_offsets_fail_naming_the_tensor()
    {
        OpenFails(p => SafeTensorsFiles.WriteRaw(p, "{" + Entry("a", "F32", "[2]", -8, 0) + "}", Floats(2)), "a", "not a valid range");
        OpenFails(p => SafeTensorsFiles.WriteRaw(p, "{" + Entry("a", "F32", "[0]", 8, 0) + "}", Floats(2)), "a", "not a valid range");
        OpenFails(p => SafeTensorsFiles.WriteRaw(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", Floats(2)), "a", "data_offsets");
    }

    [Fact]
    public void Gap_between_tensors_fails_naming_the_tensor_after_it() =>
        OpenFails(p => SafeTensorsFiles.WriteRaw(p, "{" + Entry("a", "F32", "[2]", 0, 8) + "," + Entry("b", "F32", "[2]", 12, 20) + "}", Floats(5)), "b", "gap of 4 bytes");

    [Fact]
    public void Bytes_left_over_after_the_last_tensor_fail() =>
        OpenFails(p => SafeTensorsFiles.WriteRaw(p, "{" + Entry("a", "F32", "[2]", 0, 8) + "}", Floats(3)), null, "8", "12");

    [Fact]
    public void Missing_file_gives_FileNotFoundException()
    {
        var path = Path.Combine(Path.GetTempPath(), Guid.NewGuid().ToString("N") + ".safetensors");
        var e = Assert.Throws<FileNotFoundException>(() => SafeTensorsFile.Open(path));
        Assert.Contains(path, e.Message);
    }

    [Fact]
    public void A_tensor_named_twice_is_rejected() =>
        OpenFails(p => SafeTensorsFiles.WriteRaw(p, "{" + Entry("w", "F32", "[1]", 0, 4) + "," + Entry("w", "F32", "[1]", 4, 8) + "}", Floats(2)), "w", "twice");

    [Fact]
    public void An_empty_tensor_name_is_rejected() =>
        OpenFails(p => SafeTensorsFiles.WriteRaw(p, "{" + Entry("", "F32", "[1]", 0, 4) + "}", Floats(1)), null, "empty name");

    [Fact]
    public void A_header_that_is_not_utf8_is_rejected() =>
        OpenFails(p =>
        {
            var header = System.Text.Encoding.ASCII.GetBytes("{" + Entry("w?", "F32", "[1]", 0, 4) + "}");
            header[3] = 0xFF; // an invalid UTF-8 byte inside the tensor's name
            using var s = File.Create(p);
            s.Write(BitConverter.GetBytes((ulong)header.Length));
            s.Write(header);
            s.Write(Floats(1));
        }, null, "UTF-8");
}

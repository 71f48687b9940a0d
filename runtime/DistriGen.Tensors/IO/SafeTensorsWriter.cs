using System.Text;
using System.Text.Json;

namespace DistriGen.Tensors.IO;

/// <summary>Writes tensors to a safetensors file as F32 (or F16 to halve the size), keys sorted.</summary>
public static class SafeTensorsWriter
{
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, SafeTensorsDType dtype = SafeTensorsDType.F32, IReadOnlyDictionary<string, string>? metadata = null)
    {
        if (dtype is not (SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16))
            throw new ArgumentException($"Writing {dtype} is not supported; use F32, F16 or BF16.", nameof(dtype));
        var items = tensors.OrderBy(t => t.Key, StringComparer.Ordinal).ToList();
        int size = SafeTensorsDTypes.Size(dtype);
        using var header = new MemoryStream();
        using (var json = new Utf8JsonWriter(header))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject("__metadata__");
                foreach (var (k, v) in metadata.OrderBy(m => m.Key, StringComparer.Ordinal)) json.WriteString(k, v);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var (name, t) in items)
            {
                json.WriteStartObject(name);
                json.WriteString("dtype", dtype.ToString());
                json.WriteStartArray("shape");
                foreach (var d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + (long)t.Length * size);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += (long)t.Length * size;
            }
            json.WriteEndObject();
        }
        // The data section starts 8-byte aligned: the header is padded with spaces, as the format allows.
        int pad = (int)((8 - header.Length % 8) % 8);
        for (int i = 0; i < pad; i++) header.WriteByte((byte)' ');

        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write);
        file.Write(BitConverter.GetBytes((ulong)header.Length));
        header.Position = 0;
        header.CopyTo(file);
        foreach (var (_, t) in items) WriteData(file, t.Span, dtype);
    }

    public static void Write(string path, IReadOnlyDictionary<string, Tensor> tensors, SafeTensorsDType dtype = SafeTensorsDType.F32) =>
        Write(path, tensors.AsEnumerable(), dtype);

    private static void WriteData(Stream stream, ReadOnlySpan<float> data, SafeTensorsDType dtype)
    {
        switch (dtype)
        {
            case SafeTensorsDType.F32:
                stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data));
                break;
            case SafeTensorsDType.F16:
                var halves = new Half[data.Length];
                System.Numerics.Tensors.TensorPrimitives.ConvertToHalf(data, halves);
                stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(halves.AsSpan()));
                break;
            default:
                var bf = new ushort[data.Length];
                for (int i = 0; i < data.Length; i++)
                {
                    // Round to nearest even, as torch does when it narrows to bfloat16.
                    uint bits = BitConverter.SingleToUInt32Bits(data[i]);
                    bf[i] = float.IsNaN(data[i]) ? (ushort)0x7FC0 : (ushort)((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16);
                }
                stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(bf.AsSpan()));
                break;
        }
    }
}

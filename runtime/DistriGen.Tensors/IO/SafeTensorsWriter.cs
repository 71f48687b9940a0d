using System.Text;
using System.Text.Json;

namespace DistriGen.Tensors.IO;

/// <summary>One tensor to write and the element type it is stored as (I64 for integer values such as token ids).</summary>
public readonly record struct SafeTensorsItem(string Name, Tensor Tensor, SafeTensorsDType DType = SafeTensorsDType.F32);

/// <summary>Writes tensors to a safetensors file as F32 (or F16 to halve the size), keys sorted.</summary>
public static class SafeTensorsWriter
{
    public static void Write(string path, IEnumerable<KeyValuePair<string, Tensor>> tensors, SafeTensorsDType dtype = SafeTensorsDType.F32, IReadOnlyDictionary<string, string>? metadata = null) =>
        Write(path, tensors.Select(t => new SafeTensorsItem(t.Key, t.Value, dtype)), metadata);

    /// <summary>Writes the file whole or not at all (a failed write leaves the previous file as it was).</summary>
    public static void Write(string path, IEnumerable<SafeTensorsItem> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var items = tensors.ToList();
        AtomicFile.Write(path, stream => Write(stream, items, metadata));
    }

    public static void Write(Stream file, IEnumerable<SafeTensorsItem> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        var items = tensors.OrderBy(t => t.Name, StringComparer.Ordinal).ToList();
        foreach (var item in items)
            if (item.DType is not (SafeTensorsDType.F32 or SafeTensorsDType.F16 or SafeTensorsDType.BF16 or SafeTensorsDType.I64))
                throw new ArgumentException($"Writing {item.DType} ('{item.Name}') is not supported; use F32, F16, BF16 or I64.", nameof(tensors));
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
            foreach (var (name, t, dtype) in items)
            {
                int size = SafeTensorsDTypes.Size(dtype);
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

        file.Write(BitConverter.GetBytes((ulong)header.Length));
        header.Position = 0;
        header.CopyTo(file);
        foreach (var (_, t, dtype) in items) WriteData(file, t.Device.IsHost ? t.Span : t.ToArray(), dtype);
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
            case SafeTensorsDType.I64:
                var longs = new long[data.Length];
                for (int i = 0; i < data.Length; i++) longs[i] = (long)data[i];
                stream.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(longs.AsSpan()));
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

using DistriGen.Tensors;
using DistriGen.Tensors.IO;
using DistriGen.Tensors.Nn;

namespace DistriGen.Models.Checkpoints;

/// <summary>
/// One model's tensors, by their diffusers names, read from an original-layout checkpoint file through a
/// mapping (renamed, reshaped, transposed or cut from a fused tensor as diffusers' conversion does).
/// Keys of the component that no mapping reads are <see cref="Unused"/>; the loader reports them.
/// </summary>
public sealed class MappedTensorSource(SafeTensorsFile file, IReadOnlyDictionary<string, KeyMapping> mapping, string component) : ITensorSource
{
    public string Description => $"{file.Path} ({component})";

    public IEnumerable<string> Keys => mapping.Where(m => file.Contains(m.Value.Key)).Select(m => m.Key);

    public bool Contains(string key) => mapping.TryGetValue(key, out var m) && file.Contains(m.Key);

    /// <summary>The file's keys under <paramref name="prefix"/> that no diffusers tensor is read from.</summary>
    public IEnumerable<string> Unused(string prefix)
    {
        var read = mapping.Values.Select(m => m.Key).ToHashSet(StringComparer.Ordinal);
        return file.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal) && !read.Contains(k));
    }

    public int[] ShapeOf(string key)
    {
        var m = mapping[key];
        var shape = file.ShapeOf(m.Key);
        return m.Stored switch
        {
            StoredAs.Conv1x1 when shape is [var o, var i, 1, 1] => [o, i],
            StoredAs.Conv1x1 when shape.Length == 2 => shape,
            StoredAs.Transposed when shape is [var r, var c] => [c, r],
            StoredAs.Rows when shape.Length >= 1 && m.FirstRow + m.RowCount <= shape[0] => [m.RowCount, .. shape[1..]],
            StoredAs.Same => shape,
            _ => throw new InvalidDataException(
                $"{file.Path}: tensor '{m.Key}' has shape {Tensor.Format(shape)}, which is not what '{key}' is stored as ({m.Stored}).")
        };
    }

    public void ReadInto(string key, Span<float> destination)
    {
        var m = mapping[key];
        if (m.Stored is StoredAs.Same or StoredAs.Conv1x1)
        {
            file.ReadInto(m.Key, destination);
            return;
        }
        var stored = file.ShapeOf(m.Key);
        int length = Tensor.ElementCount(stored);
        var all = System.Buffers.ArrayPool<float>.Shared.Rent(length);
        try
        {
            file.ReadInto(m.Key, all.AsSpan(0, length));
            if (m.Stored == StoredAs.Rows)
            {
                int rowLength = length / stored[0];
                all.AsSpan(m.FirstRow * rowLength, m.RowCount * rowLength).CopyTo(destination);
                return;
            }
            int rows = stored[0], columns = stored[1];
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < columns; c++)
                    destination[c * rows + r] = all[r * columns + c];
        }
        finally
        {
            System.Buffers.ArrayPool<float>.Shared.Return(all);
        }
    }

    public void Dispose() { }
}

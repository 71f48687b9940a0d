using System.IO.MemoryMappedFiles;
using System.Text.Json;
using DistriGen.Tensors.Nn;

namespace DistriGen.Tensors.IO;

/// <summary>One tensor's entry in a safetensors header.</summary>
public sealed record SafeTensorsEntry(string Name, SafeTensorsDType DType, int[] Shape, long Begin, long End);

/// <summary>
/// A memory-mapped safetensors file. The header is validated when the file opens — its length, its JSON,
/// every dtype, shape and offset, and that the tensors tile the data exactly — so a bad file fails at
/// once with a message that names the file and the tensor, and no size read from the file is trusted
/// before it is checked against the file's real length.
/// </summary>
public sealed unsafe class SafeTensorsFile : ITensorSource, IDisposable
{
    /// <summary>Headers larger than this are refused rather than read (the format's own reference limit).</summary>
    public const long MaxHeaderBytes = 100_000_000;

    private readonly MemoryMappedFile? _map;
    private readonly MemoryMappedViewAccessor? _view;
    private readonly byte* _base;
    private readonly long _dataStart;
    private readonly Dictionary<string, SafeTensorsEntry> _entries;
    private bool _disposed;

    private SafeTensorsFile(string path, MemoryMappedFile? map, MemoryMappedViewAccessor? view, byte* basePtr, long dataStart, Dictionary<string, SafeTensorsEntry> entries, IReadOnlyDictionary<string, string> metadata)
    {
        Path = path;
        _map = map;
        _view = view;
        _base = basePtr;
        _dataStart = dataStart;
        _entries = entries;
        Metadata = metadata;
    }

    public string Path { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }
    public IReadOnlyCollection<SafeTensorsEntry> Entries => _entries.Values;
    public string Description => Path;
    public IEnumerable<string> Keys => _entries.Keys;
    public bool Contains(string key) => _entries.ContainsKey(key);
    public int[] ShapeOf(string key) => Entry(key).Shape;

    public SafeTensorsEntry Entry(string key) =>
        _entries.TryGetValue(key, out var e) ? e : throw new KeyNotFoundException($"{Path}: no tensor named '{key}'. It has: {string.Join(", ", _entries.Keys.Take(30))}{(_entries.Count > 30 ? ", …" : "")}");

    public static SafeTensorsFile Open(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No safetensors file at {path}.", path);
        long length = new FileInfo(path).Length;
        if (length < 8) throw new SafeTensorsFormatException(path, null, $"the file is {length} bytes, too short to hold the 8-byte header length.");
        if (length == 8) throw new SafeTensorsFormatException(path, null, "the file ends after the header length: there is no header.");
        var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
        byte* ptr = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref ptr);
        ptr += view.PointerOffset;
        try
        {
            var (entries, metadata, dataStart) = ParseHeader(path, new ReadOnlySpan<byte>(ptr, (int)Math.Min(length, int.MaxValue)), length);
            return new SafeTensorsFile(path, map, view, ptr, dataStart, entries, metadata);
        }
        catch
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
            view.Dispose();
            map.Dispose();
            throw;
        }
    }

    private static (Dictionary<string, SafeTensorsEntry>, Dictionary<string, string>, long) ParseHeader(string path, ReadOnlySpan<byte> file, long length)
    {
        ulong headerSize = BitConverter.ToUInt64(file[..8]);
        if (headerSize > (ulong)(length - 8))
            throw new SafeTensorsFormatException(path, null, $"the header claims {headerSize} bytes but only {length - 8} follow the length field (truncated file or corrupt header length).");
        if (headerSize > MaxHeaderBytes)
            throw new SafeTensorsFormatException(path, null, $"the header is {headerSize} bytes, more than the {MaxHeaderBytes} allowed.");
        long dataStart = 8 + (long)headerSize;
        long dataLength = length - dataStart;
        var header = file.Slice(8, (int)headerSize);
        if (!System.Text.Unicode.Utf8.IsValid(header))
            throw new SafeTensorsFormatException(path, null, "the header is not valid UTF-8 (a corrupt file, or not a safetensors file).");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(header.ToArray());
        }
        catch (JsonException e)
        {
            throw new SafeTensorsFormatException(path, null, $"the header is not valid JSON ({e.Message}).");
        }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new SafeTensorsFormatException(path, null, "the header must be a JSON object of tensors.");
            var entries = new Dictionary<string, SafeTensorsEntry>(StringComparer.Ordinal);
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var prop in doc.RootElement.EnumerateObject())
            {
                if (prop.Name == "__metadata__")
                {
                    if (prop.Value.ValueKind == JsonValueKind.Object)
                        foreach (var m in prop.Value.EnumerateObject()) metadata[m.Name] = m.Value.ToString();
                    continue;
                }
                if (prop.Name.Length == 0) throw new SafeTensorsFormatException(path, null, "a tensor in the header has an empty name.");
                if (entries.ContainsKey(prop.Name))
                    throw new SafeTensorsFormatException(path, prop.Name, "the header names this tensor twice; which one is meant cannot be known.");
                entries[prop.Name] = ParseEntry(path, prop.Name, prop.Value, dataLength);
            }
            CheckTiling(path, entries.Values, dataLength);
            return (entries, metadata, dataStart);
        }
    }

    private static SafeTensorsEntry ParseEntry(string path, string name, JsonElement e, long dataLength)
    {
        if (e.ValueKind != JsonValueKind.Object) throw new SafeTensorsFormatException(path, name, "its header entry is not an object.");
        if (!e.TryGetProperty("dtype", out var dt) || dt.ValueKind != JsonValueKind.String)
            throw new SafeTensorsFormatException(path, name, "no dtype.");
        if (!SafeTensorsDTypes.TryParse(dt.GetString()!, out var dtype))
            throw new SafeTensorsFormatException(path, name, $"dtype '{dt.GetString()}' is not supported (supported: {string.Join(", ", Enum.GetNames<SafeTensorsDType>())}).");
        if (!e.TryGetProperty("shape", out var sh) || sh.ValueKind != JsonValueKind.Array)
            throw new SafeTensorsFormatException(path, name, "no shape array.");
        var shape = new List<int>();
        long elements = 1;
        foreach (var d in sh.EnumerateArray())
        {
            if (d.ValueKind != JsonValueKind.Number || !d.TryGetInt64(out var v) || v < 0 || v > int.MaxValue)
                throw new SafeTensorsFormatException(path, name, $"shape {sh} has an invalid dimension.");
            shape.Add((int)v);
            elements = checked(elements * v);
            if (elements > int.MaxValue) throw new SafeTensorsFormatException(path, name, $"shape {sh} has more elements than one tensor can hold.");
        }
        if (!e.TryGetProperty("data_offsets", out var off) || off.ValueKind != JsonValueKind.Array || off.GetArrayLength() != 2)
            throw new SafeTensorsFormatException(path, name, "data_offsets must be [begin, end].");
        var offsets = off.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.Number && x.TryGetInt64(out var v) ? v : -1).ToArray();
        long begin = offsets[0], end = offsets[1];
        if (begin < 0 || end < begin)
            throw new SafeTensorsFormatException(path, name, $"data_offsets [{off[0]}, {off[1]}] are not a valid range.");
        if (end > dataLength)
            throw new SafeTensorsFormatException(path, name, $"data_offsets [{begin}, {end}] reach past the end of the data ({dataLength} bytes): the file is truncated or the offsets are wrong.");
        long expected = elements * SafeTensorsDTypes.Size(dtype);
        if (end - begin != expected)
            throw new SafeTensorsFormatException(path, name, $"shape ({string.Join(", ", shape)}) of {dtype} needs {expected} bytes but data_offsets give {end - begin}.");
        return new SafeTensorsEntry(name, dtype, shape.ToArray(), begin, end);
    }

    private static void CheckTiling(string path, IEnumerable<SafeTensorsEntry> entries, long dataLength)
    {
        long position = 0;
        SafeTensorsEntry? previous = null;
        foreach (var e in entries.OrderBy(e => e.Begin).ThenBy(e => e.End))
        {
            if (e.Begin < position)
                throw new SafeTensorsFormatException(path, e.Name, $"its bytes [{e.Begin}, {e.End}) overlap those of '{previous!.Name}' [{previous.Begin}, {previous.End}).");
            if (e.Begin > position)
                throw new SafeTensorsFormatException(path, e.Name, $"there is a gap of {e.Begin - position} bytes before it: the offsets do not tile the data.");
            position = e.End;
            previous = e;
        }
        if (position != dataLength)
            throw new SafeTensorsFormatException(path, null, $"the tensors cover {position} bytes but the data section has {dataLength}.");
    }

    public void ReadInto(string key, Span<float> destination)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var e = Entry(key);
        long count = e.Shape.Aggregate(1L, (a, b) => a * b);
        if (destination.Length != count)
            throw new ArgumentException($"{Path}: tensor '{key}' has {count} elements, the destination {destination.Length}.");
        SafeTensorsDTypes.Widen(e.DType, _base + _dataStart + e.Begin, destination);
    }

    /// <summary>Reads one tensor into a new float32 tensor.</summary>
    public Tensor Read(string key)
    {
        var t = Tensor.HostEmpty(Entry(key).Shape);
        ReadInto(key, t.Span);
        return t;
    }

    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (_view is not null)
        {
            _view.SafeMemoryMappedViewHandle.ReleasePointer();
            _view.Dispose();
        }
        _map?.Dispose();
    }
}

namespace DistriGen.Tensors.Nn;

/// <summary>Named tensors to load parameters from: a safetensors file, a sharded checkpoint, a dictionary.</summary>
public interface ITensorSource : IDisposable
{
    /// <summary>Where the tensors come from, for error messages (e.g. a file path).</summary>
    string Description { get; }

    IEnumerable<string> Keys { get; }

    bool Contains(string key);

    int[] ShapeOf(string key);

    /// <summary>Copies the tensor's values, widened to float32, into <paramref name="destination"/>.</summary>
    void ReadInto(string key, Span<float> destination);
}

/// <summary>A checkpoint that does not fit the model: every missing, unexpected and mis-shaped key at once.</summary>
public sealed class StateDictException(string source, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> mismatched)
    : Exception(Describe(source, missing, unexpected, mismatched))
{
    public IReadOnlyList<string> Missing { get; } = missing;
    public IReadOnlyList<string> Unexpected { get; } = unexpected;
    public IReadOnlyList<string> Mismatched { get; } = mismatched;

    private static string Describe(string source, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<string> mismatched)
    {
        var lines = new List<string> { $"The checkpoint {source} does not fit the model." };
        if (mismatched.Count > 0) lines.Add($"Shape mismatches ({mismatched.Count}): " + string.Join("; ", mismatched.Take(20)) + (mismatched.Count > 20 ? "; …" : ""));
        if (missing.Count > 0) lines.Add($"Missing keys ({missing.Count}): " + string.Join(", ", missing.Take(20)) + (missing.Count > 20 ? ", …" : ""));
        if (unexpected.Count > 0) lines.Add($"Unexpected keys ({unexpected.Count}): " + string.Join(", ", unexpected.Take(20)) + (unexpected.Count > 20 ? ", …" : ""));
        return string.Join(Environment.NewLine, lines);
    }
}

/// <summary>Tensors held in memory, by name.</summary>
public sealed class DictionaryTensorSource(IReadOnlyDictionary<string, Tensor> tensors, string description = "in-memory state dict") : ITensorSource
{
    public string Description => description;
    public IEnumerable<string> Keys => tensors.Keys;
    public bool Contains(string key) => tensors.ContainsKey(key);
    public int[] ShapeOf(string key) => tensors[key].Shape;
    public void ReadInto(string key, Span<float> destination) => Ops.Ops.CopyToHost(tensors[key], destination);

    /// <summary>
    /// A module's parameters by state-dict name (to load another instance of the same module, e.g. on another device).
    /// </summary>
    public static DictionaryTensorSource Of(Module module) =>
        new(module.NamedParameters().ToDictionary(p => p.Name, p => p.Tensor), $"the parameters of a loaded {module.GetType().Name}");

    public void Dispose() { }
}

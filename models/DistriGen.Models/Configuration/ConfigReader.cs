using System.Text.Json;

namespace DistriGen.Models.Configuration;

/// <summary>A config.json that asks for something we do not support, or is malformed: the message names the file and key.</summary>
public sealed class ModelConfigException(string file, string message) : Exception($"{file}: {message}")
{
    public string File { get; } = file;
}

/// <summary>
/// Reads a diffusers config.json key by key. Every key must be read or explicitly accepted: what is
/// left at the end is an unknown key and an error, never silently ignored. Keys starting with '_'
/// are metadata.
/// </summary>
internal sealed class ConfigReader
{
    private readonly Dictionary<string, JsonElement> _values;
    private readonly HashSet<string> _seen = [];

    public ConfigReader(string file, string json)
    {
        File = file;
        try
        {
            // Python's json writes -Infinity/Infinity/NaN (e.g. lambda_min_clipped), which JSON does not allow.
            json = System.Text.RegularExpressions.Regex.Replace(json, @"(?<=[:\[,]\s*)(-?Infinity|NaN)(?=\s*[,\]}])", "\"$1\"");
            using var doc = JsonDocument.Parse(json);
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new ModelConfigException(file, "the config must be a JSON object.");
            _values = doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone());
        }
        catch (JsonException e)
        {
            throw new ModelConfigException(file, $"not valid JSON ({e.Message}).");
        }
    }

    public static ConfigReader FromFile(string path)
    {
        if (!System.IO.File.Exists(path)) throw new FileNotFoundException($"No config at {path}.", path);
        return new ConfigReader(path, System.IO.File.ReadAllText(path));
    }

    public string File { get; }

    public bool Has(string key) => _values.TryGetValue(key, out var v) && v.ValueKind != JsonValueKind.Null;

    public int Int(string key, int? fallback = null) => Read(key, fallback, e => e.GetInt32());

    public double Double(string key, double? fallback = null) => Read(key, fallback, e => e.GetDouble());

    public bool Bool(string key, bool? fallback = null) => Read(key, fallback, e => e.GetBoolean());

    public string String(string key, string? fallback = null) => Read(key, fallback, e => e.GetString()!);

    public int? OptionalInt(string key) => Has(key) ? Int(key) : Mark(key, (int?)null);

    public string? OptionalString(string key) => Has(key) ? String(key) : Mark(key, (string?)null);

    /// <summary>An int or a list of ints, expanded to <paramref name="count"/> entries.</summary>
    public int[] IntList(string key, int count, int? fallback = null)
    {
        if (!Has(key))
        {
            if (fallback is null) throw Missing(key);
            _seen.Add(key);
            return Enumerable.Repeat(fallback.Value, count).ToArray();
        }
        _seen.Add(key);
        var e = _values[key];
        int Whole(JsonElement x) => x.ValueKind == JsonValueKind.Number && x.TryGetInt32(out var v) ? v
            : throw new ModelConfigException(File, $"'{key}' must be a whole number or a list of whole numbers (nested lists are not supported), got {e}.");
        if (e.ValueKind == JsonValueKind.Number) return Enumerable.Repeat(Whole(e), count).ToArray();
        if (e.ValueKind != JsonValueKind.Array) throw new ModelConfigException(File, $"'{key}' must be a number or a list of numbers, got {e}.");
        var list = e.EnumerateArray().Select(Whole).ToArray();
        if (count >= 0 && list.Length != count) throw new ModelConfigException(File, $"'{key}' has {list.Length} entries but there are {count} blocks.");
        return list;
    }

    public string[] StringList(string key)
    {
        if (!Has(key)) throw Missing(key);
        _seen.Add(key);
        var e = _values[key];
        if (e.ValueKind != JsonValueKind.Array) throw new ModelConfigException(File, $"'{key}' must be a list of strings, got {e}.");
        return e.EnumerateArray().Select(x => x.ValueKind == JsonValueKind.String ? x.GetString()! : throw new ModelConfigException(File, $"'{key}' must be a list of strings, got {e}.")).ToArray();
    }

    /// <summary>Accepts a key only when it has one of the values we implement (null means "absent or null").</summary>
    public void Require(string key, params object?[] supported)
    {
        _seen.Add(key);
        if (!_values.TryGetValue(key, out var e)) return;
        object? value = e.ValueKind switch
        {
            JsonValueKind.Null => null,
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            JsonValueKind.Number => e.GetDouble(),
            JsonValueKind.String => e.GetString(),
            _ => e.ToString(),
        };
        bool ok = supported.Any(s => s is null ? value is null : value is not null && (s is double or int or float ? value is double d && d == Convert.ToDouble(s) : s.Equals(value)));
        if (!ok)
            throw new ModelConfigException(File, $"'{key}' = {e} is not supported (supported: {string.Join(", ", supported.Select(s => s is null ? "null" : s is string str ? $"\"{str}\"" : s.ToString()!.ToLowerInvariant()))}).");
    }

    /// <summary>Every value of <paramref name="key"/> must be at least <paramref name="minimum"/>.</summary>
    public void AtLeast(string key, int minimum, params int[] values)
    {
        foreach (var v in values)
            if (v < minimum) throw new ModelConfigException(File, $"'{key}' = {v} must be at least {minimum}.");
    }

    /// <summary>Each channel count in <paramref name="channels"/> must split into <paramref name="parts"/> (groups or heads).</summary>
    public void Divides(string key, int[] parts, string channelsKey, int[] channels)
    {
        for (int i = 0; i < channels.Length; i++)
        {
            int p = parts.Length == 1 ? parts[0] : parts[i];
            if (p >= 1 && channels[i] % p != 0)
                throw new ModelConfigException(File, $"'{key}' = {p} does not divide the {channels[i]} channels of '{channelsKey}'[{i}].");
        }
    }

    /// <summary>A normalisation epsilon must be a positive number: a negative one makes the variance plus eps negative and the run non-finite.</summary>
    public void PositiveEpsilon(string key, double value)
    {
        if (!(value > 0) || double.IsInfinity(value))
            throw new ModelConfigException(File, $"'{key}' = {value} must be a small positive number: with it the normalisation would divide by the square root of a negative or zero number and every step would be non-finite.");
    }

    /// <summary>Throws for every key that was not read: an unknown key is an error, not ignored.</summary>
    public void RejectUnknown()
    {
        var unknown = _values.Keys.Where(k => !k.StartsWith('_') && !_seen.Contains(k)).OrderBy(k => k, StringComparer.Ordinal).ToList();
        if (unknown.Count > 0)
            throw new ModelConfigException(File, $"unknown config key{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(k => $"'{k}'"))}: DistriGen does not know what {(unknown.Count > 1 ? "they mean" : "it means")} and will not guess.");
    }

    private T Read<T>(string key, T? fallback, Func<JsonElement, T> convert) where T : struct
    {
        _seen.Add(key);
        if (!Has(key)) return fallback ?? throw Missing(key);
        try
        {
            return convert(_values[key]);
        }
        catch (Exception e) when (e is InvalidOperationException or FormatException)
        {
            throw new ModelConfigException(File, $"'{key}' has the wrong type: {_values[key]}.");
        }
    }

    private string Read(string key, string? fallback, Func<JsonElement, string> convert)
    {
        _seen.Add(key);
        if (!Has(key)) return fallback ?? throw Missing(key);
        if (_values[key].ValueKind != JsonValueKind.String) throw new ModelConfigException(File, $"'{key}' must be a string, got {_values[key]}.");
        return convert(_values[key]);
    }

    private T Mark<T>(string key, T value)
    {
        _seen.Add(key);
        return value;
    }

    private ModelConfigException Missing(string key) => new(File, $"the required key '{key}' is missing.");
}

using System.Text.Json;
using DistriGen.Tensors.Nn;

namespace DistriGen.Tensors.IO;

/// <summary>
/// A checkpoint split over several safetensors files with a "*.safetensors.index.json" whose
/// weight_map names the shard of every tensor, as diffusers and transformers write large models.
/// </summary>
public sealed class ShardedCheckpoint : ITensorSource, IDisposable
{
    private readonly Dictionary<string, SafeTensorsFile> _byKey = new(StringComparer.Ordinal);
    private readonly List<SafeTensorsFile> _shards = [];

    private ShardedCheckpoint(string indexPath) => Description = indexPath;

    public string Description { get; }
    public IEnumerable<string> Keys => _byKey.Keys;
    public bool Contains(string key) => _byKey.ContainsKey(key);
    public int[] ShapeOf(string key) => _byKey[key].ShapeOf(key);
    public void ReadInto(string key, Span<float> destination) => _byKey[key].ReadInto(key, destination);

    public static ShardedCheckpoint Open(string indexPath)
    {
        var checkpoint = new ShardedCheckpoint(indexPath);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(indexPath));
            if (!doc.RootElement.TryGetProperty("weight_map", out var map) || map.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{indexPath}: no weight_map object.");
            var dir = Path.GetDirectoryName(Path.GetFullPath(indexPath))!;
            var files = new Dictionary<string, SafeTensorsFile>(StringComparer.Ordinal);
            foreach (var entry in map.EnumerateObject())
            {
                var shardName = entry.Value.ValueKind == JsonValueKind.String ? entry.Value.GetString()!
                    : throw new InvalidDataException($"{indexPath}: weight_map entry '{entry.Name}' is not a file name.");
                if (checkpoint._byKey.ContainsKey(entry.Name))
                    throw new InvalidDataException($"{indexPath}: weight_map names '{entry.Name}' twice.");
                if (!files.TryGetValue(shardName, out var shard))
                {
                    var shardPath = Path.GetFullPath(Path.Combine(dir, shardName));
                    // A shard is a file next to the index: no absolute paths, no '..', no sub-folders of other models.
                    if (Path.IsPathRooted(shardName) || Path.GetDirectoryName(shardPath) != dir)
                        throw new InvalidDataException($"{indexPath}: weight_map puts '{entry.Name}' in '{shardName}', which is not a file in the index's folder.");
                    if (!File.Exists(shardPath)) throw new FileNotFoundException($"{indexPath}: shard '{shardName}' (for '{entry.Name}') does not exist.", shardPath);
                    files[shardName] = shard = SafeTensorsFile.Open(shardPath);
                    checkpoint._shards.Add(shard);
                }
                if (!shard.Contains(entry.Name))
                    throw new InvalidDataException($"{indexPath}: weight_map puts '{entry.Name}' in {shardName}, which has no such tensor.");
                checkpoint._byKey[entry.Name] = shard;
            }
            foreach (var (name, shard) in files)
            {
                var unlisted = shard.Keys.Where(k => !checkpoint._byKey.TryGetValue(k, out var owner) || owner != shard).Order(StringComparer.Ordinal).ToList();
                if (unlisted.Count > 0)
                    throw new InvalidDataException($"{indexPath}: shard {name} holds {unlisted.Count} tensor(s) the weight_map does not list there " +
                        $"({string.Join(", ", unlisted.Take(5))}{(unlisted.Count > 5 ? ", …" : "")}); the index does not describe the files.");
            }
            return checkpoint;
        }
        catch (JsonException e)
        {
            checkpoint.Dispose();
            throw new InvalidDataException($"{indexPath}: not valid JSON ({e.Message}).", e);
        }
        catch
        {
            checkpoint.Dispose();
            throw;
        }
    }

    public void Dispose()
    {
        foreach (var s in _shards) s.Dispose();
    }
}

/// <summary>Opens the weights of one diffusers component folder: a single file or a sharded index, F32/F16/BF16.</summary>
public static class Checkpoint
{
    /// <summary>
    /// Finds "{baseName}.safetensors", "{baseName}.fp16.safetensors" or their ".index.json" in
    /// <paramref name="directory"/> and opens it.
    /// </summary>
    public static ITensorSource OpenFolder(string directory, string baseName)
    {
        foreach (var stem in new[] { baseName, baseName + ".fp16" })
        {
            var single = Path.Combine(directory, stem + ".safetensors");
            if (File.Exists(single)) return SafeTensorsFile.Open(single);
            var index = single + ".index.json";
            if (File.Exists(index)) return ShardedCheckpoint.Open(index);
        }
        throw new FileNotFoundException($"No weights in {directory}: expected {baseName}.safetensors or {baseName}.safetensors.index.json.");
    }
}

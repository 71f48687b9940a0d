using System.Text.Json;
using DistriGen.Tensors.IO;
using DistriGen.Tensors.Nn;

namespace DistriGen.Tensors.Tests;

/// <summary>Checkpoints split over shards with a *.safetensors.index.json, as diffusers writes large models.</summary>
public class ShardedCheckpointTests
{
    private static readonly Dictionary<string, Tensor> Shard1 = new()
    {
        ["conv_in.weight"] = Check.Normal(171, 4, 3, 3, 3),
        ["conv_in.bias"] = Check.Normal(172, 4),
    };

    private static readonly Dictionary<string, Tensor> Shard2 = new()
    {
        ["proj.weight"] = Check.Normal(173, 5, 4),
        ["proj.bias"] = Check.Normal(174, 5),
    };

    /// <summary>Two F16 and F32 shards plus the index mapping each tensor to its shard.</summary>
    private static string WriteSharded(TempDirectory dir, string baseName, Action<Dictionary<string, string>>? editMap = null)
    {
        var first = $"{baseName}-00001-of-00002.safetensors";
        var second = $"{baseName}-00002-of-00002.safetensors";
        SafeTensorsWriter.Write(dir.File(first), Shard1);
        SafeTensorsWriter.Write(dir.File(second), Shard2, SafeTensorsDType.F16);
        var map = Shard1.Keys.ToDictionary(k => k, _ => first);
        foreach (var k in Shard2.Keys) map[k] = second;
        editMap?.Invoke(map);
        var index = dir.File($"{baseName}.safetensors.index.json");
        File.WriteAllText(index, JsonSerializer.Serialize(new { metadata = new { total_size = 1234 }, weight_map = map }));
        return index;
    }

    private static void AssertHoldsBothShards(ITensorSource source)
    {
        Assert.Equal(Shard1.Keys.Concat(Shard2.Keys).Order(StringComparer.Ordinal), source.Keys.Order(StringComparer.Ordinal));
        foreach (var (name, t) in Shard1)
        {
            Assert.Equal(t.Shape, source.ShapeOf(name));
            var values = new float[t.Length];
            source.ReadInto(name, values);
            Assert.Equal(t.ToArray(), values);
        }
        foreach (var (name, t) in Shard2)
        {
            var values = new float[t.Length];
            source.ReadInto(name, values);
            Assert.Equal(t.ToArray().Select(v => (float)(Half)v), values); // the second shard is F16
        }
    }

    [Fact]
    public void ShardedCheckpoint_reads_every_tensor_from_its_shard()
    {
        using var dir = new TempDirectory();
        var index = WriteSharded(dir, "diffusion_pytorch_model");
        using var checkpoint = ShardedCheckpoint.Open(index);
        Assert.Equal(index, checkpoint.Description);
        Assert.True(checkpoint.Contains("proj.bias"));
        Assert.False(checkpoint.Contains("nope"));
        AssertHoldsBothShards(checkpoint);
    }

    [Fact]
    public void OpenFolder_finds_a_sharded_index()
    {
        using var dir = new TempDirectory();
        WriteSharded(dir, "diffusion_pytorch_model");
        using var source = Checkpoint.OpenFolder(dir.Path, "diffusion_pytorch_model");
        Assert.IsType<ShardedCheckpoint>(source);
        AssertHoldsBothShards(source);
    }

    [Fact]
    public void OpenFolder_finds_an_fp16_variant_index()
    {
        using var dir = new TempDirectory();
        WriteSharded(dir, "diffusion_pytorch_model.fp16");
        using var source = Checkpoint.OpenFolder(dir.Path, "diffusion_pytorch_model");
        AssertHoldsBothShards(source);
    }

    [Fact]
    public void OpenFolder_prefers_a_single_file()
    {
        using var dir = new TempDirectory();
        WriteSharded(dir, "diffusion_pytorch_model");
        SafeTensorsWriter.Write(dir.File("diffusion_pytorch_model.safetensors"), Shard1);
        using var source = Checkpoint.OpenFolder(dir.Path, "diffusion_pytorch_model");
        Assert.IsType<SafeTensorsFile>(source);
    }

    [Fact]
    public void OpenFolder_without_weights_names_the_folder_and_expected_files()
    {
        using var dir = new TempDirectory();
        var e = Assert.Throws<FileNotFoundException>(() => Checkpoint.OpenFolder(dir.Path, "unet"));
        Assert.Contains(dir.Path, e.Message);
        Assert.Contains("unet.safetensors", e.Message);
    }

    [Fact]
    public void Index_pointing_to_a_missing_shard_names_the_shard()
    {
        using var dir = new TempDirectory();
        var index = WriteSharded(dir, "model", map => map["proj.bias"] = "model-00003-of-00002.safetensors");
        var e = Assert.Throws<FileNotFoundException>(() => ShardedCheckpoint.Open(index));
        Assert.Contains("model-00003-of-00002.safetensors", e.Message);
        Assert.Contains("proj.bias", e.Message);
    }

    [Fact]
    public void Index_putting_a_tensor_in_the_wrong_shard_names_both()
    {
        using var dir = new TempDirectory();
        var index = WriteSharded(dir, "model", map => map["proj.bias"] = "model-00001-of-00002.safetensors");
        var e = Assert.Throws<InvalidDataException>(() => ShardedCheckpoint.Open(index));
        Assert.Contains("'proj.bias'", e.Message);
        Assert.Contains("model-00001-of-00002.safetensors", e.Message);
    }

    [Fact]
    public void Index_that_is_not_json_or_has_no_weight_map_fails_naming_the_index()
    {
        using var dir = new TempDirectory();
        var index = dir.File("model.safetensors.index.json");
        File.WriteAllText(index, "{ weight_map: ");
        Assert.Contains(index, Assert.Throws<InvalidDataException>(() => ShardedCheckpoint.Open(index)).Message);
        File.WriteAllText(index, "{\"metadata\": {}}");
        Assert.Contains("weight_map", Assert.Throws<InvalidDataException>(() => ShardedCheckpoint.Open(index)).Message);
    }

    [Fact]
    public void Corrupt_shard_fails_naming_the_shard_file()
    {
        using var dir = new TempDirectory();
        var index = WriteSharded(dir, "model");
        var shard = dir.File("model-00002-of-00002.safetensors");
        var bytes = File.ReadAllBytes(shard);
        File.WriteAllBytes(shard, bytes[..^2]); // truncated download
        var e = Assert.Throws<SafeTensorsFormatException>(() => ShardedCheckpoint.Open(index));
        Assert.Equal(shard, e.Path);
    }

    [Fact]
    public void Model_loads_from_a_sharded_checkpoint()
    {
        using var dir = new TempDirectory();
        var index = WriteSharded(dir, "model");
        var model = new ConvThenLinear();
        using (var checkpoint = ShardedCheckpoint.Open(index)) model.LoadStateDict(checkpoint);
        Assert.Equal(Shard1["conv_in.weight"].ToArray(), model.Conv.Weight.ToArray());
        Assert.Equal(Shard2["proj.weight"].ToArray().Select(v => (float)(Half)v), model.Proj.Weight.ToArray());
    }

    [Theory]
    [InlineData("../elsewhere.safetensors")]
    [InlineData("/tmp/absolute.safetensors")]
    [InlineData("sub/model-00001-of-00002.safetensors")]
    public void A_weight_map_entry_outside_the_folder_is_rejected_naming_it(string shard)
    {
        using var dir = new TempDirectory();
        var index = WriteSharded(dir, "model", map => map["proj.bias"] = shard);
        var e = Assert.Throws<InvalidDataException>(() => ShardedCheckpoint.Open(index).Dispose());
        Assert.Contains("'proj.bias'", e.Message);
        Assert.Contains(shard, e.Message);
    }

    [Fact]
    public void A_tensor_in_a_shard_that_the_index_does_not_list_is_an_error()
    {
        using var dir = new TempDirectory();
        var index = WriteSharded(dir, "model", map => map.Remove("conv_in.bias"));
        var e = Assert.Throws<InvalidDataException>(() => ShardedCheckpoint.Open(index).Dispose());
        Assert.Contains("conv_in.bias", e.Message);
        Assert.Contains("does not list", e.Message);
    }

    private sealed class ConvThenLinear : Module
    {
        public Nn.Conv2d Conv { get; } = new(3, 4, 3, padding: 1);
        public Linear Proj { get; } = new(4, 5);

        public override IEnumerable<(string Name, Module? Module)> Children()
        {
            yield return ("conv_in", Conv);
            yield return ("proj", Proj);
        }
    }
}

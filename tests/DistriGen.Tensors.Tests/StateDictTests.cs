using DistriGen.Tensors.IO;
using DistriGen.Tensors.Nn;

namespace DistriGen.Tensors.Tests;

/// <summary>
/// Module names and LoadStateDict: a checkpoint that does not fit must be reported in one error that
/// lists every missing, unexpected and mis-shaped key, not the first of them.
/// </summary>
public class StateDictTests
{
    /// <summary>A small block using each layer type with diffusers' parameter names.</summary>
    private sealed class TinyBlock : Module
    {
        public Nn.Conv2d Conv { get; } = new(3, 4, 3, padding: 1);
        public GroupNorm Norm { get; } = new(2, 4);
        public ModuleList<Nn.Attention> Attentions { get; } = new(new Nn.Attention(4, 2, 2), new Nn.Attention(4, 1, 4, crossAttentionDim: 6));
        public Linear Proj { get; } = new(4, 5, bias: false);

        public override IEnumerable<(string Name, Module? Module)> Children()
        {
            yield return ("conv_in", Conv);
            yield return ("norm", Norm);
            yield return ("attentions", Attentions);
            yield return ("proj", Proj);
            yield return ("absent", null); // null children are skipped
        }
    }

    private static readonly string[] ExpectedNames =
    [
        "conv_in.weight", "conv_in.bias", "norm.weight", "norm.bias",
        "attentions.0.to_q.weight", "attentions.0.to_k.weight", "attentions.0.to_v.weight", "attentions.0.to_out.0.weight", "attentions.0.to_out.0.bias",
        "attentions.1.to_q.weight", "attentions.1.to_k.weight", "attentions.1.to_v.weight", "attentions.1.to_out.0.weight", "attentions.1.to_out.0.bias",
        "proj.weight",
    ];

    /// <summary>A state dict that fits <see cref="TinyBlock"/> exactly, with seeded values.</summary>
    private static Dictionary<string, Tensor> FittingStateDict()
    {
        var shapes = new TinyBlock().NamedParameters().ToList();
        return shapes.Select((p, i) => (p.Name, Tensor: Check.Normal(200 + i, p.Tensor.Shape))).ToDictionary(p => p.Name, p => p.Tensor);
    }

    [Fact]
    public void Parameter_names_follow_diffusers()
    {
        var block = new TinyBlock();
        Assert.Equal(ExpectedNames, block.NamedParameters().Select(p => p.Name));
        Assert.Equal([4, 3, 3, 3], block.NamedParameters().First().Tensor.Shape);
        Assert.Equal([4, 6], block.NamedParameters().Single(p => p.Name == "attentions.1.to_k.weight").Tensor.Shape); // (inner, cross dim)
        Assert.Equal(ExpectedNames.Sum(n => (long)block.NamedParameters().Single(p => p.Name == n).Tensor.Length), block.ParameterCount());
    }

    [Fact]
    public void LoadStateDict_copies_every_parameter()
    {
        var block = new TinyBlock();
        var state = FittingStateDict();
        block.LoadStateDict(new DictionaryTensorSource(state));
        foreach (var (name, t) in block.NamedParameters()) Assert.Equal(state[name].ToArray(), t.ToArray());
    }

    [Fact]
    public void LoadStateDict_reports_missing_unexpected_and_mismatched_keys_together()
    {
        var state = FittingStateDict();
        state.Remove("norm.bias");
        state.Remove("attentions.1.to_out.0.bias");
        state["proj.bias"] = Tensor.Zeros(5);                   // the layer has no bias
        state["time_embedding.linear_1.weight"] = Tensor.Zeros(2); // not in the model at all
        state["conv_in.weight"] = Tensor.Zeros(4, 3, 1, 1);       // wrong kernel size
        state["attentions.0.to_k.weight"] = Tensor.Zeros(4, 5);   // wrong input features

        var block = new TinyBlock();
        var e = Assert.Throws<StateDictException>(() => block.LoadStateDict(new DictionaryTensorSource(state, "test checkpoint")));

        Assert.Equal(["norm.bias", "attentions.1.to_out.0.bias"], e.Missing);
        Assert.Equal(["proj.bias", "time_embedding.linear_1.weight"], e.Unexpected);
        Assert.Equal(2, e.Mismatched.Count);
        Assert.Contains(e.Mismatched, m => m.StartsWith("conv_in.weight", StringComparison.Ordinal) && m.Contains("(4, 3, 1, 1)") && m.Contains("(4, 3, 3, 3)"));
        Assert.Contains(e.Mismatched, m => m.StartsWith("attentions.0.to_k.weight", StringComparison.Ordinal) && m.Contains("(4, 5)") && m.Contains("(4, 4)"));
        // One message lists everything, and names the source.
        foreach (var key in new[] { "test checkpoint", "norm.bias", "attentions.1.to_out.0.bias", "proj.bias", "time_embedding.linear_1.weight", "conv_in.weight", "attentions.0.to_k.weight" })
            Assert.Contains(key, e.Message);
    }

    [Fact]
    public void LoadStateDict_ignores_unexpected_keys_under_given_prefixes()
    {
        var state = FittingStateDict();
        state["ema.decay"] = Tensor.Zeros(1);
        var block = new TinyBlock();
        block.LoadStateDict(new DictionaryTensorSource(state), "ema.");
        var e = Assert.Throws<StateDictException>(() => block.LoadStateDict(new DictionaryTensorSource(state), "other."));
        Assert.Equal(["ema.decay"], e.Unexpected);
        Assert.Empty(e.Missing);
        Assert.Empty(e.Mismatched);
    }

    [Fact]
    public void LoadStateDict_from_a_safetensors_file_restores_the_model()
    {
        // Save a randomly initialised block, load it into a fresh one, and get the same attention output.
        var source = new TinyBlock();
        source.InitializeRandom(7);
        using var dir = new TempDirectory();
        var path = dir.File("block.safetensors");
        SafeTensorsWriter.Write(path, source.NamedParameters().Select(p => KeyValuePair.Create(p.Name, p.Tensor)));
        var copy = new TinyBlock();
        using (var file = SafeTensorsFile.Open(path)) copy.LoadStateDict(file);
        using var x = Check.Normal(8, 1, 6, 4);
        using var expected = source.Attentions[0].Forward(x);
        using var got = copy.Attentions[0].Forward(x);
        Check.Bitwise(expected.Span, got.Span);
    }

    [Fact]
    public void GroupNorm_rejects_channels_not_divisible_by_groups()
    {
        var e = Assert.Throws<ArgumentException>(() => new GroupNorm(3, 8));
        Assert.Contains("8", e.Message);
        Assert.Contains("3", e.Message);
    }
}

using DistriGen.Runtime;
using DistriGen.Testing;

namespace CustomModel.Tests;

/// <summary>The generated patch-parallel code of our model, snapshot-tested as DistriGen recommends.</summary>
public sealed class GeneratedCodeTests
{
    private static readonly GeneratorOutput Output = GeneratorHarness.Run(
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TinyDenoiser.cs.txt")),
        typeof(PatchParallelAttribute).Assembly, typeof(DistriGen.Tensors.Tensor).Assembly);

    [Fact]
    public void TheModelCompilesWithoutDiagnostics()
    {
        Assert.Empty(Output.GeneratorDiagnostics);
        Assert.Empty(Output.CompilationProblems);
    }

    [Theory]
    [InlineData("TinyDenoiser")]
    [InlineData("MixBlock")]
    [InlineData("PixelAttention")]
    public void GeneratedCodeMatchesTheSnapshot(string type) => Snapshot.Verify(Output.Source(type), type);
}

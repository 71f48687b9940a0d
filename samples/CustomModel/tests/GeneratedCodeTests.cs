using DistriGen.Testing;

namespace CustomModel.Tests;

/// <summary>
/// Our model's generated patch-parallel code, snapshot-tested, and its variant against one device, as DistriGen
/// recommends.
/// </summary>
public sealed class GeneratedCodeTests
{
    private static readonly GeneratorOutput Output = GeneratorHarness.Run(
        File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "TinyDenoiser.cs.txt")));

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

    [Theory]
    [InlineData(2)]
    [InlineData(3)]
    public void ExactModeEqualsOneDevice(int ranks)
    {
        using var input = DistriGen.Tensors.Ops.SeededNormal.Sample(2, 1, 4, 24, 20).Keep();
        PatchParallelAssert.ExactMatchesSingleDevice(() =>
        {
            var model = new TinyDenoiser();
            model.InitializeRandom(seed: 1);
            return model;
        }, (model, x) => model.Forward(x), input, ranks);
    }
}

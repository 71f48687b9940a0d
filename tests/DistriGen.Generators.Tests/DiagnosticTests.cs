using DistriGen.Runtime;
using DistriGen.Testing;
using DistriGen.Tensors.Nn;
using Microsoft.CodeAnalysis;

namespace DistriGen.Generators.Tests;

/// <summary>Every DG diagnostic: its id, a message that says what to do, and where it points.</summary>
public sealed class DiagnosticTests
{
    private static string _source = "";

    private static Diagnostic Single(string body, string id)
    {
        _source = Sources.Usings + body;
        var output = GeneratorHarness.Run(_source, typeof(PatchParallelAttribute).Assembly, typeof(Module).Assembly);
        var diagnostic = Assert.Single(output.GeneratorDiagnostics, d => d.Id == id);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Equal("Source0.cs", diagnostic.Location.GetLineSpan().Path);
        return diagnostic;
    }

    /// <summary>The source text the diagnostic points at.</summary>
    private static string At(Diagnostic d) => _source.Substring(d.Location.SourceSpan.Start, d.Location.SourceSpan.Length);

    [Fact]
    public void NotPartial()
    {
        var d = Single("[PatchParallel] public sealed class Block : Module { }", "DG0001");
        Assert.Equal("Block", At(d));
        Assert.Contains("add the 'partial' modifier", d.GetMessage());
    }

    [Fact]
    public void ContainingTypeNotPartial()
    {
        var d = Single("public static class Outer { [PatchParallel] public sealed partial class Block : Module { } }", "DG0001");
        Assert.Contains("'Outer'", d.GetMessage());
    }

    [Fact]
    public void NotAModule()
    {
        var d = Single("[PatchParallel] public sealed partial class Block { }", "DG0002");
        Assert.Equal("Block", At(d));
        Assert.Contains("does not derive from DistriGen.Tensors.Nn.Module", d.GetMessage());
    }

    [Fact]
    public void UnknownSpatialModule()
    {
        var d = Single("""
            public sealed class Blur : Module { }
            [PatchParallel] public sealed partial class Block : Module { public Blur Smooth { get; } = new(); }
            """, "DG0003");
        Assert.Equal("Smooth", At(d));
        Assert.Contains("mark 'Blur' [PatchParallel]", d.GetMessage());
        Assert.Contains("[PixelLocal]", d.GetMessage());
    }

    [Fact]
    public void PixelLocalLayersAreShared()
    {
        var output = GeneratorHarness.Run(Sources.Usings + """
            [PixelLocal] public sealed class Gain : Module { }
            [PatchParallel] public sealed partial class Block : Module { public Gain Gain { get; } = new(); }
            """, typeof(PatchParallelAttribute).Assembly, typeof(Module).Assembly);
        Assert.Empty(output.GeneratorDiagnostics);
        Assert.Contains("this.Gain = source.Gain;", output.Source("Block"));
    }

    [Theory]
    [InlineData("Ops.Conv2d(x, x, null, 1, default)", "a Conv2d")]
    [InlineData("Ops.GroupNorm(x, 2, x, x, 1e-5f)", "a GroupNorm")]
    [InlineData("Ops.Attention(x, x, x, 2)", "an Attention")]
    public void FunctionalCallBypassingTheRewrite(string call, string layer)
    {
        var d = Single($$"""
            [PatchParallel] public sealed partial class Block : Module
            {
                public Tensor Forward(Tensor x) => {{call}};
            }
            """, "DG0004");
        Assert.Equal(call, At(d));
        Assert.Contains($"use {layer} member instead", d.GetMessage());
        Assert.Contains("'Forward'", d.GetMessage());
    }

    [Theory]
    [InlineData("[PatchParallel] public sealed partial class Block<T> : Module { }", "generic")]
    [InlineData("[PatchParallel] public abstract partial class Block : Module { }", "abstract")]
    [InlineData("public partial class Outer<T> { [PatchParallel] public sealed partial class Block : Module { } }", "nested in a generic type")]
    public void UnsupportedClassShapes(string body, string problem)
    {
        var d = Single(body, "DG0005");
        Assert.Equal("Block", At(d));
        Assert.Contains(problem, d.GetMessage());
    }

    [Fact]
    public void SplitsInputOnANonConvolution()
    {
        var d = Single("[PatchParallel] public sealed partial class Block : Module { [SplitsInput] public GroupNorm Norm { get; } = new(2, 4); }", "DG0006");
        Assert.Equal("Norm", At(d));
    }

    [Fact]
    public void BaseModuleNotAnnotated()
    {
        var d = Single("""
            public class Plain : Module { }
            [PatchParallel] public sealed partial class Block : Plain { }
            """, "DG0007");
        Assert.Contains("mark 'Plain' [PatchParallel]", d.GetMessage());
    }

    [Fact]
    public void StrangeInputNeverCrashesTheGenerator()
    {
        // Broken code, missing types and odd members must give diagnostics (or nothing), never an exception.
        var output = GeneratorHarness.Run(Sources.Usings + """
            [PatchParallel] public sealed partial class Block : Module
            {
                public Missing Thing { get; }
                public Conv2d this[int i] => null!;
                public event System.Action? Changed;
                public Conv2d[,] Grid = new Conv2d[1, 1];
                public Tensor Forward(Tensor x) => Ops.Conv2d(
            """, typeof(PatchParallelAttribute).Assembly, typeof(Module).Assembly);
        Assert.DoesNotContain(output.GeneratorDiagnostics, d => d.Id == "DG0008");
    }

    [Fact]
    public void FunctionalCallThroughAHelperNamesTheWay()
    {
        var d = Single("""
            public static class Filters
            {
                public static Tensor Smooth(Tensor x) => Inner(x);
                private static Tensor Inner(Tensor x) => Ops.GroupNorm(x, 2, x, x, 1e-5f);
            }
            [PatchParallel] public sealed partial class Block : Module
            {
                public Tensor Forward(Tensor x) => Filters.Smooth(x);
            }
            """, "DG0004");
        Assert.Equal("Filters.Smooth(x)", At(d));
        Assert.Contains("'Forward' through 'Filters.Smooth' → 'Filters.Inner'", d.GetMessage());
        Assert.Contains("use a GroupNorm member", d.GetMessage());
    }

    [Theory]
    [InlineData("new(4, 4, 3, padding: 0)", "needs padding 1 for a 3×3 kernel")]
    [InlineData("new(4, 4, kernelSize: 4, stride: 2, padding: 1)", "an even kernel")]
    public void ConvolutionsThatChangeTheRowCountFailAtBuildTime(string creation, string fix)
    {
        var d = Single($"[PatchParallel] public sealed partial class Block : Module {{ public Conv2d Conv {{ get; }} = {creation}; }}", "DG0013");
        Assert.Equal(creation, At(d));
        Assert.Contains(fix, d.GetMessage());
    }

    [Fact]
    public void OptionalMembersMayShareAStateName()
    {
        var output = GeneratorHarness.Run(Sources.Usings + """
            [PatchParallel] public sealed partial class Block : Module
            {
                [StateName("proj_in")] public Conv2d? ProjConv { get; }
                [StateName("proj_in")] public Linear? ProjLinear { get; } = new(4, 4);
            }
            """);
        Assert.Empty(output.GeneratorDiagnostics);
    }

    [Fact]
    public void GeneratedCodeCarriesTheGeneratorsVersion()
    {
        var version = typeof(PatchParallelGenerator).Assembly.GetName().Version!;
        var output = GeneratorHarness.Run(Sources.Resnet);
        Assert.Contains($"GeneratedCode(\"DistriGen.Generators\", \"{version.Major}.{version.Minor}.{version.Build}\")", output.Source("TinyResnet"));
    }
}

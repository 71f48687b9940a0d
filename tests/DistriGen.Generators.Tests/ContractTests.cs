using Assembly = System.Reflection.Assembly;
using System.Runtime.Loader;
using DistriGen.Runtime;
using DistriGen.Testing;
using DistriGen.Tensors;
using DistriGen.Tensors.Nn;
using DistriGen.Tensors.Ops;
using Microsoft.CodeAnalysis;

namespace DistriGen.Generators.Tests;

/// <summary>
/// The generator's contract on sources a user might write: each either fails with precise DG errors
/// (and nothing else: no CS error inside or outside generated code, no generator exception), or builds
/// into a variant that in Exact mode equals one device on 2 and 3 ranks.
/// </summary>
public sealed class ContractTests
{
    /// <summary>The caller every source gets: user code that asks for the variant must keep compiling.</summary>
    private const string Caller = """

        internal static class Caller
        {
            internal static object Variant(Net net, PatchContext context) => net.ToPatchParallel(context);
        }
        """;

    public static TheoryData<string, string> Failing => new()
    {
        { "DG0009", "public Conv2d[][] Grid { get; } = [[new(4, 4, 3, padding: 1)]];" },
        { "DG0009", "public Conv2d[,] Grid { get; } = new Conv2d[1, 1];" },
        { "DG0009", "public (Conv2d A, Conv2d B) Pair { get; } = (new(4, 4, 3, padding: 1), new(4, 4, 3, padding: 1));" },
        { "DG0009", "public Lazy<Conv2d> Later { get; } = new(() => new Conv2d(4, 4, 3, padding: 1));" },
        { "DG0009", "public Dictionary<int, Conv2d> ByIndex { get; } = new() { [0] = new(4, 4, 3, padding: 1) };" },
        { "DG0009", "public Holder Held { get; } = new(); } public sealed class Holder { public Conv2d Conv = new(4, 4, 3, padding: 1);" },
        { "DG0011", "public Conv2d Conv => new Conv2d(4, 4, 3, padding: 1);" },
        { "DG0014", "public Tensor Forward(Tensor x) { var conv = new Conv2d(4, 4, 3, padding: 1); return conv.Forward(x); }" },
        { "DG0013", "public Conv2d Conv { get; } = new(4, 4, 3, padding: 0);" },
        { "DG0013", "public Conv2d Down { get; } = new(4, 4, kernelSize: 4, stride: 2, padding: 1);" },
        { "DG0010", "public Net ToPatchParallel(PatchContext context) => this;" },
        { "DG0010", "public override IEnumerable<(string Name, Module? Module)> Children() => [];" },
        { "DG0010", "public int PatchPlan => 0;" },
        { "DG0012", """[StateName("conv")] public Conv2d A { get; } = new(4, 4, 3, padding: 1); public Conv2d Conv { get; } = new(4, 4, 3, padding: 1);""" },
        { "DG0004", "public Tensor Forward(Tensor x) => Helpers.Blur(x); } public static class Helpers { public static Tensor Blur(Tensor x) => Ops.Conv2d(x, x, null, 1, default);" },
        { "DG0004", "public Tensor Forward(Tensor x) { Func<Tensor, Tensor, Tensor, int, bool, Tensor> f = Ops.Attention; return f(x, x, x, 1, false); }" },
        { "DG0003", "public Blur Smooth { get; } = new(); } public sealed class Blur : Module {" },
        { "DG0009", "public static Conv2d Shared { get; } = new(4, 4, 3, padding: 1);" },
        { "DG0004", "private readonly Func<Tensor, Tensor> _blur = x => Ops.Conv2d(x, x, null, 1, default);" },
        { "DG0005", "public Generic<int> Inner { get; } = new(); } [PatchParallel] public sealed partial class Generic<T> : Module {" },
    };

    [Theory]
    [MemberData(nameof(Failing))]
    public void ASourceTheGeneratorCannotRewriteFailsWithOnlyItsDgError(string id, string members)
    {
        var output = Generate($$"""
            [PatchParallel]
            public sealed partial class Net : Module
            {
                {{members}}
            }
            """ + Caller);
        Assert.Contains(output.GeneratorDiagnostics, d => d.Id == id && d.Severity == DiagnosticSeverity.Error);
        Assert.DoesNotContain(output.GeneratorDiagnostics, d => d.Id == "DG0008");
        Assert.Empty(output.CompilationDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error));
    }

    [Theory]
    [InlineData("public sealed class Net : Module { }", "DG0001")]
    [InlineData("public sealed partial class Net(int channels) : Module { public int Channels => channels; }", "DG0005")]
    public void AClassThatCannotTakeTheGeneratedPartFailsWithOnlyItsDgError(string declaration, string id)
    {
        var output = Generate("[PatchParallel] " + declaration + Caller);
        Assert.Contains(output.GeneratorDiagnostics, d => d.Id == id);
        Assert.Empty(output.CompilationDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error));
    }

    [Fact]
    public void AFileLocalClassIsADgError()
    {
        var output = Generate("[PatchParallel] file sealed partial class Net : Module { }");
        Assert.Contains(output.GeneratorDiagnostics, d => d.Id == "DG0005" && d.GetMessage().Contains("file-local"));
        Assert.Empty(output.CompilationDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error));
    }

    public static TheoryData<string, string> Working => new()
    {
        { "a List of convolutions", """
            [SplitsInput] public Conv2d In { get; } = new(2, 4, 3, padding: 1);
            public List<Conv2d> Convs { get; } = [new(4, 4, 3, padding: 1), new(4, 4, 3, padding: 1)];
            public Tensor Forward(Tensor x) { var h = In.Forward(x); foreach (var c in Convs) using (var i = h) h = c.Forward(i); return h; }
            """ },
        { "an IReadOnlyList and a Dictionary", """
            [SplitsInput] public Conv2d In { get; } = new(2, 4, 3, padding: 1);
            public IReadOnlyList<GroupNorm> Norms { get; } = [new(2, 4)];
            public Dictionary<string, Conv2d> ByName { get; } = new() { ["smooth"] = new(4, 4, 3, padding: 1) };
            public Tensor Forward(Tensor x) { using var h = In.Forward(x); using var n = Norms[0].Forward(h); return ByName["smooth"].Forward(n); }
            """ },
        { "keyword names and escaped state names", """
            [SplitsInput] public Conv2d @class { get; } = new(2, 4, 3, padding: 1);
            [StateName("we\"ird\\name")] public Conv2d @event { get; } = new(4, 4, 3, padding: 1);
            public Tensor Forward(Tensor x) { using var h = @class.Forward(x); return @event.Forward(h); }
            """ },
        { "required members and only initialisers", """
            [SplitsInput] public required Conv2d In { get; init; }
            public Conv2d Out { get; } = new(4, 2, 3, padding: 1);
            public static Net Create() => new() { In = new Conv2d(2, 4, 3, padding: 1) };
            public Tensor Forward(Tensor x) { using var h = In.Forward(x); return Out.Forward(h); }
            """ },
        { "a computed property over a field", """
            [SplitsInput] private readonly Conv2d _in = new(2, 4, 3, padding: 1);
            public Conv2d In => _in;
            public Tensor Forward(Tensor x) => In.Forward(x);
            """ },
        { "a strided convolution and its alignment", """
            [SplitsInput] public Conv2d In { get; } = new(2, 4, 3, padding: 1);
            public Conv2d Down { get; } = new(4, 4, 3, stride: 2, padding: 1);
            public Conv2d Out { get; } = new(4, 2, 3, padding: 1);
            public Tensor Forward(Tensor x)
            {
                using var h = In.Forward(x); using var d = Down.Forward(h);
                using var up = Ops.UpsampleNearest(d, d.Dim(2) * 2, d.Dim(3) * 2); return Out.Forward(up);
            }
            """ },
    };

    [Theory]
    [MemberData(nameof(Working))]
    public void ASourceThatBuildsGivesAVariantEqualToOneDevice(string what, string members)
    {
        var output = Generate($$"""
            namespace @event.Models;

            [PatchParallel]
            public sealed partial class Net : Module
            {
                {{members}}
            }
            """ + Caller);
        Assert.Empty(output.GeneratorDiagnostics);
        Assert.Empty(output.CompilationDiagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning));
        var type = Load(output).GetType("event.Models.Net")!;
        Module Create()
        {
            var net = (Module)(type.GetMethod("Create")?.Invoke(null, null) ?? Activator.CreateInstance(type)!);
            net.InitializeRandom(3);
            return net;
        }
        var forward = type.GetMethod("Forward")!;
        using var input = SeededNormal.Sample(5, 1, 2, 12, 5).Keep();
        foreach (int ranks in new[] { 2, 3 })
        {
            double difference = PatchParallelAssert.ExactMatchesSingleDevice(Create, (m, x) => (Tensor)forward.Invoke(m, [x])!, input, ranks);
            Assert.True(difference <= 1e-5, $"{what}: {difference} on {ranks} ranks");
        }
    }

    [Fact]
    public void ContainersAreInTheStateDictUnderTheirNames()
    {
        var output = Generate(Sources.Usings + """
            [PatchParallel]
            public sealed partial class Net : Module
            {
                public List<Conv2d> Convs { get; } = [new(4, 4, 3, padding: 1)];
                public Dictionary<string, GroupNorm> Norms { get; } = new() { ["a"] = new(2, 4) };
                [StateName("odd\"name")] public Linear Proj { get; } = new(4, 4);
            }
            """, usings: false);
        var net = (Module)Activator.CreateInstance(Load(output).GetType("Net")!)!;
        Assert.Equal(["convs.0.weight", "convs.0.bias", "norms.a.weight", "norms.a.bias", "odd\"name.weight", "odd\"name.bias"],
            net.NamedParameters().Select(p => p.Name));
    }

    [Fact]
    public void BuildingAVariantAllocatesNoParameters()
    {
        var output = Generate("""
            [PatchParallel]
            public sealed partial class Net : Module
            {
                public Conv2d Conv { get; } = new(64, 64, 3, padding: 1);
            }
            """);
        var net = (Module)Activator.CreateInstance(Load(output).GetType("Net")!)!;
        var toVariant = net.GetType().GetMethod("ToPatchParallel")!;
        var context = new PatchContext(new Runtime.Communication.InProcessWorld(1).Communicator(0), new BandLayout(8, 8, 1, 1),
            new PatchParallelOptions { Mode = ParallelMode.Exact });
        long before = TensorMemory.LiveBytes;
        for (int i = 0; i < 10; i++) toVariant.Invoke(net, [context]);
        Assert.Equal(before, TensorMemory.LiveBytes);
    }

    [Fact]
    public void AMissingSplitsInputIsAClearErrorAtRunTime()
    {
        var output = Generate("""
            [PatchParallel]
            public sealed partial class Net : Module
            {
                public Conv2d Conv { get; } = new(2, 2, 3, padding: 1);
                public Tensor Forward(Tensor x) => Conv.Forward(x);
            }
            """);
        var type = Load(output).GetType("Net")!;
        using var input = SeededNormal.Sample(1, 1, 2, 8, 4).Keep();
        var e = Assert.Throws<PatchParallelMismatchException>(() => PatchParallelAssert.ExactMatchesSingleDevice(
            () => (Module)Activator.CreateInstance(type)!, (m, x) => (Tensor)type.GetMethod("Forward")!.Invoke(m, [x])!, input, 2));
        Assert.Contains("[SplitsInput]", e.Message);
    }

    [Fact]
    public void SameNamedTypesGetTheirOwnFiles()
    {
        var output = Generate(Sources.Usings + """
            namespace N
            {
                public static partial class Outer { [PatchParallel] public sealed partial class Net : Module { } }
                [PatchParallel] public sealed partial class Net : Module { }
                [PatchParallel] public sealed partial class Net<T> : Module { }
            }
            namespace M
            {
                public static partial class Outer { [PatchParallel] public sealed partial class Net : Module { } }
            }
            """, usings: false);
        Assert.All(output.GeneratorDiagnostics, d => Assert.Equal("DG0005", d.Id));
        Assert.Empty(output.CompilationDiagnostics.Where(d => d.Severity == DiagnosticSeverity.Error));
        Assert.Equal(4, output.Sources.Count);
    }

    private static GeneratorOutput Generate(string source, bool usings = true) =>
        GeneratorHarness.Run((usings ? Sources.Usings : "") + source);

    /// <summary>The compiled source with its generated code, loaded next to this test's DistriGen assemblies.</summary>
    private static Assembly Load(GeneratorOutput output)
    {
        using var stream = new MemoryStream();
        var emitted = output.OutputCompilation.Emit(stream);
        Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics));
        stream.Position = 0;
        return new AssemblyLoadContext(null, isCollectible: true).LoadFromStream(stream);
    }
}

using DistriGen.Runtime;
using DistriGen.Testing;
using DistriGen.Tensors.Nn;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace DistriGen.Generators.Tests;

/// <summary>The pipeline's steps stay cached across edits that do not change a module, and re-run when one does.</summary>
public sealed class IncrementalTests
{
    private static (GeneratorDriver Driver, CSharpCompilation Compilation) FirstRun()
    {
        var compilation = GeneratorHarness.CreateCompilation([Sources.Resnet], [typeof(PatchParallelAttribute).Assembly, typeof(Module).Assembly]);
        var output = GeneratorHarness.Run(compilation);
        return (output.Driver, compilation);
    }

    private static GeneratorRunResult Rerun(GeneratorDriver driver, CSharpCompilation compilation) =>
        driver.RunGenerators(compilation).GetRunResult().Results.Single();

    private static IEnumerable<IncrementalStepRunReason> Reasons(GeneratorRunResult result, string step) =>
        result.TrackedSteps[step].SelectMany(s => s.Outputs).Select(o => o.Reason);

    [Fact]
    public void ACommentLeavesEveryStepCached()
    {
        var (driver, compilation) = FirstRun();
        var tree = compilation.SyntaxTrees.First();
        var edited = tree.WithChangedText(tree.GetText().WithChanges(new Microsoft.CodeAnalysis.Text.TextChange(new Microsoft.CodeAnalysis.Text.TextSpan(tree.Length, 0), "\n// a comment that moves nothing\n")));
        var result = Rerun(driver, compilation.ReplaceSyntaxTree(tree, edited));
        foreach (var step in new[] { TrackingNames.Parse, TrackingNames.Spec, TrackingNames.Diagnostics })
            Assert.All(Reasons(result, step), r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {r}"));
        Assert.All(result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs), o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    [Fact]
    public void AnUnrelatedFileLeavesEveryStepCached()
    {
        var (driver, compilation) = FirstRun();
        var result = Rerun(driver, compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace Other; public static class Helpers { public static int Two => 2; }", GeneratorHarness.ParseOptions)));
        foreach (var step in new[] { TrackingNames.Parse, TrackingNames.Spec })
            Assert.All(Reasons(result, step), r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"{step}: {r}"));
        Assert.All(result.TrackedOutputSteps.SelectMany(s => s.Value).SelectMany(s => s.Outputs), o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    [Fact]
    public void ANewLayerReRunsTheSpecAndTheEmitter()
    {
        var (driver, compilation) = FirstRun();
        var tree = compilation.SyntaxTrees.First();
        var text = tree.GetText().ToString().Replace("public Conv2d Conv2 { get; }", "public Conv2d Conv2 { get; }\n    public Conv2d Conv3 { get; } = new(4, 4, 3, padding: 1);");
        var result = Rerun(driver, compilation.ReplaceSyntaxTree(tree, tree.WithChangedText(Microsoft.CodeAnalysis.Text.SourceText.From(text))));
        Assert.Contains(IncrementalStepRunReason.Modified, Reasons(result, TrackingNames.Spec));
        Assert.Contains("rewriter.Conv(source.Conv3, \"conv3\")", result.GeneratedSources.Single().SourceText.ToString());
    }
}

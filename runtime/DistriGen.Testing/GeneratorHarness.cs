using System.Collections.Immutable;
using System.Reflection;
using DistriGen.Generators;
using DistriGen.Generators.Analysis;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace DistriGen.Testing;

/// <summary>
/// What one run of the generator produced. <see cref="GeneratorDiagnostics"/> are all of DistriGen's
/// diagnostics: the generator's and its analyzer's (DG0004).
/// </summary>
public sealed record GeneratorOutput(
    IReadOnlyDictionary<string, string> Sources,
    ImmutableArray<Diagnostic> GeneratorDiagnostics,
    ImmutableArray<Diagnostic> CompilationDiagnostics,
    Compilation OutputCompilation,
    GeneratorDriver Driver)
{
    /// <summary>Errors and warnings of compiling the source together with the generated code.</summary>
    public IEnumerable<Diagnostic> CompilationProblems => CompilationDiagnostics.Where(d => d.Severity >= DiagnosticSeverity.Warning);

    /// <summary>The generated source for a class, by its name or hint name (e.g. "MyBlock" or "My.Namespace.MyBlock.PatchParallel.g.cs").</summary>
    public string Source(string name) =>
        Sources.TryGetValue(name, out var s) ? s
        : Sources.Where(kv => kv.Key.EndsWith("." + name + ".PatchParallel.g.cs", StringComparison.Ordinal) || kv.Key == name + ".PatchParallel.g.cs").Select(kv => kv.Value).FirstOrDefault()
          ?? throw new KeyNotFoundException($"No generated source for '{name}'. Generated: {string.Join(", ", Sources.Keys)}.");
}

/// <summary>Runs DistriGen's [PatchParallel] generator on C# source text in one call.</summary>
public static class GeneratorHarness
{
    /// <summary>
    /// Compiles <paramref name="source"/> against the framework, DistriGen's assemblies and
    /// <paramref name="references"/> (other assemblies whose types the source uses), runs the generator
    /// and the analyzer and returns what they made.
    /// </summary>
    public static GeneratorOutput Run(string source, params Assembly[] references) =>
        Run(CreateCompilation([source], references));

    public static GeneratorOutput Run(Compilation compilation, GeneratorDriver? driver = null)
    {
        driver ??= CreateDriver();
        driver = driver.RunGeneratorsAndUpdateCompilation(compilation, out var output, out var diagnostics);
        var result = driver.GetRunResult();
        var sources = result.Results.SelectMany(r => r.GeneratedSources)
            .ToDictionary(s => s.HintName, s => s.SourceText.ToString(), StringComparer.Ordinal);
        var analyzed = output.WithAnalyzers([new FunctionalCallAnalyzer()]).GetAnalyzerDiagnosticsAsync().GetAwaiter().GetResult();
        var all = diagnostics.AddRange(result.Diagnostics).AddRange(analyzed).Distinct().ToImmutableArray();
        return new GeneratorOutput(sources, all, output.GetDiagnostics(), output, driver);
    }

    /// <summary>A driver that records every pipeline step, for tests of incremental caching.</summary>
    public static GeneratorDriver CreateDriver() =>
        CSharpGeneratorDriver.Create(
            [new PatchParallelGenerator().AsSourceGenerator()],
            parseOptions: ParseOptions,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));

    public static CSharpParseOptions ParseOptions { get; } = new(LanguageVersion.Latest);

    /// <summary>The global usings of an SDK project with ImplicitUsings enabled, so model code compiles as it does in its project.</summary>
    public const string ImplicitUsings = """
        global using global::System;
        global using global::System.Collections.Generic;
        global using global::System.IO;
        global using global::System.Linq;
        global using global::System.Net.Http;
        global using global::System.Threading;
        global using global::System.Threading.Tasks;
        """;

    public static CSharpCompilation CreateCompilation(IEnumerable<string> sources, IEnumerable<Assembly> references, string assemblyName = "Snapshot", bool implicitUsings = true) =>
        CSharpCompilation.Create(
            assemblyName,
            sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, ParseOptions, path: $"Source{i}.cs"))
                .Concat(implicitUsings ? [CSharpSyntaxTree.ParseText(ImplicitUsings, ParseOptions, path: "GlobalUsings.g.cs")] : []),
            References(references),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    /// <summary>
    /// The framework's assemblies, DistriGen's tensor engine and runtime, every other DistriGen assembly
    /// loaded here, and the given ones — not the test's other dependencies, which may hold compiled copies
    /// of the very types under test.
    /// </summary>
    public static IEnumerable<MetadataReference> References(IEnumerable<Assembly> extra)
    {
        extra = extra.Concat([typeof(Tensors.Tensor).Assembly, typeof(Runtime.PatchParallelAttribute).Assembly]).Distinct().ToList();
        var paths = new HashSet<string>(StringComparer.Ordinal);
        var frameworkDirectory = Path.GetDirectoryName(typeof(object).Assembly.Location)!;
        if (AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES") is string tpa)
            foreach (var p in tpa.Split(Path.PathSeparator))
                if (string.Equals(Path.GetDirectoryName(p), frameworkDirectory, StringComparison.Ordinal)) paths.Add(p);
        foreach (var a in AppDomain.CurrentDomain.GetAssemblies().Concat(extra))
            if (!a.IsDynamic && a.Location.Length > 0 && (extra.Contains(a) || a.GetName().Name!.StartsWith("DistriGen", StringComparison.Ordinal)))
                paths.Add(a.Location);
        return paths.Select(p => MetadataReference.CreateFromFile(p));
    }
}

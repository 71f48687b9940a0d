using DistriGen.Generators.Emitting;
using DistriGen.Generators.Parsing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace DistriGen.Generators
{
    /// <summary>
    /// Emits the patch-parallel variant of every partial Module marked [PatchParallel]:
    /// a rewriting constructor, ToPatchParallel, the named children, the band alignment and a static
    /// PatchPlan (and for a class with errors, a stub that keeps its callers compiling). Three stages: a
    /// cheap syntax filter, a parser that turns symbols into a value-equatable spec, and an emitter that
    /// reads only the spec. Diagnostics travel separately so that moving a comment never re-emits code.
    /// Functional calls that bypass the rewrite (DG0004) are found by <see cref="Analysis.FunctionalCallAnalyzer"/>.
    /// </summary>
    [Generator(LanguageNames.CSharp)]
    public sealed class PatchParallelGenerator : IIncrementalGenerator
    {
        public void Initialize(IncrementalGeneratorInitializationContext context)
        {
            var parsed = context.SyntaxProvider
                .ForAttributeWithMetadataName(
                    KnownTypes.PatchParallelAttribute,
                    static (node, _) => node is ClassDeclarationSyntax,
                    static (ctx, ct) => ModuleParser.Parse(ctx, ct))
                .WithTrackingName(TrackingNames.Parse);

            var specs = parsed
                .Select(static (result, _) => result.Spec)
                .Where(static spec => spec != null)
                .Select(static (spec, _) => spec!)
                .WithTrackingName(TrackingNames.Spec);

            var stubs = parsed
                .Select(static (result, _) => result.Stub)
                .Where(static stub => stub != null)
                .Select(static (stub, _) => stub!)
                .WithTrackingName(TrackingNames.Stub);

            var diagnostics = parsed
                .Select(static (result, _) => result.Diagnostics)
                .WithTrackingName(TrackingNames.Diagnostics);

            context.RegisterSourceOutput(specs, static (output, spec) => output.AddSource(spec.HintName, ModuleEmitter.Emit(spec)));
            context.RegisterSourceOutput(stubs, static (output, stub) => output.AddSource(stub.HintName, StubEmitter.Emit(stub)));
            context.RegisterSourceOutput(diagnostics, static (output, list) =>
            {
                foreach (var diagnostic in list) output.ReportDiagnostic(diagnostic.ToDiagnostic());
            });
        }
    }

    /// <summary>The names of the pipeline steps, for tests that check what was cached.</summary>
    public static class TrackingNames
    {
        public const string Parse = "DistriGen.Parse";
        public const string Spec = "DistriGen.Spec";
        public const string Stub = "DistriGen.Stub";
        public const string Diagnostics = "DistriGen.Diagnostics";
    }
}

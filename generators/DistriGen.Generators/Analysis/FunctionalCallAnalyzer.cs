using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using DistriGen.Generators.Diagnostics;
using DistriGen.Generators.Parsing;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace DistriGen.Generators.Analysis
{
    /// <summary>
    /// DG0004: an operation that mixes pixels across rows (Ops.Conv2d, GroupNorm, Attention) reached from
    /// a [PatchParallel] class without going through a member layer — called in the class, through a
    /// helper method or another class of this compilation (followed call by call), or passed as a method
    /// group. Each method body is summarised once; the chains are followed when the compilation ends.
    /// </summary>
    [DiagnosticAnalyzer(LanguageNames.CSharp)]
    public sealed class FunctionalCallAnalyzer : DiagnosticAnalyzer
    {
        /// <summary>Functional operations that mix pixels across rows, and the layer to use instead.</summary>
        private static readonly Dictionary<string, string> SpatialFunctions = new Dictionary<string, string>
        {
            ["Conv2d"] = "Conv2d",
            ["GroupNorm"] = "GroupNorm",
            ["GroupNormStatistics"] = "GroupNorm",
            ["GroupNormApply"] = "GroupNorm",
            ["Attention"] = "Attention",
        };

        private const int MaxDepth = 8;

        public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
            ImmutableArray.Create(DiagnosticDescriptors.FunctionalCallBypassesRewrite);

        public override void Initialize(AnalysisContext context)
        {
            context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
            context.EnableConcurrentExecution();
            context.RegisterCompilationStartAction(start =>
            {
                // Methods, accessors, and field or property initialisers, each with what it calls.
                var bodies = new ConcurrentDictionary<ISymbol, List<Use>>(SymbolEqualityComparer.Default);
                start.RegisterOperationBlockAction(block =>
                {
                    var uses = new List<Use>();
                    foreach (var root in block.OperationBlocks)
                        foreach (var operation in root.DescendantsAndSelf())
                            if (Target(operation) is { } target) uses.Add(new Use(target, operation.Syntax.GetLocation()));
                    var owner = block.OwningSymbol is IMethodSymbol method ? method.OriginalDefinition : block.OwningSymbol;
                    bodies.AddOrUpdate(owner, uses, (_, existing) => { lock (existing) existing.AddRange(uses); return existing; });
                });
                start.RegisterCompilationEndAction(end =>
                {
                    foreach (var pair in bodies)
                    {
                        var owner = pair.Key.ContainingType;
                        if (owner == null || !Symbols.IsPatchParallel(owner)) continue;
                        foreach (var use in pair.Value)
                            if (Find(use.Target, bodies, new HashSet<IMethodSymbol>(SymbolEqualityComparer.Default), 0) is { } path)
                                end.ReportDiagnostic(Diagnostic.Create(DiagnosticDescriptors.FunctionalCallBypassesRewrite, use.Location,
                                    path.Spatial, Where(pair.Key, path.Through), DiagnosticDescriptors.WithArticle(path.Layer)));
                    }
                });
            });
        }

        /// <summary>The method an operation calls or names (a call, a method group, a property getter).</summary>
        private static IMethodSymbol? Target(IOperation operation) => operation switch
        {
            IInvocationOperation call => call.TargetMethod,
            IMethodReferenceOperation group => group.Method,
            IPropertyReferenceOperation property => property.Property.GetMethod,
            _ => null,
        };

        /// <summary>
        /// The spatial operation <paramref name="method"/> is or leads to, and the helpers on the way; null
        /// when it leads to none. Other [PatchParallel] classes are not entered: they are checked themselves.
        /// </summary>
        private static Path? Find(IMethodSymbol method, ConcurrentDictionary<ISymbol, List<Use>> bodies, HashSet<IMethodSymbol> seen, int depth)
        {
            if (Symbols.MetadataName(method.ContainingType) == KnownTypes.Ops && SpatialFunctions.TryGetValue(method.Name, out var layer))
                return new Path("Ops." + method.Name, layer, ImmutableList<string>.Empty);
            if (depth >= MaxDepth || !seen.Add(method.OriginalDefinition) || Symbols.IsPatchParallel(method.ContainingType)) return null;
            if (!bodies.TryGetValue(method.OriginalDefinition, out var uses)) return null;
            foreach (var use in uses)
                if (Find(use.Target, bodies, seen, depth + 1) is { } found)
                    return new Path(found.Spatial, found.Layer, found.Through.Insert(0, method.ContainingType.Name + "." + method.Name));
            return null;
        }

        private static string Where(ISymbol owner, ImmutableList<string> through)
        {
            string name = owner switch
            {
                IMethodSymbol { MethodKind: MethodKind.Constructor } => ".ctor",
                IMethodSymbol { MethodKind: MethodKind.PropertyGet or MethodKind.PropertySet } accessor => accessor.AssociatedSymbol?.Name ?? accessor.Name,
                _ => owner.Name,
            };
            return through.Count == 0 ? name : $"{name}' through '{string.Join("' → '", through)}";
        }

        private sealed class Use
        {
            public Use(IMethodSymbol target, Location location)
            {
                Target = target;
                Location = location;
            }

            public IMethodSymbol Target { get; }
            public Location Location { get; }
        }

        private sealed class Path
        {
            public Path(string spatial, string layer, ImmutableList<string> through)
            {
                Spatial = spatial;
                Layer = layer;
                Through = through;
            }

            public string Spatial { get; }
            public string Layer { get; }
            public ImmutableList<string> Through { get; }
        }
    }
}

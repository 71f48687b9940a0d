using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace DistriGen.Generators.Diagnostics
{
    /// <summary>Every diagnostic the generator reports. Ids are tracked in AnalyzerReleases.*.md.</summary>
    internal static class DiagnosticDescriptors
    {
        private const string Category = "DistriGen";

        public static readonly DiagnosticDescriptor NotPartial = new(
            "DG0001",
            "[PatchParallel] class must be partial",
            "'{0}' is marked [PatchParallel] but {1} not partial; add the 'partial' modifier so the generated variant can be added to it",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor NotAModule = new(
            "DG0002",
            "[PatchParallel] class must be a Module",
            "'{0}' is marked [PatchParallel] but does not derive from DistriGen.Tensors.Nn.Module; derive it from Module or remove the attribute",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor UnknownSpatialModule = new(
            "DG0003",
            "Module member cannot be made patch-parallel",
            "Member '{0}' of '{1}' has module type '{2}', which is neither a known layer nor [PatchParallel]; mark '{2}' [PatchParallel] if it mixes pixels across space, or [PixelLocal] if it works on each pixel or token alone",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor FunctionalCallBypassesRewrite = new(
            "DG0004",
            "Functional call bypasses the patch-parallel rewrite",
            "'{0}' in '{1}' mixes pixels across rows but is called directly, so the patch-parallel variant cannot give it its neighbours' data; use a {2} member instead",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor UnsupportedClassShape = new(
            "DG0005",
            "[PatchParallel] class shape is not supported",
            "'{0}' is {1}; the generator rewrites non-generic, non-static, non-abstract classes that are not nested in a generic type",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor SplitsInputOnNonConv = new(
            "DG0006",
            "[SplitsInput] needs a Conv2d",
            "[SplitsInput] is on '{0}' of type '{1}', but only a Conv2d member can cut its band from the full input; move it to the input convolution",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor BaseNotPatchParallel = new(
            "DG0007",
            "Base module is not [PatchParallel]",
            "'{0}' derives from '{1}', which is not [PatchParallel], so its layers would not be rewritten; mark '{1}' [PatchParallel] (and partial) or derive from Module",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor GeneratorFailure = new(
            "DG0008",
            "The [PatchParallel] generator failed",
            "The generator could not process '{0}': {1}; please report this with the class that caused it",
            Category, DiagnosticSeverity.Warning, isEnabledByDefault: true);

        public static IReadOnlyList<DiagnosticDescriptor> All { get; } = new[]
        {
            NotPartial, NotAModule, UnknownSpatialModule, FunctionalCallBypassesRewrite, UnsupportedClassShape, SplitsInputOnNonConv, BaseNotPatchParallel, GeneratorFailure,
        };

        private static readonly Dictionary<string, DiagnosticDescriptor> Index = All.ToDictionary(d => d.Id);

        public static DiagnosticDescriptor ById(string id) => Index[id];
    }
}

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
            "'{0}' in '{1}' mixes pixels across rows but is called directly, so the patch-parallel variant cannot give it its neighbours' data; use {2} member instead",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true, customTags: WellKnownDiagnosticTags.CompilationEnd);

        public static readonly DiagnosticDescriptor UnsupportedClassShape = new(
            "DG0005",
            "[PatchParallel] class shape is not supported",
            "'{0}' is {1}; the generator rewrites non-generic, non-static, non-abstract, non-file-local classes without a primary constructor that are not nested in a generic type",
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

        public static readonly DiagnosticDescriptor UnsupportedContainer = new(
            "DG0009",
            "Modules in a container the generator cannot rewrite",
            "Member '{0}' of '{1}' holds modules in {2}, which the generator cannot rewrite, so they would be missing from the variant and the state dict; use ModuleList<T>, T[], List<T>, IReadOnlyList<T> or Dictionary<string, T>",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor GeneratedMemberConflict = new(
            "DG0010",
            "A member the generator writes is declared by hand",
            "'{0}' declares {1}, which the generator writes for [PatchParallel] classes; remove or rename it",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ComputedModuleProperty = new(
            "DG0011",
            "A module behind a computed property",
            "Property '{0}' of '{1}' returns a module that is not a field of '{1}', so the variant cannot rewrite it; make it an auto-property ({{ get; }}) or return a field",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor DuplicateStateName = new(
            "DG0012",
            "Two members with one state-dict name",
            "Members '{0}' and '{1}' of '{2}' both have the state-dict name '{3}', so both would load the same weights; give one another [StateName]",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ConvolutionChangesRows = new(
            "DG0013",
            "A convolution that changes the number of rows",
            "A {0}×{0} convolution with padding {1} changes the number of rows, so bands would not add up to the image; {2}",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static readonly DiagnosticDescriptor ModuleCreatedInForward = new(
            "DG0014",
            "A spatial module created during the forward pass",
            "'{0}' creates {1} in '{2}', where the patch-parallel variant cannot give it its neighbours' rows; make it a member of '{0}' created in the constructor",
            Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

        public static IReadOnlyList<DiagnosticDescriptor> All { get; } = new[]
        {
            NotPartial, NotAModule, UnknownSpatialModule, FunctionalCallBypassesRewrite, UnsupportedClassShape, SplitsInputOnNonConv,
            BaseNotPatchParallel, GeneratorFailure, UnsupportedContainer, GeneratedMemberConflict, ComputedModuleProperty,
            DuplicateStateName, ConvolutionChangesRows, ModuleCreatedInForward,
        };

        /// <summary>"a Conv2d", "an Attention": the article for a type name.</summary>
        public static string WithArticle(string name) =>
            (name.Length > 0 && "AEIOUaeiou".IndexOf(name[0]) >= 0 ? "an " : "a ") + name;

        private static readonly Dictionary<string, DiagnosticDescriptor> Index = All.ToDictionary(d => d.Id);

        public static DiagnosticDescriptor ById(string id) => Index[id];
    }
}

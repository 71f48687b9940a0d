using System.Linq;
using Microsoft.CodeAnalysis;

namespace DistriGen.Generators.Parsing
{
    /// <summary>
    /// Symbol questions the parser and the analyzer ask, by metadata name (nothing of DistriGen is referenced).
    /// </summary>
    internal static class Symbols
    {
        /// <summary>global::-qualified, keywords escaped (@class), nullable annotations dropped.</summary>
        public static readonly SymbolDisplayFormat FullyQualified = SymbolDisplayFormat.FullyQualifiedFormat
            .WithMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.UseSpecialTypes | SymbolDisplayMiscellaneousOptions.EscapeKeywordIdentifiers);

        /// <summary>Namespace.Type without global::, keywords escaped.</summary>
        public static readonly SymbolDisplayFormat Qualified = FullyQualified.WithGlobalNamespaceStyle(SymbolDisplayGlobalNamespaceStyle.Omitted);

        /// <summary>Namespace-qualified metadata name, with '+' between nested types and `N for generics.</summary>
        public static string MetadataName(ITypeSymbol type)
        {
            var name = type.MetadataName;
            for (var outer = type.ContainingType; outer != null; outer = outer.ContainingType) name = outer.MetadataName + "+" + name;
            for (var ns = type.ContainingNamespace; ns != null && !ns.IsGlobalNamespace; ns = ns.ContainingNamespace) name = ns.Name + "." + name;
            return name;
        }

        public static bool InheritsFrom(ITypeSymbol? type, string metadataName)
        {
            for (var t = type; t != null; t = t.BaseType)
                if (MetadataName(t) == metadataName) return true;
            return false;
        }

        public static bool HasAttribute(ISymbol symbol, string metadataName) =>
            symbol.GetAttributes().Any(a => a.AttributeClass != null && MetadataName(a.AttributeClass) == metadataName);

        public static bool IsModule(ITypeSymbol? type) => InheritsFrom(type, KnownTypes.Module);

        public static bool IsTensor(ITypeSymbol? type) => type != null && MetadataName(type) == KnownTypes.Tensor;

        public static bool IsPatchParallel(ITypeSymbol? type) => type != null && HasAttribute(type, KnownTypes.PatchParallelAttribute);

        /// <summary>
        /// A layer that mixes pixels across rows: a known spatial layer, a [PatchParallel] module, or a module of
        /// unknown kind.
        /// </summary>
        public static bool IsSpatialModule(ITypeSymbol? type) =>
            IsModule(type) && !InheritsFrom(type, KnownTypes.Linear) && !InheritsFrom(type, KnownTypes.LayerNorm)
            && !InheritsFrom(type, KnownTypes.Embedding)
            && !HasAttribute(type!, KnownTypes.PixelLocalAttribute) && !InheritsFrom(type, KnownTypes.ModuleList)
            && MetadataName(type!) != KnownTypes.Module;

        /// <summary>Whether the type (or any containing type) is declared partial in source.</summary>
        public static bool IsPartialInSource(INamedTypeSymbol type) =>
            type.DeclaringSyntaxReferences.Length > 0
            && type.DeclaringSyntaxReferences.Any(r => r.GetSyntax() is Microsoft.CodeAnalysis.CSharp.Syntax.TypeDeclarationSyntax t
                && t.Modifiers.Any(m => m.IsKind(Microsoft.CodeAnalysis.CSharp.SyntaxKind.PartialKeyword)))
            && (type.ContainingType == null || IsPartialInSource(type.ContainingType));
    }
}

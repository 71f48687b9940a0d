using System.Collections.Generic;
using System.Linq;
using DistriGen.Generators.Model;
using Microsoft.CodeAnalysis;

namespace DistriGen.Generators.Parsing
{
    /// <summary>
    /// How a member's type holds modules or tensors: directly, in a container the generator rewrites, or
    /// in one it cannot (tuples, jagged and 2-D arrays, other generic types, a plain class with module
    /// fields) — which must be an error, or the modules would silently vanish from the variant.
    /// </summary>
    internal readonly struct ContainerShape
    {
        private ContainerShape(CollectionKind collection, ITypeSymbol? element, string? unsupported)
        {
            Collection = collection;
            Element = element;
            Unsupported = unsupported;
        }

        public CollectionKind Collection { get; }

        /// <summary>The module or tensor type held; null when the type holds none.</summary>
        public ITypeSymbol? Element { get; }

        /// <summary>What the unsupported container is, for the message ("a tuple"); null when supported.</summary>
        public string? Unsupported { get; }

        public static ContainerShape Of(ITypeSymbol type)
        {
            type = type.WithNullableAnnotation(NullableAnnotation.NotAnnotated);
            if (type is INamedTypeSymbol { IsGenericType: true } list && Symbols.MetadataName(list.OriginalDefinition) == KnownTypes.ModuleList)
                return Symbols.InheritsFrom(list.TypeArguments[0], KnownTypes.ModuleList)
                    ? Fail("a ModuleList of ModuleLists")
                    : new ContainerShape(CollectionKind.ModuleList, Bare(list.TypeArguments[0]), null);
            if (Symbols.IsModule(type) || Symbols.IsTensor(type)) return new ContainerShape(CollectionKind.None, type, null);
            // Tensors in containers are not parameters on either side; only modules must be rewritten.
            if (!HoldsModules(type, new HashSet<ITypeSymbol>(SymbolEqualityComparer.Default), 0)) return default;
            switch (type)
            {
                case IArrayTypeSymbol { Rank: 1 } array when IsLeaf(array.ElementType):
                    return new ContainerShape(CollectionKind.Array, Bare(array.ElementType), null);
                case IArrayTypeSymbol { Rank: 1 }:
                    return Fail("a jagged array");
                case IArrayTypeSymbol:
                    return Fail("a multi-dimensional array");
                case INamedTypeSymbol { IsTupleType: true }:
                    return Fail("a tuple");
                case INamedTypeSymbol { IsGenericType: true } generic:
                    return Generic(generic);
                default:
                    return Fail($"a '{type.Name}', a type that is not a module");
            }
        }

        private static ContainerShape Generic(INamedTypeSymbol generic)
        {
            var definition = Symbols.MetadataName(generic.OriginalDefinition);
            var args = generic.TypeArguments;
            if (args.Length == 1 && IsLeaf(args[0]))
            {
                var kind = definition switch
                {
                    "System.Collections.Generic.List`1" or "System.Collections.Generic.IList`1" or "System.Collections.Generic.ICollection`1" => CollectionKind.List,
                    "System.Collections.Generic.IReadOnlyList`1" or "System.Collections.Generic.IReadOnlyCollection`1"
                        or "System.Collections.Generic.IEnumerable`1" => CollectionKind.Sequence,
                    _ => CollectionKind.None,
                };
                if (kind != CollectionKind.None) return new ContainerShape(kind, Bare(args[0]), null);
            }
            if (args.Length == 2 && IsLeaf(args[1]) && definition is "System.Collections.Generic.Dictionary`2"
                    or "System.Collections.Generic.IDictionary`2" or "System.Collections.Generic.IReadOnlyDictionary`2")
                return args[0].SpecialType == SpecialType.System_String
                    ? new ContainerShape(CollectionKind.Map, Bare(args[1]), null)
                    : Fail($"a dictionary keyed by '{args[0].Name}' (state-dict names need string keys)");
            return Fail($"a '{generic.Name}<…>'");
        }

        private static ContainerShape Fail(string what) => new ContainerShape(CollectionKind.None, null, what);

        private static bool IsLeaf(ITypeSymbol type) => Symbols.IsModule(type);

        private static ITypeSymbol Bare(ITypeSymbol type) => type.WithNullableAnnotation(NullableAnnotation.NotAnnotated);

        /// <summary>
        /// Whether modules are reachable inside the type (element types, type arguments, fields of source types; not
        /// delegates).
        /// </summary>
        private static bool HoldsModules(ITypeSymbol type, HashSet<ITypeSymbol> seen, int depth)
        {
            if (IsLeaf(type)) return true;
            if (depth > 3 || type.TypeKind == TypeKind.Delegate || !seen.Add(type)) return false;
            switch (type)
            {
                case IArrayTypeSymbol array:
                    return HoldsModules(array.ElementType, seen, depth + 1);
                case INamedTypeSymbol named:
                    if (named.IsTupleType) return named.TupleElements.Any(e => HoldsModules(e.Type, seen, depth + 1));
                    if (named.TypeArguments.Any(a => HoldsModules(a, seen, depth + 1))) return true;
                    // A user's own holder class or struct with module fields.
                    if (named.DeclaringSyntaxReferences.Length == 0 || named.SpecialType != SpecialType.None) return false;
                    return named.GetMembers().OfType<IFieldSymbol>().Any(f => !f.IsStatic && HoldsModules(f.Type, seen, depth + 1));
                default:
                    return false;
            }
        }
    }
}

using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using System.Threading;
using DistriGen.Generators.Diagnostics;
using DistriGen.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace DistriGen.Generators.Parsing
{
    /// <summary>
    /// Does all semantic work for one [PatchParallel] class and returns a value-equatable spec plus
    /// diagnostics. Nothing Roslyn-typed leaves this class.
    /// </summary>
    internal static class ModuleParser
    {
        private static readonly SymbolDisplayFormat FullyQualified = SymbolDisplayFormat.FullyQualifiedFormat
            .WithMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.UseSpecialTypes | SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier);

        private static readonly SymbolDisplayFormat NonNullableFullyQualified = SymbolDisplayFormat.FullyQualifiedFormat
            .WithMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.UseSpecialTypes);

        /// <summary>Functional operations that mix pixels across rows, and the layer to use instead.</summary>
        private static readonly Dictionary<string, string> SpatialFunctions = new Dictionary<string, string>
        {
            ["Conv2d"] = "Conv2d",
            ["GroupNorm"] = "GroupNorm",
            ["GroupNormStatistics"] = "GroupNorm",
            ["GroupNormApply"] = "GroupNorm",
            ["Attention"] = "Attention",
        };

        public static ParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
        {
            var type = (INamedTypeSymbol)context.TargetSymbol;
            var diagnostics = new List<DiagnosticInfo>();
            try
            {
                var spec = ParseClass(type, (ClassDeclarationSyntax)context.TargetNode, context.SemanticModel.Compilation, diagnostics, cancellationToken);
                return new ParseResult(spec, new EquatableArray<DiagnosticInfo>(diagnostics));
            }
            catch (OperationCanceledException)
            {
                throw;
            }
            catch (Exception e)
            {
                diagnostics.Add(Diagnostic(DiagnosticDescriptors.GeneratorFailure, type.Locations.FirstOrDefault(), type.Name, e.GetType().Name + ": " + e.Message));
                return new ParseResult(null, new EquatableArray<DiagnosticInfo>(diagnostics));
            }
        }

        private static ModuleSpec? ParseClass(INamedTypeSymbol type, ClassDeclarationSyntax declaration, Compilation compilation, List<DiagnosticInfo> diagnostics, CancellationToken ct)
        {
            var identifier = declaration.Identifier.GetLocation();
            bool ok = true;

            var notPartial = new List<string>();
            if (!type.DeclaringSyntaxReferences.Any(r => r.GetSyntax(ct) is ClassDeclarationSyntax c && c.Modifiers.Any(SyntaxKind.PartialKeyword)))
                notPartial.Add("it is");
            for (var outer = type.ContainingType; outer != null; outer = outer.ContainingType)
                if (!outer.DeclaringSyntaxReferences.Any(r => r.GetSyntax(ct) is TypeDeclarationSyntax t && t.Modifiers.Any(SyntaxKind.PartialKeyword)))
                    notPartial.Add($"its containing type '{outer.Name}' is");
            if (notPartial.Count > 0)
            {
                diagnostics.Add(Diagnostic(DiagnosticDescriptors.NotPartial, identifier, type.Name, string.Join(" and ", notPartial)));
                ok = false;
            }

            if (!InheritsFrom(type, KnownTypes.Module))
            {
                diagnostics.Add(Diagnostic(DiagnosticDescriptors.NotAModule, identifier, type.Name));
                return null;
            }

            string? shapeProblem =
                type.IsStatic ? "static" :
                type.IsAbstract ? "abstract" :
                type.TypeParameters.Length > 0 ? "generic" :
                IsNestedInGeneric(type) ? "nested in a generic type" :
                null;
            if (shapeProblem != null)
            {
                diagnostics.Add(Diagnostic(DiagnosticDescriptors.UnsupportedClassShape, identifier, type.Name, shapeProblem));
                ok = false;
            }

            var baseType = type.BaseType!;
            bool baseIsPatchParallel = HasAttribute(baseType, KnownTypes.PatchParallelAttribute);
            if (!baseIsPatchParallel && baseType.ToDisplayString() != KnownTypes.Module)
            {
                diagnostics.Add(Diagnostic(DiagnosticDescriptors.BaseNotPatchParallel, identifier, type.Name, baseType.Name));
                ok = false;
            }

            var members = new List<MemberSpec>();
            foreach (var member in type.GetMembers())
            {
                ct.ThrowIfCancellationRequested();
                var spec = ParseMember(type, member, diagnostics);
                if (spec != null) members.Add(spec);
            }
            if (diagnostics.Any(d => d.Id == DiagnosticDescriptors.UnknownSpatialModule.Id || d.Id == DiagnosticDescriptors.SplitsInputOnNonConv.Id)) ok = false;

            ReportFunctionalCalls(type, compilation, diagnostics, ct);

            if (!ok) return null;

            var containing = new List<ContainingTypeSpec>();
            for (var outer = type.ContainingType; outer != null; outer = outer.ContainingType)
                containing.Insert(0, new ContainingTypeSpec(Keyword(outer), outer.Name));

            var ns = type.ContainingNamespace.IsGlobalNamespace ? null : type.ContainingNamespace.ToDisplayString();
            var metadataName = MetadataName(type);
            return new ModuleSpec(
                ns,
                type.Name,
                type.ToDisplayString(NonNullableFullyQualified),
                metadataName,
                metadataName.Replace('+', '.') + ".PatchParallel.g.cs",
                type.IsSealed,
                baseIsPatchParallel,
                new EquatableArray<ContainingTypeSpec>(containing),
                new EquatableArray<MemberSpec>(members));
        }

        private static MemberSpec? ParseMember(INamedTypeSymbol owner, ISymbol member, List<DiagnosticInfo> diagnostics)
        {
            if (member.IsStatic || member.IsImplicitlyDeclared && !(member is IFieldSymbol { AssociatedSymbol: IPropertySymbol })) return null;

            ITypeSymbol memberType;
            ISymbol named;
            switch (member)
            {
                case IFieldSymbol field when field.AssociatedSymbol is IPropertySymbol property:
                    named = property;
                    memberType = field.Type;
                    break;
                case IFieldSymbol field when !field.IsConst:
                    named = field;
                    memberType = field.Type;
                    break;
                default:
                    return null;
            }
            if (HasAttribute(named, KnownTypes.NotPatchedAttribute)) return null;

            var location = named.Locations.FirstOrDefault();
            string stateName = StateName(named);
            bool optional = memberType.NullableAnnotation == NullableAnnotation.Annotated;
            var bareType = memberType.WithNullableAnnotation(NullableAnnotation.NotAnnotated);
            string typeName = bareType.ToDisplayString(NonNullableFullyQualified);
            bool splitsInput = HasAttribute(named, KnownTypes.SplitsInputAttribute);

            var collection = CollectionKind.None;
            ITypeSymbol elementType = bareType;
            if (bareType is IArrayTypeSymbol array && array.Rank == 1)
            {
                collection = CollectionKind.Array;
                elementType = array.ElementType;
            }
            else if (bareType is INamedTypeSymbol { IsGenericType: true } generic && MetadataName(generic.OriginalDefinition) == KnownTypes.ModuleList)
            {
                collection = CollectionKind.ModuleList;
                elementType = generic.TypeArguments[0];
            }

            var kind = Classify(elementType, splitsInput);
            if (kind == null)
            {
                if (collection == CollectionKind.None) return Copy(named.Name, typeName, optional);
                return collection == CollectionKind.Array ? Copy(named.Name, typeName, optional) : null;
            }
            if (splitsInput && kind != MemberKind.InputConv)
            {
                diagnostics.Add(Diagnostic(DiagnosticDescriptors.SplitsInputOnNonConv, location, named.Name, elementType.Name));
                return null;
            }
            if (kind == MemberKind.Copied)
            {
                diagnostics.Add(Diagnostic(DiagnosticDescriptors.UnknownSpatialModule, location, named.Name, owner.Name, elementType.Name));
                return null;
            }
            return new MemberSpec(named.Name, stateName, kind.Value, collection, typeName, elementType.WithNullableAnnotation(NullableAnnotation.NotAnnotated).ToDisplayString(NonNullableFullyQualified), optional);
        }

        private static MemberSpec Copy(string name, string typeName, bool optional) =>
            new MemberSpec(name, Naming.ToSnakeCase(name), MemberKind.Copied, CollectionKind.None, typeName, typeName, optional);

        /// <summary>The rewrite for a member (or element) type; Copied for an unknown Module (an error), null for non-modules.</summary>
        private static MemberKind? Classify(ITypeSymbol type, bool splitsInput)
        {
            if (MetadataName(type) == KnownTypes.Tensor) return MemberKind.Parameter;
            if (!InheritsFrom(type, KnownTypes.Module)) return null;
            if (InheritsFrom(type, KnownTypes.Conv2d)) return splitsInput ? MemberKind.InputConv : MemberKind.HaloConv;
            if (splitsInput) return MemberKind.Child; // reported by the caller
            if (InheritsFrom(type, KnownTypes.GroupNorm)) return MemberKind.GroupNorm;
            if (InheritsFrom(type, KnownTypes.Attention)) return MemberKind.Attention;
            if (HasAttribute(type, KnownTypes.PatchParallelAttribute)) return MemberKind.Child;
            if (InheritsFrom(type, KnownTypes.Linear) || InheritsFrom(type, KnownTypes.LayerNorm) || HasAttribute(type, KnownTypes.PixelLocalAttribute)) return MemberKind.Shared;
            if (type is INamedTypeSymbol { IsGenericType: true } g && MetadataName(g.OriginalDefinition) == KnownTypes.ModuleList) return MemberKind.Copied;
            return MemberKind.Copied;
        }

        private static void ReportFunctionalCalls(INamedTypeSymbol type, Compilation compilation, List<DiagnosticInfo> diagnostics, CancellationToken ct)
        {
            foreach (var reference in type.DeclaringSyntaxReferences)
            {
                var syntax = reference.GetSyntax(ct);
                var model = compilation.GetSemanticModel(syntax.SyntaxTree);
                foreach (var invocation in syntax.DescendantNodes().OfType<InvocationExpressionSyntax>())
                {
                    // Nested types are checked on their own if they are [PatchParallel].
                    if (invocation.Ancestors().OfType<TypeDeclarationSyntax>().First() != syntax) continue;
                    string? name = invocation.Expression switch
                    {
                        MemberAccessExpressionSyntax m => m.Name.Identifier.ValueText,
                        IdentifierNameSyntax id => id.Identifier.ValueText,
                        _ => null,
                    };
                    if (name == null || !SpatialFunctions.TryGetValue(name, out var layer)) continue;
                    if (!(model.GetSymbolInfo(invocation, ct).Symbol is IMethodSymbol method) || MetadataName(method.ContainingType) != KnownTypes.Ops) continue;
                    var enclosing = invocation.Ancestors().OfType<MemberDeclarationSyntax>().FirstOrDefault();
                    string where = enclosing switch
                    {
                        MethodDeclarationSyntax m => m.Identifier.ValueText,
                        PropertyDeclarationSyntax p => p.Identifier.ValueText,
                        ConstructorDeclarationSyntax _ => ".ctor",
                        _ => type.Name,
                    };
                    diagnostics.Add(Diagnostic(DiagnosticDescriptors.FunctionalCallBypassesRewrite, invocation.GetLocation(), "Ops." + method.Name, where, layer));
                }
            }
        }

        private static string StateName(ISymbol member)
        {
            foreach (var attribute in member.GetAttributes())
                if (attribute.AttributeClass != null && MetadataName(attribute.AttributeClass) == KnownTypes.StateNameAttribute
                    && attribute.ConstructorArguments.Length == 1 && attribute.ConstructorArguments[0].Value is string name)
                    return name;
            return Naming.ToSnakeCase(member.Name);
        }

        private static bool InheritsFrom(ITypeSymbol type, string metadataName)
        {
            for (var t = type; t != null; t = t.BaseType)
                if (MetadataName(t) == metadataName) return true;
            return false;
        }

        private static bool HasAttribute(ISymbol symbol, string metadataName) =>
            symbol.GetAttributes().Any(a => a.AttributeClass != null && MetadataName(a.AttributeClass) == metadataName);

        private static bool IsNestedInGeneric(INamedTypeSymbol type)
        {
            for (var outer = type.ContainingType; outer != null; outer = outer.ContainingType)
                if (outer.TypeParameters.Length > 0) return true;
            return false;
        }

        private static string Keyword(INamedTypeSymbol type) =>
            type.IsRecord ? (type.TypeKind == TypeKind.Struct ? "partial record struct" : "partial record") :
            type.TypeKind == TypeKind.Struct ? "partial struct" :
            type.TypeKind == TypeKind.Interface ? "partial interface" :
            "partial class";

        /// <summary>Namespace-qualified metadata name, with '+' between nested types and `N for generics.</summary>
        private static string MetadataName(ITypeSymbol type)
        {
            var name = type.MetadataName;
            for (var outer = type.ContainingType; outer != null; outer = outer.ContainingType) name = outer.MetadataName + "+" + name;
            var ns = type.ContainingNamespace;
            return ns == null || ns.IsGlobalNamespace ? name : ns.ToDisplayString() + "." + name;
        }

        private static DiagnosticInfo Diagnostic(DiagnosticDescriptor descriptor, Location? location, params string[] arguments) =>
            new DiagnosticInfo(descriptor.Id, LocationInfo.From(location), new EquatableArray<string>(arguments.ToImmutableArray()));
    }
}

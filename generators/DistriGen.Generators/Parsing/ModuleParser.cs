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
    /// Does all semantic work for one [PatchParallel] class and returns a value-equatable spec (or the stub
    /// that stands in for a class with errors) plus diagnostics. Nothing Roslyn-typed leaves this class.
    /// </summary>
    internal static class ModuleParser
    {
        /// <summary>The members generated code declares, which the user's class must not.</summary>
        private static readonly string[] GeneratedNames = { "ToPatchParallel", "PatchPlan", "BandAlignment" };

        public static ParseResult Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
        {
            var type = (INamedTypeSymbol)context.TargetSymbol;
            var diagnostics = new List<DiagnosticInfo>();
            try
            {
                return ParseClass(type, context.SemanticModel.Compilation, diagnostics, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                throw;
            }
            catch (Exception e)
            {
                diagnostics.Add(Diagnostic(DiagnosticDescriptors.GeneratorFailure, type.Locations.FirstOrDefault(), type.Name, e.GetType().Name + ": " + e.Message));
                return new ParseResult(null, null, new EquatableArray<DiagnosticInfo>(diagnostics));
            }
        }

        private static ParseResult ParseClass(INamedTypeSymbol type, Compilation compilation, List<DiagnosticInfo> diagnostics, CancellationToken ct)
        {
            var declaration = type.DeclaringSyntaxReferences.Select(r => r.GetSyntax(ct)).OfType<ClassDeclarationSyntax>().First();
            var identifier = declaration.Identifier.GetLocation();
            ParseResult Failed(StubSpec? stub) => new ParseResult(null, stub, new EquatableArray<DiagnosticInfo>(diagnostics));

            var notPartial = new List<string>();
            if (!type.DeclaringSyntaxReferences.Any(r => r.GetSyntax(ct) is ClassDeclarationSyntax c && c.Modifiers.Any(SyntaxKind.PartialKeyword)))
                notPartial.Add("it is");
            for (var outer = type.ContainingType; outer != null; outer = outer.ContainingType)
                if (!outer.DeclaringSyntaxReferences.Any(r => r.GetSyntax(ct) is TypeDeclarationSyntax t && t.Modifiers.Any(SyntaxKind.PartialKeyword)))
                    notPartial.Add($"its containing type '{outer.Name}' is");
            if (notPartial.Count > 0)
                diagnostics.Add(Diagnostic(DiagnosticDescriptors.NotPartial, identifier, type.Name, string.Join(" and ", notPartial)));

            if (!Symbols.IsModule(type))
            {
                diagnostics.Add(Diagnostic(DiagnosticDescriptors.NotAModule, identifier, type.Name));
                return Failed(null);
            }

            string? shapeProblem =
                type.IsStatic ? "static" :
                type.IsAbstract ? "abstract" :
                type.TypeParameters.Length > 0 ? "generic" :
                IsNestedInGeneric(type) ? "nested in a generic type" :
                type.IsFileLocal ? "file-local (its generated part would have to be in the same file)" :
                type.DeclaringSyntaxReferences.Any(r => r.GetSyntax(ct) is ClassDeclarationSyntax { ParameterList: { } }) ? "declared with a primary constructor" :
                null;
            if (shapeProblem != null) diagnostics.Add(Diagnostic(DiagnosticDescriptors.UnsupportedClassShape, identifier, type.Name, shapeProblem));

            var baseType = type.BaseType!;
            bool baseIsPatchParallel = Symbols.IsPatchParallel(baseType);
            if (!baseIsPatchParallel && Symbols.MetadataName(baseType) != KnownTypes.Module)
                diagnostics.Add(Diagnostic(DiagnosticDescriptors.BaseNotPatchParallel, identifier, type.Name, baseType.Name));

            ReportConflicts(type, diagnostics);
            // A hand-written ToPatchParallel leaves no room for the stub's.
            bool conflicts = type.GetMembers("ToPatchParallel").Any(m => !m.IsImplicitlyDeclared);
            var inherited = new List<string>();
            bool baseFailed = false;
            if (baseIsPatchParallel && baseType.DeclaringSyntaxReferences.Length > 0)
            {
                // The base's generated part is what this one builds on: without it, stand in as a stub.
                var baseResult = ParseClass(baseType, compilation, new List<DiagnosticInfo>(), ct);
                baseFailed = baseResult.Spec == null;
                if (baseResult.Spec != null) inherited.AddRange(StateNames(baseResult.Spec.Members));
            }

            var members = MemberParser.Parse(type, compilation, inherited, diagnostics, ct);
            if (members.Any(m => m.Kind == MemberKind.Parameter) && DeclaresOverride(type, "OwnParameters"))
            {
                diagnostics.Add(Diagnostic(DiagnosticDescriptors.GeneratedMemberConflict, identifier, type.Name, "'OwnParameters()' next to parameter members"));
            }
            ConvolutionArguments.Check(type, compilation, diagnostics, ct);
            ForwardCreations.Check(type, compilation, diagnostics, ct);

            var containing = new List<ContainingTypeSpec>();
            for (var outer = type.ContainingType; outer != null; outer = outer.ContainingType)
                containing.Insert(0, new ContainingTypeSpec(Keyword(outer), Declared(outer)));
            var ns = type.ContainingNamespace.IsGlobalNamespace ? null : type.ContainingNamespace.ToDisplayString(Symbols.Qualified);
            var metadataName = Symbols.MetadataName(type);
            string hintName = metadataName + ".PatchParallel.g.cs";
            string fullName = type.ToDisplayString(Symbols.FullyQualified);

            if (diagnostics.Count > 0 || baseFailed)
            {
                // A stub keeps the user's calls compiling so that the DG errors are the build's only ones.
                bool canStub = !conflicts && !type.IsStatic && !type.IsFileLocal && (notPartial.Count == 0 || IsAccessible(type));
                string reason = $"'{type.Name}' has no patch-parallel variant: the build reported why (DistriGen DG errors).";
                return Failed(canStub
                    ? new StubSpec(ns, Declared(type), fullName, hintName, notPartial.Count > 0, baseIsPatchParallel, reason,
                        new EquatableArray<ContainingTypeSpec>(containing))
                    : null);
            }

            bool hasConstructor = type.InstanceConstructors.Any(c => !c.IsImplicitlyDeclared);
            return new ParseResult(new ModuleSpec(
                ns,
                type.Name,
                fullName,
                metadataName,
                hintName,
                type.IsSealed,
                baseIsPatchParallel,
                AddParameterlessConstructor: !hasConstructor,
                SetsRequiredMembers: HasRequiredMembers(type),
                new EquatableArray<ContainingTypeSpec>(containing),
                new EquatableArray<MemberSpec>(members)), null, EquatableArray<DiagnosticInfo>.Empty);
        }

        /// <summary>Hand-written members that the generated part declares: DG0010 for each.</summary>
        private static void ReportConflicts(INamedTypeSymbol type, List<DiagnosticInfo> diagnostics)
        {
            foreach (var member in type.GetMembers())
            {
                if (member.IsImplicitlyDeclared) continue;
                string? what =
                    GeneratedNames.Contains(member.Name) ? $"'{member.Name}'" :
                    member.Name == "Children" && member is IMethodSymbol { IsOverride: true } ? "'Children()'" :
                    member is IMethodSymbol { MethodKind: MethodKind.Constructor, Parameters: { Length: 2 } p }
                        && SymbolEqualityComparer.Default.Equals(p[0].Type, type) && Symbols.MetadataName(p[1].Type) == KnownTypes.PatchRewriter
                        ? "a constructor taking (its own type, PatchRewriter)" :
                    null;
                if (what == null) continue;
                diagnostics.Add(Diagnostic(DiagnosticDescriptors.GeneratedMemberConflict, member.Locations.FirstOrDefault(), type.Name, what));
            }
        }

        private static bool DeclaresOverride(INamedTypeSymbol type, string name) =>
            type.GetMembers(name).Any(m => m is IMethodSymbol { IsOverride: true } && !m.IsImplicitlyDeclared);

        private static IEnumerable<string> StateNames(IEnumerable<MemberSpec> members) =>
            members.Where(m => m.Kind != MemberKind.Copied).Select(m => m.StateName);

        private static bool HasRequiredMembers(INamedTypeSymbol type)
        {
            for (var t = type; t != null; t = t.BaseType)
                if (t.GetMembers().Any(m => m is IPropertySymbol { IsRequired: true } || m is IFieldSymbol { IsRequired: true })) return true;
            return false;
        }

        /// <summary>Public or internal all the way out, so an extension method can name it.</summary>
        private static bool IsAccessible(INamedTypeSymbol type)
        {
            for (INamedTypeSymbol? t = type; t != null; t = t.ContainingType)
                if (t.DeclaredAccessibility is not (Accessibility.Public or Accessibility.Internal)) return false;
            return true;
        }

        private static bool IsNestedInGeneric(INamedTypeSymbol type)
        {
            for (var outer = type.ContainingType; outer != null; outer = outer.ContainingType)
                if (outer.TypeParameters.Length > 0) return true;
            return false;
        }

        /// <summary>The name as a declaration writes it: escaped, with its type parameters.</summary>
        private static string Declared(INamedTypeSymbol type) =>
            type.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat
                .WithMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.EscapeKeywordIdentifiers)
                .WithGenericsOptions(SymbolDisplayGenericsOptions.IncludeTypeParameters));

        private static string Keyword(INamedTypeSymbol type) =>
            type.IsRecord ? (type.TypeKind == TypeKind.Struct ? "partial record struct" : "partial record") :
            type.TypeKind == TypeKind.Struct ? "partial struct" :
            type.TypeKind == TypeKind.Interface ? "partial interface" :
            "partial class";

        internal static DiagnosticInfo Diagnostic(DiagnosticDescriptor descriptor, Location? location, params string[] arguments) =>
            new DiagnosticInfo(descriptor.Id, LocationInfo.From(location), new EquatableArray<string>(arguments.ToImmutableArray()));
    }
}

using System.Collections.Generic;
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
    /// The members of one [PatchParallel] class, as the generated code treats them: fields and
    /// auto-properties holding layers (alone or in a container), parameters, and everything else copied.
    /// </summary>
    internal static class MemberParser
    {
        public static List<MemberSpec> Parse(INamedTypeSymbol owner, Compilation compilation, IReadOnlyCollection<string> inheritedStateNames,
            List<DiagnosticInfo> diagnostics, CancellationToken ct)
        {
            var members = new List<MemberSpec>();
            // Optional members may share a name (exactly one of them is set, e.g. a conv or a linear proj_in).
            var stateNames = new Dictionary<string, (string Member, bool Optional)>();
            foreach (var name in inheritedStateNames) stateNames[name] = (name + " (inherited)", false);
            var autoProperties = new HashSet<ISymbol>(
                owner.GetMembers().OfType<IFieldSymbol>().Where(f => f.AssociatedSymbol != null).Select(f => f.AssociatedSymbol!),
                SymbolEqualityComparer.Default);
            foreach (var member in owner.GetMembers())
            {
                ct.ThrowIfCancellationRequested();
                if (member.IsStatic)
                {
                    // One module shared by every instance is never rewritten.
                    if (member is IFieldSymbol { IsImplicitlyDeclared: false } or IPropertySymbol && TypeOf(member) is { } staticType
                        && (ContainerShape.Of(staticType).Element is { } e && Symbols.IsModule(e) || ContainerShape.Of(staticType).Unsupported != null))
                        diagnostics.Add(ModuleParser.Diagnostic(DiagnosticDescriptors.UnsupportedContainer, member.Locations.FirstOrDefault(),
                            member.Name, owner.Name, "a static member (shared by every instance, so never rewritten)"));
                    continue;
                }
                if (member is IPropertySymbol property)
                {
                    if (!property.IsIndexer && !autoProperties.Contains(property)) CheckComputed(owner, property, compilation, diagnostics, ct);
                    continue;
                }
                if (!(member is IFieldSymbol field) || field.IsConst) continue;
                if (field.IsImplicitlyDeclared && !(field.AssociatedSymbol is IPropertySymbol)) continue;
                ISymbol named = (ISymbol?)(field.AssociatedSymbol as IPropertySymbol) ?? field;
                if (Symbols.HasAttribute(named, KnownTypes.NotPatchedAttribute)) continue;
                var spec = Member(owner, named, field.Type, diagnostics);
                if (spec == null) continue;
                members.Add(spec);
                if (spec.Kind == MemberKind.Copied) continue;
                if (stateNames.TryGetValue(spec.StateName, out var first) && !(first.Optional && spec.IsOptional))
                    diagnostics.Add(ModuleParser.Diagnostic(DiagnosticDescriptors.DuplicateStateName, named.Locations.FirstOrDefault(),
                        first.Member, named.Name, owner.Name, spec.StateName));
                else if (!stateNames.ContainsKey(spec.StateName))
                    stateNames[spec.StateName] = (named.Name, spec.IsOptional);
            }
            return members;
        }

        private static MemberSpec? Member(INamedTypeSymbol owner, ISymbol named, ITypeSymbol type, List<DiagnosticInfo> diagnostics)
        {
            var location = named.Locations.FirstOrDefault();
            bool optional = type.NullableAnnotation == NullableAnnotation.Annotated;
            string typeName = type.WithNullableAnnotation(NullableAnnotation.NotAnnotated).ToDisplayString(Symbols.FullyQualified);
            bool splitsInput = Symbols.HasAttribute(named, KnownTypes.SplitsInputAttribute);
            var shape = ContainerShape.Of(type);
            if (shape.Unsupported != null)
            {
                diagnostics.Add(ModuleParser.Diagnostic(DiagnosticDescriptors.UnsupportedContainer, location, named.Name, owner.Name, shape.Unsupported));
                return null;
            }
            if (shape.Element == null || (Symbols.IsTensor(shape.Element) && shape.Collection != CollectionKind.None))
                return Copied(named.Name, typeName, optional);
            var kind = Classify(shape.Element, splitsInput);
            if (splitsInput && kind != MemberKind.InputConv)
            {
                diagnostics.Add(ModuleParser.Diagnostic(DiagnosticDescriptors.SplitsInputOnNonConv, location, named.Name, shape.Element.Name));
                return null;
            }
            if (kind == null)
            {
                diagnostics.Add(ModuleParser.Diagnostic(DiagnosticDescriptors.UnknownSpatialModule, location, named.Name, owner.Name, shape.Element.Name));
                return null;
            }
            // A [PatchParallel] child that cannot get its generated part (it has its own DG0001) is left as it is.
            if (kind == MemberKind.Child && shape.Element is INamedTypeSymbol child && child.DeclaringSyntaxReferences.Length > 0
                && !Symbols.IsPartialInSource(child))
                return Copied(named.Name, typeName, optional);
            return new MemberSpec(named.Name, StateName(named), kind.Value, shape.Collection, typeName,
                shape.Element.ToDisplayString(Symbols.FullyQualified), optional);
        }

        private static ITypeSymbol? TypeOf(ISymbol member) => member switch
        {
            IFieldSymbol field => field.Type,
            IPropertySymbol property => property.Type,
            _ => null,
        };

        private static MemberSpec Copied(string name, string typeName, bool optional) =>
            new MemberSpec(name, Naming.ToSnakeCase(name), MemberKind.Copied, CollectionKind.None, typeName, typeName, optional);

        /// <summary>The rewrite for a module or tensor type; null for a module of unknown kind (an error).</summary>
        private static MemberKind? Classify(ITypeSymbol type, bool splitsInput)
        {
            if (Symbols.IsTensor(type)) return MemberKind.Parameter;
            if (Symbols.InheritsFrom(type, KnownTypes.Conv2d)) return splitsInput ? MemberKind.InputConv : MemberKind.HaloConv;
            if (splitsInput) return MemberKind.Child; // reported by the caller
            if (Symbols.InheritsFrom(type, KnownTypes.GroupNorm)) return MemberKind.GroupNorm;
            if (Symbols.InheritsFrom(type, KnownTypes.Attention)) return MemberKind.Attention;
            if (Symbols.IsPatchParallel(type)) return MemberKind.Child;
            if (!Symbols.IsSpatialModule(type) && !Symbols.InheritsFrom(type, KnownTypes.ModuleList) && Symbols.MetadataName(type) != KnownTypes.Module)
                return MemberKind.Shared;
            return null;
        }

        /// <summary>
        /// A property without a field of its own must return a field (or auto-property) of the class when it holds
        /// modules.
        /// </summary>
        private static void CheckComputed(INamedTypeSymbol owner, IPropertySymbol property, Compilation compilation,
            List<DiagnosticInfo> diagnostics, CancellationToken ct)
        {
            var shape = ContainerShape.Of(property.Type);
            if (shape.Unsupported == null && (shape.Element == null || Symbols.IsTensor(shape.Element))) return;
            foreach (var reference in property.DeclaringSyntaxReferences)
            {
                if (!(reference.GetSyntax(ct) is PropertyDeclarationSyntax declaration)) continue;
                var returned = declaration.ExpressionBody?.Expression
                    ?? declaration.AccessorList?.Accessors.FirstOrDefault(a => a.IsKind(SyntaxKind.GetAccessorDeclaration)) switch
                    {
                        { ExpressionBody: { } body } => body.Expression,
                        { Body: { Statements: { Count: 1 } statements } } when statements[0] is ReturnStatementSyntax r => r.Expression,
                        _ => null,
                    };
                if (returned is PostfixUnaryExpressionSyntax { RawKind: (int)SyntaxKind.SuppressNullableWarningExpression } bang)
                    returned = bang.Operand;
                var symbol = returned == null ? null : compilation.GetSemanticModel(declaration.SyntaxTree).GetSymbolInfo(returned, ct).Symbol;
                bool ownMember = symbol is IFieldSymbol or IPropertySymbol && !symbol.IsStatic
                    && SymbolEqualityComparer.Default.Equals(symbol.ContainingType, owner)
                    && (returned is IdentifierNameSyntax || returned is MemberAccessExpressionSyntax { Expression: ThisExpressionSyntax });
                if (ownMember) return;
                diagnostics.Add(ModuleParser.Diagnostic(DiagnosticDescriptors.ComputedModuleProperty, property.Locations.FirstOrDefault(), property.Name, owner.Name));
                return;
            }
        }

        private static string StateName(ISymbol member)
        {
            foreach (var attribute in member.GetAttributes())
                if (attribute.AttributeClass != null && Symbols.MetadataName(attribute.AttributeClass) == KnownTypes.StateNameAttribute
                    && attribute.ConstructorArguments.Length == 1 && attribute.ConstructorArguments[0].Value is string name)
                    return name;
            return Naming.ToSnakeCase(member.Name);
        }
    }
}

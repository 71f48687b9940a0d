using System.Collections.Generic;
using System.Linq;
using System.Threading;
using DistriGen.Generators.Diagnostics;
using DistriGen.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace DistriGen.Generators.Parsing
{
    /// <summary>
    /// A spatial layer made inside a forward method (an instance method that takes or returns a Tensor)
    /// is never rewritten: it would run on the band alone. Made in a constructor, a static factory or a
    /// helper the constructor calls, it becomes a member and is rewritten.
    /// </summary>
    internal static class ForwardCreations
    {
        public static void Check(INamedTypeSymbol owner, Compilation compilation, List<DiagnosticInfo> diagnostics, CancellationToken ct)
        {
            foreach (var (method, model) in OwnSyntax.Nodes<MethodDeclarationSyntax>(owner, compilation, ct))
            {
                if (!(model.GetDeclaredSymbol(method, ct) is IMethodSymbol symbol) || symbol.IsStatic || !TakesOrGivesTensors(symbol)) continue;
                foreach (var creation in method.DescendantNodes().OfType<BaseObjectCreationExpressionSyntax>())
                {
                    var type = model.GetTypeInfo(creation, ct).Type;
                    if (!Symbols.IsSpatialModule(type)) continue;
                    diagnostics.Add(ModuleParser.Diagnostic(DiagnosticDescriptors.ModuleCreatedInForward, creation.GetLocation(),
                        owner.Name, DiagnosticDescriptors.WithArticle(type!.Name), symbol.Name));
                }
            }
        }

        private static bool TakesOrGivesTensors(IMethodSymbol method) =>
            Symbols.IsTensor(method.ReturnType) || method.Parameters.Any(p => Symbols.IsTensor(p.Type));
    }
}

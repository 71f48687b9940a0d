using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace DistriGen.Generators.Parsing
{
    /// <summary>Syntax a type declares itself, across its partial declarations, without its nested types'.</summary>
    internal static class OwnSyntax
    {
        /// <summary>The nodes of type T in the owner's declarations, each with its tree's semantic model.</summary>
        public static IEnumerable<(T Node, SemanticModel Model)> Nodes<T>(INamedTypeSymbol owner,
            Compilation compilation, CancellationToken ct) where T : SyntaxNode
        {
            foreach (var reference in owner.DeclaringSyntaxReferences)
            {
                var declaration = reference.GetSyntax(ct);
                var model = compilation.GetSemanticModel(declaration.SyntaxTree);
                foreach (var node in declaration.DescendantNodes().OfType<T>())
                    if (node.Ancestors().OfType<TypeDeclarationSyntax>().First() == declaration)
                        yield return (node, model);
            }
        }
    }
}

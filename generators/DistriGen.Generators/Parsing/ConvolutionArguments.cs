using System.Collections.Generic;
using System.Linq;
using System.Threading;
using DistriGen.Generators.Diagnostics;
using DistriGen.Generators.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace DistriGen.Generators.Parsing
{
    /// <summary>
    /// Convolutions made in a [PatchParallel] class with constant kernel and padding must keep the number
    /// of rows ('same' padding, or 1×1 without padding); otherwise the build fails here instead of the
    /// run failing later.
    /// </summary>
    internal static class ConvolutionArguments
    {
        public static void Check(INamedTypeSymbol owner, Compilation compilation, List<DiagnosticInfo> diagnostics, CancellationToken ct)
        {
            foreach (var (creation, model) in OwnSyntax.Nodes<BaseObjectCreationExpressionSyntax>(owner, compilation, ct))
            {
                if (!(model.GetOperation(creation, ct) is IObjectCreationOperation { Constructor: { } constructor } operation)) continue;
                if (Symbols.MetadataName(constructor.ContainingType) != KnownTypes.Conv2d) continue;
                int? kernel = Constant(operation, "kernelSize"), padding = Constant(operation, "padding");
                if (kernel is not { } k || padding is not { } p || (k == 1 && p == 0) || 2 * p == k - 1) continue;
                string fix = k % 2 == 0
                    ? "an even kernel has no padding that keeps them; use an odd kernel (or a 1×1)"
                    : $"patch parallelism needs padding {(k - 1) / 2} for a {k}×{k} kernel ('same')";
                var culture = System.Globalization.CultureInfo.InvariantCulture;
                diagnostics.Add(ModuleParser.Diagnostic(DiagnosticDescriptors.ConvolutionChangesRows, creation.GetLocation(),
                    k.ToString(culture), p.ToString(culture), fix));
            }
        }

        /// <summary>
        /// The argument's compile-time value (an explicit constant or the parameter's default), or null.
        /// </summary>
        private static int? Constant(IObjectCreationOperation creation, string parameter)
        {
            var argument = creation.Arguments.FirstOrDefault(a => a.Parameter?.Name == parameter);
            if (argument == null) return null;
            if (argument.ArgumentKind == ArgumentKind.DefaultValue)
                return argument.Parameter!.HasExplicitDefaultValue && argument.Parameter.ExplicitDefaultValue is int d ? d : (int?)null;
            return argument.Value.ConstantValue is { HasValue: true, Value: int value } ? value : (int?)null;
        }
    }
}

using Microsoft.CodeAnalysis.CSharp;

namespace DistriGen.Generators.Emitting
{
    /// <summary>User names and values as C# source: keywords escaped, strings quoted.</summary>
    internal static class CSharpText
    {
        /// <summary>A member name as code: "class" → "@class".</summary>
        public static string Identifier(string name) => SyntaxFacts.GetKeywordKind(name) != SyntaxKind.None ? "@" + name : name;

        /// <summary>A string literal: quotes, backslashes and control characters escaped.</summary>
        public static string Literal(string value) => SymbolDisplay.FormatLiteral(value, quote: true);

        /// <summary>The version of this generator, for [GeneratedCode].</summary>
        public static string GeneratorVersion { get; } = Version();

        private static string Version()
        {
            var v = typeof(CSharpText).Assembly.GetName().Version;
            return v == null ? "0.0.0" : $"{v.Major}.{v.Minor}.{v.Build}";
        }
    }
}

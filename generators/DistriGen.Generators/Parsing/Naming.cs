using System.Text;

namespace DistriGen.Generators.Parsing
{
    /// <summary>Member names to state-dict names: "ConvShortcut" → "conv_shortcut", "_norm1" → "norm1".</summary>
    internal static class Naming
    {
        public static string ToSnakeCase(string name)
        {
            var trimmed = name.TrimStart('_');
            var sb = new StringBuilder(trimmed.Length + 8);
            for (int i = 0; i < trimmed.Length; i++)
            {
                char c = trimmed[i];
                if (char.IsUpper(c))
                {
                    bool afterLowerOrDigit = i > 0 && (char.IsLower(trimmed[i - 1]) || char.IsDigit(trimmed[i - 1]));
                    bool endsAcronym = i > 0 && char.IsUpper(trimmed[i - 1]) && i + 1 < trimmed.Length && char.IsLower(trimmed[i + 1]);
                    if (afterLowerOrDigit || endsAcronym) sb.Append('_');
                    sb.Append(char.ToLowerInvariant(c));
                }
                else
                {
                    sb.Append(c);
                }
            }
            return sb.ToString();
        }
    }
}

using System.Text;
using DistriGen.Models.Text.Cleanup;

namespace DistriGen.Models.Text;

/// <summary>
/// What CLIPTokenizer does to a piece of prompt text before byte-pair encoding: ftfy's fix_text, white
/// space collapsed to single spaces and trimmed, Python's lower(); then CLIP's word pattern.
/// </summary>
internal static class PromptText
{
    public static string Clean(string text) => PythonLowercase.Lower(CollapseWhitespace(TextFixer.FixText(text)));

    public static List<string> SplitWords(string cleaned) => ClipWordSplitter.Split(cleaned);

    /// <summary>Python's str.isspace: .NET's white space plus the separators U+001C–U+001F.</summary>
    public static bool IsSpace(char c) => char.IsWhiteSpace(c) || c is >= '\u001C' and <= '\u001F';

    /// <summary>re.sub(r"\s+", " ", text).strip().</summary>
    private static string CollapseWhitespace(string text)
    {
        var sb = new StringBuilder(text.Length);
        bool pendingSpace = false;
        foreach (var c in text)
        {
            if (IsSpace(c))
            {
                pendingSpace = sb.Length > 0;
                continue;
            }
            if (pendingSpace) sb.Append(' ');
            pendingSpace = false;
            sb.Append(c);
        }
        return sb.ToString();
    }
}

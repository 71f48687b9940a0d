using System.Text;
using System.Text.RegularExpressions;

namespace DistriGen.Models.Text.Cleanup;

/// <summary>
/// ftfy 6.1.1's fix_text with its default configuration, which transformers' CLIPTokenizer applies to
/// every prompt: line by line, and per line repeated until nothing changes — HTML entities (unless the
/// text has a '&lt;'), mojibake, C1 controls, Latin ligatures, full-width forms, curly quotes, line
/// breaks, lone surrogates, terminal escapes, control characters, then NFC.
/// </summary>
internal static class TextFixer
{
    private static readonly Regex TerminalEscape = new(@"\u001B\[((?:\d|;)*)([a-zA-Z])", RegexOptions.CultureInvariant);

    private static readonly Dictionary<char, string> Ligatures = new()
    {
        ['\u0132'] = "IJ", ['\u0133'] = "ij", ['\u0149'] = "\u02BCn",
        ['\u01F1'] = "DZ", ['\u01F2'] = "Dz", ['\u01F3'] = "dz",
        ['\u01C4'] = "D\u017D", ['\u01C5'] = "D\u017E", ['\u01C6'] = "d\u017E",
        ['\u01C7'] = "LJ", ['\u01C8'] = "Lj", ['\u01C9'] = "lj",
        ['\u01CA'] = "NJ", ['\u01CB'] = "Nj", ['\u01CC'] = "nj",
        ['\uFB00'] = "ff", ['\uFB01'] = "fi", ['\uFB02'] = "fl", ['\uFB03'] = "ffi", ['\uFB04'] = "ffl",
        ['\uFB05'] = "\u017Ft", ['\uFB06'] = "st",
    };

    /// <summary>U+3000 and the half- and full-width forms U+FF01–U+FFEF, by their NFKC equivalents.</summary>
    private static readonly Dictionary<char, string> Widths = BuildWidths();

    public static string FixText(string text)
    {
        var output = new StringBuilder(text.Length);
        bool unescapeHtml = true;
        for (int position = 0; position < text.Length;)
        {
            int end = text.IndexOf('\n', position) + 1;
            if (end == 0) end = text.Length;
            end = Math.Min(end, position + 1_000_000);
            var segment = text[position..end];
            // As in ftfy, a '<' turns HTML unescaping off for this line and every line after it.
            if (segment.Contains('<')) unescapeHtml = false;
            output.Append(FixSegment(segment, unescapeHtml));
            position = end;
        }
        return output.ToString();
    }

    private static string FixSegment(string text, bool unescapeHtml)
    {
        while (true)
        {
            var original = text;
            if (unescapeHtml) text = HtmlEntities.Unescape(text);
            text = Mojibake.FixEncoding(text);
            text = Mojibake.FixC1Controls(text);
            text = Translate(text, Ligatures);
            text = Translate(text, Widths);
            text = UncurlQuotes(text);
            text = text.Replace("\r\n", "\n").Replace('\r', '\n').Replace('\u2028', '\n').Replace('\u2029', '\n').Replace('\u0085', '\n');
            text = FixSurrogates(text);
            text = TerminalEscape.Replace(text, "");
            text = RemoveControlCharacters(text);
            text = text.Normalize(NormalizationForm.FormC);
            if (text == original) return text;
        }
    }

    private static string Translate(string text, Dictionary<char, string> table)
    {
        if (!text.Any(table.ContainsKey)) return text;
        var sb = new StringBuilder(text.Length);
        foreach (var c in text) if (table.TryGetValue(c, out var r)) sb.Append(r); else sb.Append(c);
        return sb.ToString();
    }

    private static string UncurlQuotes(string text)
    {
        var chars = text.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
        {
            if (chars[i] is '\u02BC' or >= '\u2018' and <= '\u201B') chars[i] = '\'';
            else if (chars[i] is >= '\u201C' and <= '\u201F') chars[i] = '"';
        }
        return new string(chars);
    }

    /// <summary>Lone surrogates (which Python strings can carry and NFC cannot take) become U+FFFD.</summary>
    private static string FixSurrogates(string text)
    {
        var chars = text.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
        {
            if (char.IsHighSurrogate(chars[i]) && i + 1 < chars.Length && char.IsLowSurrogate(chars[i + 1])) i++;
            else if (char.IsSurrogate(chars[i])) chars[i] = '\uFFFD';
        }
        return new string(chars);
    }

    private static string RemoveControlCharacters(string text)
    {
        static bool IsControl(char c) =>
            c is <= '\u0008' or '\u000B' or >= '\u000E' and <= '\u001F' or '\u007F' or >= '\u206A' and <= '\u206F' or '\uFEFF' or >= '\uFFF9' and <= '\uFFFC';
        return text.Any(IsControl) ? new string(text.Where(c => !IsControl(c)).ToArray()) : text;
    }

    private static Dictionary<char, string> BuildWidths()
    {
        var map = new Dictionary<char, string> { ['\u3000'] = " " };
        for (char c = '\uFF01'; c < '\uFFF0'; c++)
        {
            var nfkc = c.ToString().Normalize(NormalizationForm.FormKC);
            if (nfkc != c.ToString()) map[c] = nfkc;
        }
        return map;
    }
}

using System.Globalization;
using System.Text;

namespace DistriGen.Models.Text;

/// <summary>
/// CLIP's word pattern, <c>&lt;|startoftext|&gt;|&lt;|endoftext|&gt;|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+</c>
/// (case-insensitive), matched by code point: .NET's Regex sees UTF-16 units, so a letter or digit
/// outside the Basic Multilingual Plane would fall into the wrong class there. At each position the
/// first alternative that matches wins, as in Python's regex module.
/// </summary>
internal static class ClipWordSplitter
{
    private static readonly string[] Specials = ["<|startoftext|>", "<|endoftext|>"];
    private static readonly string[] Contractions = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"];

    public static List<string> Split(string text)
    {
        var words = new List<string>();
        int i = 0;
        while (i < text.Length)
        {
            int length = MatchAt(text, i);
            if (length == 0)
            {
                i += Rune.GetRuneAt(text, i).Utf16SequenceLength;
                continue;
            }
            words.Add(text.Substring(i, length));
            i += length;
        }
        return words;
    }

    /// <summary>The length of the match at <paramref name="i"/>, 0 for white space (which is skipped).</summary>
    private static int MatchAt(string text, int i)
    {
        foreach (var s in Specials)
            if (string.CompareOrdinal(text, i, s, 0, s.Length) == 0) return s.Length;
        if (text[i] == '\'')
            foreach (var c in Contractions)
                if (i + c.Length <= text.Length && ContractionAt(text, i, c)) return c.Length;
        var kind = Kind(Rune.GetRuneAt(text, i));
        if (kind == CharKind.Space) return 0;
        int end = i + Rune.GetRuneAt(text, i).Utf16SequenceLength;
        if (kind == CharKind.Digit) return end - i;
        while (end < text.Length)
        {
            var next = Rune.GetRuneAt(text, end);
            if (Kind(next) != kind) break;
            end += next.Utf16SequenceLength;
        }
        return end - i;
    }

    /// <summary>Case-insensitive as Python's regex: 's' also matches the long s (U+017F), whose case folding is 's'.</summary>
    private static bool ContractionAt(string text, int i, string contraction)
    {
        for (int k = 1; k < contraction.Length; k++)
        {
            char c = text[i + k], want = contraction[k];
            if (char.ToLowerInvariant(c) != want && !(want == 's' && c == '\u017F')) return false;
        }
        return true;
    }

    private enum CharKind { Letter, Digit, Other, Space }

    /// <summary>
    /// Python's regex module, case-insensitive, matches U+0345 (combining ypogegrammeni, whose case partner
    /// is the letter ι) with none of the alternatives, so it is skipped like white space.
    /// </summary>
    private static CharKind Kind(Rune rune)
    {
        if (rune.IsBmp && PromptText.IsSpace((char)rune.Value) || rune.Value == 0x345) return CharKind.Space;
        return Rune.GetUnicodeCategory(rune) switch
        {
            UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter
                or UnicodeCategory.ModifierLetter or UnicodeCategory.OtherLetter => CharKind.Letter,
            UnicodeCategory.DecimalDigitNumber or UnicodeCategory.LetterNumber or UnicodeCategory.OtherNumber => CharKind.Digit,
            _ => CharKind.Other,
        };
    }
}

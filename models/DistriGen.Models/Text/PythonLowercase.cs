using System.Globalization;
using System.Text;

namespace DistriGen.Models.Text;

/// <summary>
/// Python's str.lower(): the full Unicode lower-case mapping, not .NET's simple one. Two rules differ:
/// U+0130 (İ) becomes "i" + U+0307 (combining dot above), and Σ becomes final ς when it ends a word
/// (a cased letter before it and none after it, skipping case-ignorable characters), else σ.
/// </summary>
internal static class PythonLowercase
{
    public static string Lower(string text)
    {
        var sb = new StringBuilder(text.Length);
        for (int i = 0; i < text.Length;)
        {
            var rune = Rune.GetRuneAt(text, i);
            if (rune.Value == 0x130) sb.Append("i\u0307");
            else if (rune.Value == 0x3A3) sb.Append(IsFinalSigma(text, i) ? 'ς' : 'σ');
            else sb.Append(Rune.ToLowerInvariant(rune).ToString());
            i += rune.Utf16SequenceLength;
        }
        return sb.ToString();
    }

    /// <summary>Unicode's Final_Sigma condition, as CPython evaluates it.</summary>
    private static bool IsFinalSigma(string text, int index)
    {
        bool casedBefore = false;
        for (int j = index; j > 0;)
        {
            var rune = Rune.GetRuneAt(text, char.IsLowSurrogate(text[j - 1]) && j >= 2 ? j - 2 : j - 1);
            j -= rune.Utf16SequenceLength;
            if (IsCaseIgnorable(rune)) continue;
            casedBefore = IsCased(rune);
            break;
        }
        if (!casedBefore) return false;
        for (int j = index + 1; j < text.Length;)
        {
            var rune = Rune.GetRuneAt(text, j);
            j += rune.Utf16SequenceLength;
            if (IsCaseIgnorable(rune)) continue;
            return !IsCased(rune);
        }
        return true;
    }

    private static bool IsCased(Rune rune) => Rune.GetUnicodeCategory(rune) is
        UnicodeCategory.UppercaseLetter or UnicodeCategory.LowercaseLetter or UnicodeCategory.TitlecaseLetter;

    private static bool IsCaseIgnorable(Rune rune) =>
        Rune.GetUnicodeCategory(rune) is UnicodeCategory.NonSpacingMark or UnicodeCategory.EnclosingMark or UnicodeCategory.Format
            or UnicodeCategory.ModifierLetter or UnicodeCategory.ModifierSymbol
        || rune.Value is '\'' or '.' or ':' or 0xB7 or 0x387 or 0x5F4 or 0x2018 or 0x2019 or 0x2024 or 0x2027 or 0xFE13 or 0xFE52 or 0xFE55
            or 0xFF07 or 0xFF0E or 0xFF1A;
}

using System.Text;
using System.Text.RegularExpressions;
using static DistriGen.Models.Text.Cleanup.MojibakeCharacters;

namespace DistriGen.Models.Text.Cleanup;

/// <summary>
/// ftfy 6.1.1's fix_encoding: text that is UTF-8 decoded in a single-byte encoding ("cafÃ©") is
/// encoded back and decoded as UTF-8, when its characters look like mojibake ("badness") and the bytes
/// are valid UTF-8; runs of mojibake inside otherwise good text are fixed on their own; stray C1
/// control characters are read as Windows-1252.
/// </summary>
internal static class Mojibake
{
    /// <summary>ftfy's BADNESS_RE: juxtapositions of characters that almost only occur in mojibake.</summary>
    private static readonly Regex Badness = new(string.Join("|",
        $"[{C1}]",
        $"[{Bad}{LowerAccented}{UpperAccented}{Box}{StartPunctuation}{EndPunctuation}{Currency}{Numeric}][{Bad}]",
        $"[a-zA-Z][{LowerCommon}{UpperCommon}][{Bad}]",
        $"[{Bad}][{LowerAccented}{UpperAccented}{Box}{StartPunctuation}{EndPunctuation}{Currency}{Numeric}]",
        $"[{LowerAccented}{LowerCommon}{Box}{EndPunctuation}{Currency}{Numeric}][{UpperAccented}]",
        $"[{Box}{EndPunctuation}{Currency}{Numeric}][{LowerAccented}]",
        $"[{LowerAccented}{Box}{EndPunctuation}][{Currency}]",
        $@"\s[{UpperAccented}][{Currency}]",
        $"[{UpperAccented}{Box}][{Numeric}]",
        $"[{LowerAccented}{UpperAccented}{Box}{Currency}{EndPunctuation}][{StartPunctuation}][{Numeric}]",
        $"[{LowerAccented}{UpperAccented}{Currency}{Numeric}{Box}][{EndPunctuation}][{StartPunctuation}]",
        $"[{Currency}{Numeric}{Box}][{StartPunctuation}]",
        $"[a-z][{UpperAccented}][{StartPunctuation}{Currency}]",
        $"[{Box}][{Kaomoji}]",
        $"[{LowerAccented}{UpperAccented}{Currency}{Numeric}{StartPunctuation}{EndPunctuation}][{Box}]",
        $"[{Box}][{EndPunctuation}]",
        $@"[{LowerAccented}{UpperAccented}][{EndPunctuation}]\w",
        "[\u0152\u0153][^A-Za-z]",
        $"[\u00C2\u00C3\u00CE\u00D0][\u20AC\u0160\u0161\u00A2\u00A3\u0178\u017E\u00A0\u00AD\u00AE\u00A9\u00B0\u00B7\u00BB{StartPunctuation}{EndPunctuation}\u2013\u2014\u00B4]",
        "\u00D7[\u00B2\u00B3]",
        $"[\u00D8\u00D9][{Common}{Currency}{Bad}{Numeric}{StartPunctuation}\u0178\u0160\u00AE\u00B0\u00B5\u00BB]" +
            $"[\u00D8\u00D9][{Common}{Currency}{Bad}{Numeric}{StartPunctuation}\u0178\u0160\u00AE\u00B0\u00B5\u00BB]",
        "\u00E0[\u00B2\u00B5\u00B9\u00BC\u00BD\u00BE]",
        "\u221A[\u00B1\u2202\u2020\u2260\u00AE\u2122\u00B4\u2264\u2265\u00A5\u00B5\u00F8]",
        "\u2248[\u00B0\u00A2]",
        "\u201A\u00C4[\u00EC\u00EE\u00EF\u00F2\u00F4\u00FA\u00F9\u00FB\u2020\u00B0\u00A2\u03C0]",
        "\u201A[\u00E2\u00F3][\u00E0\u00E4\u00B0\u00EA]",
        "\u0432\u0402",
        $"[\u0412\u0413\u0420\u0421][{C1}{Bad}{StartPunctuation}{EndPunctuation}{Currency}\u00B0\u00B5][\u0412\u0413\u0420\u0421]",
        "\u0413\u045E\u0412\u0402\u0412.[A-Za-z ]",
        "\u00C3[\u00A0\u00A1]",
        @"[a-z]\s?[\u00C3\u00C2][ ]",
        "^[\u00C3\u00C2][ ]",
        $"[a-z.,?!{EndPunctuation}]\u00C2[ {StartPunctuation}{EndPunctuation}]",
        "\u03B2\u20AC[\u2122\u00A0\u0386\u00AD\u00AE\u00B0]",
        $"[\u0392\u0393\u039E\u039F][{C1}{Bad}{StartPunctuation}{EndPunctuation}{Currency}\u00B0][\u0392\u0393\u039E\u039F]"),
        RegexOptions.CultureInvariant);

    /// <summary>ftfy's UTF8_DETECTOR_RE: runs of characters that are what UTF-8 sequences look like in Latin-1-like encodings.</summary>
    private static readonly Regex Utf8Detector = new(
        $"(?<![{Utf8ContinuationStrict}])([{Utf8FirstOf2}][{Utf8Continuation}]|[{Utf8FirstOf3}][{Utf8Continuation}]{{2}}|[{Utf8FirstOf4}][{Utf8Continuation}]{{3}})+",
        RegexOptions.CultureInvariant);

    // Byte patterns, matched on bytes read as Latin-1 characters (one char per byte).
    private static readonly Regex AlteredUtf8 = new(
        "[\u00C2\u00C3\u00C5\u00CE\u00D0\u00D9][ ]" +
        "|[\u00E2\u00E3][ ][\u0080-\u0084\u0086-\u009F\u00A1-\u00BF]" +
        "|[\u00E0-\u00E3][\u0080-\u0084\u0086-\u009F\u00A1-\u00BF][ ]" +
        "|[\u00F0][ ][\u0080-\u00BF][\u0080-\u00BF]" +
        "|[\u00F0][\u0080-\u00BF][ ][\u0080-\u00BF]" +
        "|[\u00F0][\u0080-\u00BF][\u0080-\u00BF][ ]", RegexOptions.CultureInvariant);

    private static readonly Regex AGraveWord = new("\u00C3 (?! |quele|quela|quilo|s )", RegexOptions.CultureInvariant);

    private static readonly Regex LossyUtf8 = new(
        "[\u00C2-\u00DF][\u001A]" +
        "|[\u00C2-\u00C3][?]" +
        "|\u00ED[\u00A0-\u00AF][\u001A?]\u00ED[\u00B0-\u00BF][\u001A?\u0080-\u00BF]" +
        "|\u00ED[\u00A0-\u00AF][\u001A?\u0080-\u00BF]\u00ED[\u00B0-\u00BF][\u001A?]" +
        "|[\u00E0-\u00EF][\u001A?][\u001A\u0080-\u00BF]" +
        "|[\u00E0-\u00EF][\u001A\u0080-\u00BF][\u001A?]" +
        "|[\u00F0-\u00F4][\u001A?][\u001A\u0080-\u00BF][\u001A\u0080-\u00BF]" +
        "|[\u00F0-\u00F4][\u001A\u0080-\u00BF][\u001A?][\u001A\u0080-\u00BF]" +
        "|[\u00F0-\u00F4][\u001A\u0080-\u00BF][\u001A\u0080-\u00BF][\u001A?]" +
        "|\u001A", RegexOptions.CultureInvariant);

    /// <summary>Bytes 0x81, 0x8D, 0x8F, 0x90, 0x9D have no character in strict Windows-1252.</summary>
    private static readonly int[] Windows1252Undefined = [0x81, 0x8D, 0x8F, 0x90, 0x9D];

    private static readonly Encoding StrictUtf8 = new UTF8Encoding(false, throwOnInvalidBytes: true);

    public static bool IsBad(string text) => Badness.IsMatch(text);

    /// <summary>ftfy's fix_encoding: one step at a time until nothing changes.</summary>
    public static string FixEncoding(string text)
    {
        while (true)
        {
            var fixedText = FixOneStep(text);
            if (fixedText == text) return text;
            text = fixedText;
        }
    }

    /// <summary>The C1 control characters U+0080–U+009F read as sloppy Windows-1252.</summary>
    public static string FixC1Controls(string text)
    {
        if (!HasC1(text)) return text;
        var chars = text.ToCharArray();
        for (int i = 0; i < chars.Length; i++)
            if (chars[i] is >= '\u0080' and <= '\u009F') chars[i] = SingleByteEncoding.SloppyWindows1252.Decode((byte)chars[i]);
        return new string(chars);
    }

    private static bool HasC1(string text) => text.AsSpan().IndexOfAnyInRange('\u0080', '\u009F') >= 0;

    private static string FixOneStep(string text)
    {
        if (text.Length == 0 || Ascii.IsValid(text) || !IsBad(text)) return text;
        bool latin1Possible = false;
        foreach (var encoding in SingleByteEncoding.MojibakeSources)
        {
            if (!encoding.CanEncode(text)) continue;
            if (encoding == SingleByteEncoding.Latin1) latin1Possible = true;
            var bytes = encoding.Encode(text);
            if (AlteredUtf8.IsMatch(AsChars(bytes))) bytes = RestoreByteA0(bytes);
            if (encoding.IsSloppy) bytes = ReplaceLossySequences(bytes);
            if (TryDecodeUtf8(bytes, variants: bytes.AsSpan().IndexOfAny((byte)0xED, (byte)0xC0) >= 0) is { } decoded) return decoded;
        }
        if (Utf8Detector.IsMatch(text))
        {
            var fixedText = DecodeInconsistentUtf8(text);
            if (fixedText != text) return fixedText;
        }
        // Latin-1 that has C1 controls was most likely meant as Windows-1252 (when all its bytes are defined there).
        if (latin1Possible && !text.Any(c => Windows1252Undefined.Contains(c)))
        {
            var fixedText = new string(text.Select(c => SingleByteEncoding.SloppyWindows1252.Decode((byte)c)).ToArray());
            if (fixedText != text) return fixedText;
        }
        return HasC1(text) ? FixC1Controls(text) : text;
    }

    /// <summary>Mojibake runs inside a longer text, each fixed on its own when it looks bad.</summary>
    private static string DecodeInconsistentUtf8(string text) =>
        Utf8Detector.Replace(text, m => m.Value.Length < text.Length && IsBad(m.Value) ? FixEncoding(m.Value) : m.Value);

    /// <summary>UTF-8 whose 0xA0 bytes became spaces (a Windows-1252 program's "non-breaking space" fix).</summary>
    private static byte[] RestoreByteA0(byte[] bytes)
    {
        var text = AGraveWord.Replace(AsChars(bytes), "\u00C3\u00A0 ");
        return AsBytes(AlteredUtf8.Replace(text, m => m.Value.Replace(' ', '\u00A0')));
    }

    /// <summary>UTF-8 sequences that lost a byte (shown as 0x1A or '?') become U+FFFD.</summary>
    private static byte[] ReplaceLossySequences(byte[] bytes) =>
        AsBytes(LossyUtf8.Replace(AsChars(bytes), "\u00EF\u00BF\u00BD"));

    /// <summary>
    /// Strict UTF-8; with <paramref name="variants"/> also CESU-8 surrogate pairs and Java's 0xC0 0x80 for
    /// U+0000 (ftfy's utf-8-variants). Null when the bytes are not valid.
    /// </summary>
    private static string? TryDecodeUtf8(byte[] bytes, bool variants)
    {
        try
        {
            if (!variants) return StrictUtf8.GetString(bytes);
            var text = new StringBuilder();
            int start = 0;
            for (int i = 0; i < bytes.Length;)
            {
                int special = 0;
                string? replacement = null;
                if (bytes[i] == 0xC0 && i + 1 < bytes.Length && bytes[i + 1] == 0x80) (special, replacement) = (2, "\0");
                else if (IsCesu8Pair(bytes, i)) (special, replacement) = (6, Cesu8Pair(bytes, i));
                if (special == 0)
                {
                    i++;
                    continue;
                }
                text.Append(StrictUtf8.GetString(bytes, start, i - start)).Append(replacement);
                i += special;
                start = i;
            }
            return text.Append(StrictUtf8.GetString(bytes, start, bytes.Length - start)).ToString();
        }
        catch (DecoderFallbackException)
        {
            return null;
        }
    }

    private static bool IsCesu8Pair(byte[] b, int i) =>
        i + 6 <= b.Length && b[i] == 0xED && b[i + 1] is >= 0xA0 and <= 0xAF && b[i + 2] is >= 0x80 and <= 0xBF
        && b[i + 3] == 0xED && b[i + 4] is >= 0xB0 and <= 0xBF && b[i + 5] is >= 0x80 and <= 0xBF;

    private static string Cesu8Pair(byte[] b, int i)
    {
        int high = 0xD000 | ((b[i + 1] & 0x3F) << 6) | (b[i + 2] & 0x3F);
        int low = 0xD000 | ((b[i + 4] & 0x3F) << 6) | (b[i + 5] & 0x3F);
        return new string([(char)high, (char)low]);
    }

    private static string AsChars(byte[] bytes) => Encoding.Latin1.GetString(bytes);

    private static byte[] AsBytes(string chars) => Encoding.Latin1.GetBytes(chars);
}

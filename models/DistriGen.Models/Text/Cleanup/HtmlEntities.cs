using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace DistriGen.Models.Text.Cleanup;

/// <summary>
/// ftfy's unescape_html: "&amp;name;" for every HTML5 entity that ends in ';' (plus upper-case spellings
/// of the lower-case ones that are not entities themselves, e.g. "&amp;EACUTE;"), and numeric references
/// as Python's html.unescape reads them. Anything else stays as written.
/// </summary>
internal static class HtmlEntities
{
    private static readonly Regex Entity = new("&#?[0-9A-Za-z]{1,24};", RegexOptions.CultureInvariant);
    private static readonly Lazy<Dictionary<string, string>> Named = new(LoadNamed);

    public static string Unescape(string text) =>
        text.Contains('&') ? Entity.Replace(text, m => Replace(m.Value)) : text;

    private static string Replace(string entity)
    {
        if (Named.Value.TryGetValue(entity, out var named)) return named;
        if (!entity.StartsWith("&#", StringComparison.Ordinal)) return entity;
        var unescaped = NumericReference(entity);
        return unescaped.Contains(';') ? entity : unescaped;
    }

    /// <summary>
    /// html.unescape on "&amp;#…;": the longest run of digits (hex after 'x') is the code point, what follows
    /// it stays; C1 numbers mean Windows-1252, invalid ones U+FFFD, non-characters nothing.
    /// </summary>
    private static string NumericReference(string entity)
    {
        bool hex = entity.Length > 2 && entity[2] is 'x' or 'X';
        int start = hex ? 3 : 2, end = start;
        while (end < entity.Length && (hex ? char.IsAsciiHexDigit(entity[end]) : char.IsAsciiDigit(entity[end]))) end++;
        if (end == start) return entity;
        var digits = entity[start..end];
        var rest = entity[end..];
        if (rest.StartsWith(';')) rest = rest[1..];
        bool parsed = hex
            ? long.TryParse(digits.Length > 15 ? "FFFFFFFFFFFFFFF" : digits, NumberStyles.HexNumber, CultureInfo.InvariantCulture, out long number)
            : long.TryParse(digits.Length > 18 ? "999999999999999999" : digits, NumberStyles.None, CultureInfo.InvariantCulture, out number);
        if (!parsed) return entity;
        return CodePoint(number) + rest;
    }

    private static string CodePoint(long n)
    {
        if (n == 0) return "\uFFFD";
        if (n == 0x0D) return "\r";
        if (n is >= 0x80 and <= 0x9F) return SingleByteEncoding.SloppyWindows1252.Decode((byte)n).ToString();
        if (n is >= 0xD800 and <= 0xDFFF || n > 0x10FFFF) return "\uFFFD";
        if (n is >= 0x01 and <= 0x08 or 0x0B or >= 0x0E and <= 0x1F or 0x7F or >= 0xFDD0 and <= 0xFDEF || (n & 0xFFFE) == 0xFFFE) return "";
        return char.ConvertFromUtf32((int)n);
    }

    /// <summary>The table, as "&amp;name;" TAB code points in hex (generated from Python's html.entities.html5 by ftfy's rule).</summary>
    private static Dictionary<string, string> LoadNamed()
    {
        using var stream = typeof(HtmlEntities).Assembly.GetManifestResourceStream("DistriGen.Models.Text.Cleanup.HtmlEntities.txt")
            ?? throw new InvalidOperationException("The HTML entity table is missing from the assembly.");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var table = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.ReadLine() is { } line)
        {
            var tab = line.IndexOf('\t');
            if (tab < 0) continue;
            var value = new StringBuilder();
            foreach (var hexCode in line[(tab + 1)..].Split(' '))
                value.Append(char.ConvertFromUtf32(int.Parse(hexCode, NumberStyles.HexNumber, CultureInfo.InvariantCulture)));
            table[line[..tab]] = value.ToString();
        }
        return table;
    }
}

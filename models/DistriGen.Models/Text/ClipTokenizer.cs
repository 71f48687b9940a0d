using System.Text;
using System.Text.Json;

namespace DistriGen.Models.Text;

/// <summary>A prompt as token ids of the model's length, and the text dropped to fit it (null when nothing was).</summary>
public sealed record TokenizedPrompt(int[] Ids, string? Dropped);

/// <summary>
/// The slow CLIPTokenizer of transformers 4.34, which the diffusers pipelines load, read from a
/// tokenizer/ folder (vocab.json, merges.txt, special_tokens_map.json, tokenizer_config.json) and
/// reproduced id for id: special tokens (start, end and the pad token) split out first by exact match;
/// each piece between them cleaned as ftfy's fix_text does for prompts, whitespace collapsed and
/// lower-cased with Python's full mapping; split by CLIP's pattern (letter runs, single digits, runs of
/// other symbols, English contractions); byte-level BPE with "&lt;/w&gt;" ending each word.
/// </summary>
public sealed class ClipTokenizer
{
    private const string EndOfWord = "</w>";
    private static readonly string[] ByteToUnicode = BuildByteMap();
    private static readonly Dictionary<char, byte> UnicodeToByte = Enumerable.Range(0, 256).ToDictionary(b => ByteToUnicode[b][0], b => (byte)b);

    private readonly Dictionary<string, int> _vocab;
    private readonly string[] _tokens;
    private readonly Dictionary<(string, string), int> _ranks;
    private readonly string[] _specials;
    private readonly Dictionary<string, string> _cache = new(StringComparer.Ordinal);

    private ClipTokenizer(string directory, Dictionary<string, int> vocab, Dictionary<(string, string), int> ranks, string bos, string eos, string unk, string pad, int maxLength)
    {
        Directory = directory;
        _vocab = vocab;
        _ranks = ranks;
        _tokens = new string[vocab.Values.Max() + 1];
        foreach (var (token, id) in vocab) _tokens[id] = token;
        BosId = Id(bos, "bos_token");
        EosId = Id(eos, "eos_token");
        UnkId = Id(unk, "unk_token");
        PadId = Id(pad, "pad_token");
        MaxLength = maxLength;
        // Longest first, so that a special token never loses to a shorter one it contains.
        _specials = new[] { bos, eos, unk, pad }.Distinct().OrderByDescending(s => s.Length).ToArray();
        // CLIP's own bpe() keeps the start and end tokens whole, even when they appear in ordinary text.
        _cache[bos] = bos;
        _cache[eos] = eos;
    }

    public string Directory { get; }
    public int BosId { get; }
    public int EosId { get; }
    public int UnkId { get; }
    public int PadId { get; }

    /// <summary>model_max_length: ids are cut to this length (with the end token last) and padded to it.</summary>
    public int MaxLength { get; }

    public int VocabularySize => _tokens.Length;

    /// <summary>tokenizer(text, padding="max_length", max_length=MaxLength, truncation=True).</summary>
    public TokenizedPrompt Encode(string text)
    {
        var content = Tokenize(text);
        int room = MaxLength - 2;
        string? dropped = content.Count > room ? Decode(content.Skip(room)) : null;
        var ids = new int[MaxLength];
        Array.Fill(ids, PadId);
        ids[0] = BosId;
        int n = Math.Min(room, content.Count);
        for (int i = 0; i < n; i++) ids[1 + i] = content[i];
        ids[1 + n] = EosId;
        return new TokenizedPrompt(ids, dropped);
    }

    /// <summary>The ids of <paramref name="text"/> without start and end tokens, not truncated.</summary>
    public List<int> Tokenize(string text)
    {
        var ids = new List<int>();
        foreach (var (piece, special) in SplitSpecial(text))
        {
            if (special)
            {
                ids.Add(_vocab[piece]);
                continue;
            }
            var cleaned = PromptText.Clean(piece);
            foreach (var word in PromptText.SplitWords(cleaned))
            {
                var encoded = string.Concat(Encoding.UTF8.GetBytes(word).Select(b => ByteToUnicode[b]));
                foreach (var symbol in Bpe(encoded).Split(' '))
                    ids.Add(_vocab.TryGetValue(symbol, out var id) ? id : UnkId);
            }
        }
        return ids;
    }

    /// <summary>Ids back to text, as transformers decodes them (for messages).</summary>
    public string Decode(IEnumerable<int> ids)
    {
        var symbols = string.Concat(ids.Select(id => (uint)id < (uint)_tokens.Length ? _tokens[id] ?? "" : ""));
        var bytes = new List<byte>();
        var text = new StringBuilder();
        foreach (var c in symbols)
        {
            if (UnicodeToByte.TryGetValue(c, out var b)) bytes.Add(b);
            else
            {
                text.Append(Encoding.UTF8.GetString(bytes.ToArray()));
                bytes.Clear();
                text.Append(c);
            }
        }
        text.Append(Encoding.UTF8.GetString(bytes.ToArray()));
        var decoded = text.ToString().Replace(EndOfWord, " ").Trim();
        // transformers 4.34's clean_up_tokenization.
        foreach (var (from, to) in new[] { (" .", "."), (" ?", "?"), (" !", "!"), (" ,", ","), (" ' ", "'"), (" n't", "n't"), (" 'm", "'m"), (" 's", "'s"), (" 've", "'ve"), (" 're", "'re") })
            decoded = decoded.Replace(from, to, StringComparison.Ordinal);
        return decoded;
    }

    /// <summary>Splits out special tokens by exact, case-sensitive match, leftmost first.</summary>
    private IEnumerable<(string Piece, bool Special)> SplitSpecial(string text)
    {
        int start = 0;
        for (int i = 0; i < text.Length;)
        {
            string? match = null;
            foreach (var s in _specials)
                if (string.CompareOrdinal(text, i, s, 0, s.Length) == 0) { match = s; break; }
            if (match is null)
            {
                i++;
                continue;
            }
            if (i > start) yield return (text[start..i], false);
            yield return (match, true);
            i += match.Length;
            start = i;
        }
        if (start < text.Length) yield return (text[start..], false);
    }

    /// <summary>CLIP's bpe(): merge the adjacent pair of lowest rank until none is in the merges; "&lt;/w&gt;" ends the word.</summary>
    private string Bpe(string token)
    {
        if (_cache.TryGetValue(token, out var cached)) return cached;
        var word = new List<string>();
        // Symbols are UTF-16 code units of the byte-mapped string (every one is a single char below U+0200).
        foreach (var c in token) word.Add(c.ToString());
        word[^1] += EndOfWord;
        while (word.Count > 1)
        {
            int best = int.MaxValue, at = -1;
            for (int i = 0; i + 1 < word.Count; i++)
                if (_ranks.TryGetValue((word[i], word[i + 1]), out var rank) && rank < best) (best, at) = (rank, i);
            if (at < 0) break;
            var (first, second) = (word[at], word[at + 1]);
            var merged = new List<string>(word.Count);
            for (int i = 0; i < word.Count; i++)
            {
                if (i + 1 < word.Count && word[i] == first && word[i + 1] == second)
                {
                    merged.Add(first + second);
                    i++;
                }
                else merged.Add(word[i]);
            }
            word = merged;
        }
        var result = string.Join(' ', word);
        if (_cache.Count < 100_000) _cache[token] = result;
        return result;
    }

    private int Id(string token, string role) =>
        _vocab.TryGetValue(token, out var id) ? id : throw new InvalidDataException($"{Path.Combine(Directory, "vocab.json")}: the {role} '{token}' is not in the vocabulary.");

    /// <summary>GPT-2's bytes_to_unicode: printable bytes map to themselves, the other 68 to U+0100 onwards in byte order.</summary>
    private static string[] BuildByteMap()
    {
        var map = new string[256];
        int next = 256;
        for (int b = 0; b < 256; b++)
        {
            bool printable = b is >= '!' and <= '~' or >= 0xA1 and <= 0xAC or >= 0xAE and <= 0xFF;
            map[b] = ((char)(printable ? b : next++)).ToString();
        }
        return map;
    }

    /// <summary>Loads a diffusers tokenizer/ folder; a malformed file is an error naming it (and the line, for merges.txt).</summary>
    public static ClipTokenizer Load(string directory)
    {
        if (!System.IO.Directory.Exists(directory)) throw new DirectoryNotFoundException($"No tokenizer folder at {directory}.");
        var vocabPath = Path.Combine(directory, "vocab.json");
        var mergesPath = Path.Combine(directory, "merges.txt");
        var vocab = ReadVocabulary(vocabPath);
        var ranks = ReadMerges(mergesPath);
        var specials = ReadJsonObject(Path.Combine(directory, "special_tokens_map.json"), optional: true);
        var config = ReadJsonObject(Path.Combine(directory, "tokenizer_config.json"), optional: true);
        string Token(string key, string fallback) =>
            TokenText(specials, key) ?? TokenText(config, key) ?? fallback;
        int maxLength = config.TryGetValue("model_max_length", out var m) && m.ValueKind == JsonValueKind.Number && m.TryGetInt32(out var ml) && ml is > 2 and < 100_000
            ? ml : 77;
        var eos = Token("eos_token", "<|endoftext|>");
        return new ClipTokenizer(directory, vocab, ranks, Token("bos_token", "<|startoftext|>"), eos, Token("unk_token", eos), Token("pad_token", eos), maxLength);
    }

    private static string? TokenText(Dictionary<string, JsonElement> json, string key)
    {
        if (!json.TryGetValue(key, out var value)) return null;
        return value.ValueKind switch
        {
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Object when value.TryGetProperty("content", out var content) && content.ValueKind == JsonValueKind.String => content.GetString(),
            _ => null,
        };
    }

    private static Dictionary<string, JsonElement> ReadJsonObject(string path, bool optional)
    {
        if (!File.Exists(path))
            return optional ? [] : throw new FileNotFoundException($"No {Path.GetFileName(path)} at {path}.", path);
        try
        {
            using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
            if (doc.RootElement.ValueKind != JsonValueKind.Object) throw new InvalidDataException($"{path}: expected a JSON object.");
            return doc.RootElement.EnumerateObject().ToDictionary(p => p.Name, p => p.Value.Clone());
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not valid JSON at line {e.LineNumber + 1} ({e.Message}).", e);
        }
    }

    private static Dictionary<string, int> ReadVocabulary(string path)
    {
        var json = ReadJsonObject(path, optional: false);
        var vocab = new Dictionary<string, int>(json.Count, StringComparer.Ordinal);
        foreach (var (token, value) in json)
        {
            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var id) || id < 0 || id > 10_000_000)
                throw new InvalidDataException($"{path}: the id of token '{token}' is {value}, not a non-negative integer.");
            vocab[token] = id;
        }
        if (vocab.Count == 0) throw new InvalidDataException($"{path}: the vocabulary is empty.");
        var byteSymbols = ByteToUnicode.Where(s => !vocab.ContainsKey(s)).ToList();
        if (byteSymbols.Count > 0)
            throw new InvalidDataException($"{path}: not a byte-level BPE vocabulary: {byteSymbols.Count} of the 256 byte symbols are missing (e.g. '{byteSymbols[0]}').");
        return vocab;
    }

    /// <summary>
    /// merges.txt as transformers reads it: the file stripped, its first line (the version) skipped, at
    /// most 49152 − 256 − 2 merges after it, each "left right"; rank = position.
    /// </summary>
    private static Dictionary<(string, string), int> ReadMerges(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"No merges.txt at {path}.", path);
        var lines = File.ReadAllText(path).Trim().Split('\n');
        var ranks = new Dictionary<(string, string), int>();
        int count = Math.Min(lines.Length - 1, 49152 - 256 - 2);
        for (int i = 0; i < count; i++)
        {
            var parts = lines[1 + i].Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length != 2)
                throw new InvalidDataException($"{path}, line {i + 2}: expected two symbols separated by a space, got \"{lines[1 + i].TrimEnd('\r')}\".");
            ranks.TryAdd((parts[0], parts[1]), i);
        }
        return ranks;
    }
}

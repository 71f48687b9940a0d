using System.Text.Json;
using DistriGen.Tensors;
using DistriGen.Tensors.IO;
using DistriGen.Tensors.Nn;
using DistriGen.Tensors.Ops;

namespace DistriGen.Models.Text;

/// <summary>
/// The token-embedding text encoder of small models such as the built-in "shapes" model:
/// encoder_hidden_states[b, i] = token_embedding[ids[b, i]] + position_embedding[i].
/// </summary>
public sealed class TokenEmbeddingTextEncoder : Module
{
    public TokenEmbeddingTextEncoder(int vocabSize, int hiddenSize, int maxLength)
    {
        TokenEmbedding = new Embedding(vocabSize, hiddenSize);
        PositionEmbedding = new Embedding(maxLength, hiddenSize);
    }

    public Embedding TokenEmbedding { get; }
    public Embedding PositionEmbedding { get; }

    public int MaxLength => PositionEmbedding.Rows;
    public int HiddenSize => TokenEmbedding.Dim;

    public override IEnumerable<(string Name, Module? Module)> Children()
    {
        yield return ("token_embedding", TokenEmbedding);
        yield return ("position_embedding", PositionEmbedding);
    }

    /// <summary>(B, max_length, hidden) for token ids (B, max_length).</summary>
    public Tensor Encode(IReadOnlyList<int[]> ids)
    {
        int n = MaxLength;
        if (ids.Any(s => s.Length != n)) throw new ArgumentException($"Token ids must have length {n}.");
        var output = TokenEmbedding.Forward(ids.SelectMany(s => s).ToArray(), ids.Count, n);
        return Ops.AddTrailingInPlace(output, PositionEmbedding.Weight);
    }

    /// <summary>Loads text_encoder/ (config.json with kind "token_embedding", model.safetensors).</summary>
    public static TokenEmbeddingTextEncoder Load(string directory)
    {
        var configPath = Path.Combine(directory, "config.json");
        var r = ConfigReader.FromFile(configPath);
        r.Require("kind", "token_embedding");
        var encoder = new TokenEmbeddingTextEncoder(r.Int("vocab_size"), r.Int("hidden_size"), r.Int("max_length"));
        r.OptionalString("pad_token");
        r.OptionalString("unconditional");
        r.RejectUnknown();
        using var weights = Checkpoint.OpenFolder(directory, "model");
        encoder.LoadStateDict(weights);
        return encoder;
    }

    /// <summary>Whether a text_encoder/config.json describes this kind of encoder.</summary>
    public static bool Describes(string configPath) =>
        File.Exists(configPath) && File.ReadAllText(configPath).Contains("\"token_embedding\"", StringComparison.Ordinal);
}

/// <summary>
/// The text side of models with a <see cref="TokenEmbeddingTextEncoder"/>: the caption through the word
/// tokenizer; the negative side is the negative prompt, or the empty caption (all padding).
/// </summary>
public sealed class TokenEmbeddingPromptEncoder(TokenEmbeddingTextEncoder encoder, WordTokenizer tokenizer, string source) : IPromptEncoder
{
    public int EmbeddingDim => encoder.HiddenSize;
    public int? PooledDim => null;
    public string Source => source;

    public PromptEmbeddings Encode(PromptRequest request)
    {
        if (request.ClipSkip is > 0) throw new ArgumentException($"--clip-skip applies to CLIP text encoders; the model in {source} has a token-embedding encoder.");
        var ids = tokenizer.Encode(request.Prompt, encoder.MaxLength);
        var negative = tokenizer.Encode(request.NegativePrompt ?? "", encoder.MaxLength);
        return new PromptEmbeddings(encoder.Encode([ids]).Keep(), encoder.Encode([negative]).Keep(), null, null, [ids], [negative]);
    }

    public static TokenEmbeddingPromptEncoder Load(string modelDirectory) => new(
        TokenEmbeddingTextEncoder.Load(Path.Combine(modelDirectory, "text_encoder")),
        WordTokenizer.Load(Path.Combine(modelDirectory, "tokenizer")),
        modelDirectory);
}

/// <summary>
/// The word tokenizer of the token-embedding encoder: lower-case, split on spaces, map each word,
/// pad with the pad token (id 0) or cut to the encoder's length. An unknown word is an error that
/// lists the words the model knows.
/// </summary>
public sealed class WordTokenizer
{
    private readonly Dictionary<string, int> _vocab;

    public WordTokenizer(IReadOnlyDictionary<string, int> vocab, string padToken = "<pad>")
    {
        _vocab = new Dictionary<string, int>(vocab, StringComparer.Ordinal);
        if (!_vocab.TryGetValue(padToken, out var pad)) throw new ArgumentException($"The vocabulary has no pad token '{padToken}'.");
        PadId = pad;
    }

    public int PadId { get; }

    public IEnumerable<string> Words => _vocab.Where(kv => kv.Value != PadId).OrderBy(kv => kv.Value).Select(kv => kv.Key);

    public static WordTokenizer Load(string directory)
    {
        var path = Path.Combine(directory, "vocab.json");
        if (!File.Exists(path)) throw new FileNotFoundException($"No vocabulary at {path}.", path);
        try
        {
            return new WordTokenizer(JsonSerializer.Deserialize<Dictionary<string, int>>(File.ReadAllText(path)) ?? []);
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{path}: not a JSON object of word → id ({e.Message}).", e);
        }
    }

    public int[] Encode(string caption, int length)
    {
        var words = caption.ToLowerInvariant().Split(' ', StringSplitOptions.RemoveEmptyEntries);
        var unknown = words.Where(w => !_vocab.ContainsKey(w)).Distinct().ToList();
        if (unknown.Count > 0)
            throw new ArgumentException($"The model does not know the word{(unknown.Count > 1 ? "s" : "")} {string.Join(", ", unknown.Select(u => $"'{u}'"))}. It knows: {string.Join(" ", Words)}.");
        var ids = Enumerable.Repeat(PadId, length).ToArray();
        for (int i = 0; i < Math.Min(length, words.Length); i++) ids[i] = _vocab[words[i]];
        return ids;
    }
}

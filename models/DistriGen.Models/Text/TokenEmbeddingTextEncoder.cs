using System.Text.Json;
using DistriGen.Runtime;
using DistriGen.Tensors;
using DistriGen.Tensors.IO;
using DistriGen.Tensors.Nn;

namespace DistriGen.Models;

/// <summary>A lookup table (parameter "weight", (rows, dim)).</summary>
[PatchParallel]
public sealed partial class Embedding : Module
{
    public Embedding(int rows, int dim) => Weight = Tensor.Parameter(rows, dim);

    public Tensor Weight { get; }
}

/// <summary>
/// The token-embedding text encoder of small models such as the built-in "shapes" model:
/// encoder_hidden_states[b, i] = token_embedding[ids[b, i]] + position_embedding[i].
/// </summary>
[PatchParallel]
public sealed partial class TokenEmbeddingTextEncoder : Module
{
    public TokenEmbeddingTextEncoder(int vocabSize, int hiddenSize, int maxLength)
    {
        TokenEmbedding = new Embedding(vocabSize, hiddenSize);
        PositionEmbedding = new Embedding(maxLength, hiddenSize);
    }

    public Embedding TokenEmbedding { get; }
    public Embedding PositionEmbedding { get; }

    public int MaxLength => PositionEmbedding.Weight.Dim(0);
    public int HiddenSize => TokenEmbedding.Weight.Dim(1);

    /// <summary>(B, max_length, hidden) for token ids (B, max_length).</summary>
    public Tensor Encode(IReadOnlyList<int[]> ids)
    {
        int n = MaxLength, d = HiddenSize;
        var output = Tensor.Empty(ids.Count, n, d);
        var tokens = TokenEmbedding.Weight.Span;
        var positions = PositionEmbedding.Weight.Span;
        for (int b = 0; b < ids.Count; b++)
        {
            if (ids[b].Length != n) throw new ArgumentException($"Token ids must have length {n}, got {ids[b].Length}.");
            for (int i = 0; i < n; i++)
            {
                int id = ids[b][i];
                if ((uint)id >= (uint)TokenEmbedding.Weight.Dim(0)) throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is outside the vocabulary of {TokenEmbedding.Weight.Dim(0)}.");
                System.Numerics.Tensors.TensorPrimitives.Add(tokens.Slice(id * d, d), positions.Slice(i * d, d), output.Span.Slice((b * n + i) * d, d));
            }
        }
        return output;
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

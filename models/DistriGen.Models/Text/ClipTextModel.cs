using DistriGen.Tensors;
using DistriGen.Tensors.IO;
using DistriGen.Tensors.Nn;
using DistriGen.Tensors.Ops;

namespace DistriGen.Models.Text;

/// <summary>What a CLIP text encoder gives for a batch of token ids.</summary>
/// <param name="LastHiddenState">final_layer_norm of the last layer's output (B, N, H).</param>
/// <param name="HiddenStates">The embeddings and every layer's output, without the final LayerNorm (L + 1 entries).</param>
/// <param name="Pooled">last_hidden_state at the pooling position (B, H).</param>
/// <param name="TextEmbeds">Pooled · text_projectionᵀ (B, P) for CLIPTextModelWithProjection, else null.</param>
public sealed record ClipTextOutput(Tensor LastHiddenState, IReadOnlyList<Tensor> HiddenStates, Tensor Pooled, Tensor? TextEmbeds) : IDisposable
{
    public void Dispose()
    {
        LastHiddenState.Dispose();
        foreach (var h in HiddenStates) h.Dispose();
        Pooled.Dispose();
        TextEmbeds?.Dispose();
    }
}

/// <summary>
/// transformers' CLIPTextModel and CLIPTextModelWithProjection with their state-dict names
/// (text_model.embeddings…, text_model.encoder.layers.i…, text_model.final_layer_norm, text_projection):
/// token plus position embeddings, pre-LayerNorm layers with causal self-attention (no padding mask, as
/// the Stable Diffusion pipelines call it), the final LayerNorm, pooling at the end-of-text token.
/// </summary>
public sealed class ClipTextModel : Module
{
    public ClipTextModel(ClipTextConfig config)
    {
        Config = config;
        TokenEmbedding = new Embedding(config.VocabSize, config.HiddenSize);
        PositionEmbedding = new Embedding(config.MaxPositions, config.HiddenSize);
        Layers = new ModuleList<ClipEncoderLayer>(Enumerable.Range(0, config.Layers).Select(_ => new ClipEncoderLayer(config)));
        FinalLayerNorm = new LayerNorm(config.HiddenSize, config.LayerNormEps);
        TextProjection = config.ProjectionDim is { } p ? new Linear(config.HiddenSize, p, bias: false) : null;
    }

    public ClipTextConfig Config { get; }
    public Embedding TokenEmbedding { get; }
    public Embedding PositionEmbedding { get; }
    public ModuleList<ClipEncoderLayer> Layers { get; }
    public LayerNorm FinalLayerNorm { get; }
    public Linear? TextProjection { get; }

    /// <summary>Buffers that older transformers versions saved and inference does not use.</summary>
    public static readonly string[] IgnoredKeys = ["text_model.embeddings.position_ids"];

    public override IEnumerable<(string Name, Module? Module)> Children()
    {
        yield return ("text_model.embeddings.token_embedding", TokenEmbedding);
        yield return ("text_model.embeddings.position_embedding", PositionEmbedding);
        yield return ("text_model.encoder.layers", Layers);
        yield return ("text_model.final_layer_norm", FinalLayerNorm);
        yield return ("text_projection", TextProjection);
    }

    /// <summary>Loads text_encoder/ (config.json and model.safetensors, F32/F16/BF16, one file or sharded).</summary>
    public static ClipTextModel Load(string directory)
    {
        var model = new ClipTextModel(ClipTextConfig.Load(Path.Combine(directory, "config.json")));
        using var weights = Checkpoint.OpenFolder(directory, "model");
        model.LoadStateDict(weights, IgnoredKeys);
        return model;
    }

    /// <summary>Encodes <paramref name="ids"/> (each of the same length, at most max_position_embeddings).</summary>
    public ClipTextOutput Forward(IReadOnlyList<int[]> ids)
    {
        int batch = ids.Count, length = ids[0].Length;
        if (ids.Any(s => s.Length != length) || length > Config.MaxPositions)
            throw new ArgumentException($"Token id sequences must share one length of at most {Config.MaxPositions}.");
        var flat = ids.SelectMany(s => s).ToArray();
        var h = Ops.Embedding(TokenEmbedding.Weight, flat, batch, length);
        using (var positions = Ops.Embedding(PositionEmbedding.Weight, Enumerable.Range(0, length).ToArray(), 1, length))
        using (var perToken = positions.Reshape(length, Config.HiddenSize))
            Ops.AddTrailingInPlace(h, perToken);
        var hidden = new List<Tensor> { h };
        foreach (var layer in Layers)
        {
            h = layer.Forward(h);
            hidden.Add(h);
        }
        var last = FinalLayerNorm.Forward(h);
        var pooled = Ops.SelectTokens(last, ids.Select(PoolingPosition).ToArray());
        var embeds = TextProjection?.Forward(pooled);
        return new ClipTextOutput(last, hidden, pooled, embeds);
    }

    /// <summary>
    /// Where transformers pools: the highest id (the end-of-text token in CLIP's vocabulary) for legacy
    /// configs with eos_token_id 2, as every Stable Diffusion checkpoint has; else the first eos token.
    /// </summary>
    public int PoolingPosition(int[] ids)
    {
        if (Config.EosTokenId == 2)
        {
            int best = 0;
            for (int i = 1; i < ids.Length; i++) if (ids[i] > ids[best]) best = i;
            return best;
        }
        int eos = Array.IndexOf(ids, Config.EosTokenId);
        return eos < 0 ? 0 : eos;
    }
}

/// <summary>One pre-LayerNorm transformer layer: x + attn(LN1(x)), then + mlp(LN2(x)).</summary>
public sealed class ClipEncoderLayer : Module
{
    public ClipEncoderLayer(ClipTextConfig config)
    {
        int h = config.HiddenSize;
        LayerNorm1 = new LayerNorm(h, config.LayerNormEps);
        SelfAttention = new ClipAttention(h, config.Heads);
        LayerNorm2 = new LayerNorm(h, config.LayerNormEps);
        Fc1 = new Linear(h, config.IntermediateSize);
        Fc2 = new Linear(config.IntermediateSize, h);
        QuickGelu = config.HiddenAct == "quick_gelu";
    }

    public LayerNorm LayerNorm1 { get; }
    public ClipAttention SelfAttention { get; }
    public LayerNorm LayerNorm2 { get; }
    public Linear Fc1 { get; }
    public Linear Fc2 { get; }
    public bool QuickGelu { get; }

    public override IEnumerable<(string Name, Module? Module)> Children()
    {
        yield return ("layer_norm1", LayerNorm1);
        yield return ("self_attn", SelfAttention);
        yield return ("layer_norm2", LayerNorm2);
        yield return ("mlp.fc1", Fc1);
        yield return ("mlp.fc2", Fc2);
    }

    /// <summary>A new tensor; <paramref name="x"/> is left as it is (the caller keeps every layer's output).</summary>
    public Tensor Forward(Tensor x)
    {
        Tensor h;
        using (var normed = LayerNorm1.Forward(x))
        using (var attended = SelfAttention.Forward(normed))
            h = Ops.Add(x, attended);
        using (var normed = LayerNorm2.Forward(h))
        using (var up = Fc1.Forward(normed))
        using (var activated = QuickGelu ? Ops.QuickGelu(up) : Ops.Gelu(up))
        using (var down = Fc2.Forward(activated))
            Ops.AddInPlace(h, down);
        return h;
    }
}

/// <summary>CLIP's causal multi-head self-attention (q_proj, k_proj, v_proj, out_proj, all with bias).</summary>
public sealed class ClipAttention : Module
{
    public ClipAttention(int dim, int heads)
    {
        Heads = heads;
        QProj = new Linear(dim, dim);
        KProj = new Linear(dim, dim);
        VProj = new Linear(dim, dim);
        OutProj = new Linear(dim, dim);
    }

    public int Heads { get; }
    public Linear QProj { get; }
    public Linear KProj { get; }
    public Linear VProj { get; }
    public Linear OutProj { get; }

    public override IEnumerable<(string Name, Module? Module)> Children()
    {
        yield return ("q_proj", QProj);
        yield return ("k_proj", KProj);
        yield return ("v_proj", VProj);
        yield return ("out_proj", OutProj);
    }

    public Tensor Forward(Tensor x)
    {
        using var q = QProj.Forward(x);
        using var k = KProj.Forward(x);
        using var v = VProj.Forward(x);
        using var mixed = Ops.Attention(q, k, v, Heads, causal: true);
        return OutProj.Forward(mixed);
    }
}

using DistriGen.Tensors;
using DistriGen.Tensors.Ops;

namespace DistriGen.Models.Text;

/// <summary>A CLIP tokenizer with the text encoder it feeds (tokenizer/ + text_encoder/, or the _2 pair).</summary>
public sealed record ClipTextTower(ClipTokenizer Tokenizer, ClipTextModel Encoder);

/// <summary>
/// diffusers 0.24's encode_prompt with CLIP text encoders, for one prompt and classifier-free guidance.
/// Stable Diffusion 1.x/2.x: the last hidden state of the one encoder (with clip_skip: the output of an
/// earlier layer through the final LayerNorm, for the prompt only); no negative prompt means "".
/// SDXL: the penultimate hidden states of every encoder, concatenated (clip_skip reaches further back), and
/// the projected pooled output of the last one; no negative prompt means zeros when the pipeline says
/// force_zeros_for_empty_prompt, else "".
/// </summary>
public sealed class ClipPromptEncoder : IPromptEncoder
{
    private readonly IReadOnlyList<ClipTextTower> _towers;
    private readonly bool _sdxl;
    private readonly bool _zerosForNoNegative;

    private ClipPromptEncoder(IReadOnlyList<ClipTextTower> towers, bool sdxl, bool zerosForNoNegative, string source)
    {
        _towers = towers;
        _sdxl = sdxl;
        _zerosForNoNegative = zerosForNoNegative;
        Source = source;
        if (sdxl && towers[^1].Encoder.TextProjection is null)
            throw new InvalidDataException($"{source}: the last SDXL text encoder must be a CLIPTextModelWithProjection (its pooled, projected output is SDXL's text_embeds).");
    }

    /// <summary>Stable Diffusion 1.x/2.x: one tokenizer and one CLIPTextModel.</summary>
    public static ClipPromptEncoder StableDiffusion(ClipTextTower tower, string source) => new([tower], false, false, source);

    /// <summary>SDXL: CLIP-L and OpenCLIP-bigG (or the refiner's bigG alone), the last with a projection.</summary>
    public static ClipPromptEncoder StableDiffusionXl(IReadOnlyList<ClipTextTower> towers, bool forceZerosForEmptyPrompt, string source) =>
        new(towers, true, forceZerosForEmptyPrompt, source);

    public IReadOnlyList<ClipTextTower> Towers => _towers;
    public bool IsSdxl => _sdxl;
    public string Source { get; }
    public int EmbeddingDim => _towers.Sum(t => t.Encoder.Config.HiddenSize);
    public int? PooledDim => _sdxl ? _towers[^1].Encoder.Config.ProjectionDim : null;

    public PromptEmbeddings Encode(PromptRequest request)
    {
        int skip = request.ClipSkip ?? 0;
        int layers = _towers.Min(t => t.Encoder.Config.Layers);
        int reach = _sdxl ? skip + 1 : skip;
        if (skip < 0 || reach >= layers + 1)
            throw new ArgumentOutOfRangeException(nameof(request), skip, $"--clip-skip {skip} reaches past the first layer of a text encoder with {layers} layers.");
        var warnings = new List<string>();
        var (embeds, pooled, ids) = EncodeText(request.Prompt, skip, warnings);
        Tensor negative;
        Tensor? negativePooled;
        IReadOnlyList<int[]> negativeIds;
        if (_sdxl && request.NegativePrompt is null && _zerosForNoNegative)
        {
            negative = Tensor.Zeros(embeds.Shape).Keep();
            negativePooled = Tensor.Zeros(pooled!.Shape).Keep();
            negativeIds = [];
        }
        else
        {
            // diffusers applies clip_skip to the prompt only, and reports truncation of the prompt only.
            (negative, negativePooled, negativeIds) = EncodeText(request.NegativePrompt ?? "", 0, null);
        }
        return new PromptEmbeddings(embeds, negative, pooled, negativePooled, ids, negativeIds) { Warnings = warnings.Distinct().ToList() };
    }

    private (Tensor Embeds, Tensor? Pooled, IReadOnlyList<int[]> Ids) EncodeText(string text, int skip, List<string>? warnings)
    {
        using var scope = new TensorScope();
        var parts = new List<Tensor>();
        var ids = new List<int[]>();
        Tensor? pooled = null;
        foreach (var (tokenizer, encoder) in _towers)
        {
            var tokens = tokenizer.Encode(text);
            if (tokens.Dropped is { } dropped)
                warnings?.Add($"The following part of the prompt was truncated because CLIP can only handle sequences up to {tokenizer.MaxLength} tokens: \"{dropped}\"");
            ids.Add(tokens.Ids);
            var output = encoder.Forward([tokens.Ids]);
            var hidden = output.HiddenStates;
            if (_sdxl)
            {
                parts.Add(hidden[hidden.Count - 2 - skip]);
                pooled = output.TextEmbeds;
            }
            else
            {
                parts.Add(skip == 0 ? output.LastHiddenState : encoder.FinalLayerNorm.Forward(hidden[hidden.Count - 1 - skip]));
            }
        }
        var embeds = parts.Count == 1 ? parts[0].Clone() : parts.Skip(1).Aggregate(parts[0], Ops.ConcatColumns);
        return (embeds.Keep(), pooled?.Clone().Keep(), ids);
    }
}

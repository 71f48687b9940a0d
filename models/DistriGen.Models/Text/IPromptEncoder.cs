using DistriGen.Models.Pipelines;
using DistriGen.Tensors;
using DistriGen.Tensors.Ops;

namespace DistriGen.Models.Text;

/// <summary>What to encode: the prompt, the negative prompt (null: the model's default), and CLIP skip.</summary>
/// <param name="ClipSkip">Layers skipped from the end of the text encoder, as diffusers' clip_skip (null or 0: none).</param>
public sealed record PromptRequest(string Prompt, string? NegativePrompt = null, int? ClipSkip = null);

/// <summary>
/// A model's text side: turns a prompt into the guidance batch the UNet is conditioned on (row 0 the
/// negative or unconditional side, row 1 the prompt), as diffusers' encode_prompt does.
/// </summary>
public interface IPromptEncoder
{
    /// <summary>The width of one token's embedding, which must match the UNet's cross_attention_dim.</summary>
    int EmbeddingDim { get; }

    /// <summary>The width of the pooled embedding (SDXL's text_embeds), or null when there is none.</summary>
    int? PooledDim { get; }

    /// <summary>Where the encoder was loaded from, for messages.</summary>
    string Source { get; }

    PromptEmbeddings Encode(PromptRequest request);
}

/// <summary>
/// encode_prompt's outputs for one prompt: (1, N, D) embeddings for prompt and negative prompt, the
/// pooled (1, P) ones for SDXL, and the token ids each tokenizer produced.
/// </summary>
public sealed record PromptEmbeddings(
    Tensor PromptEmbeds,
    Tensor NegativePromptEmbeds,
    Tensor? PooledPromptEmbeds,
    Tensor? NegativePooledPromptEmbeds,
    IReadOnlyList<int[]> InputIds,
    IReadOnlyList<int[]> NegativeInputIds) : IDisposable
{
    /// <summary>What the user should know, e.g. the part of a prompt beyond CLIP's 77 tokens that was dropped.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>The guidance batch: row 0 the negative side, row 1 the prompt (time ids follow from the image size).</summary>
    public Conditioning ToConditioning() => new(
        Ops.ConcatBatch([NegativePromptEmbeds, PromptEmbeds]).Keep(),
        PooledPromptEmbeds is null ? null : Ops.ConcatBatch([NegativePooledPromptEmbeds!, PooledPromptEmbeds]).Keep());

    public void Dispose()
    {
        PromptEmbeds.Dispose();
        NegativePromptEmbeds.Dispose();
        PooledPromptEmbeds?.Dispose();
        NegativePooledPromptEmbeds?.Dispose();
    }
}

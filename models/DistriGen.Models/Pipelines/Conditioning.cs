using DistriGen.Tensors;
using DistriGen.Tensors.IO;
using DistriGen.Tensors.Ops;

namespace DistriGen.Models.Pipelines;

/// <summary>
/// What the UNet is conditioned on, with the guidance batch in rows: row 0 unconditional, row 1
/// conditional (as diffusers' pipelines and the fixtures' inputs.safetensors). SDXL adds pooled text
/// embeddings and time ids.
/// </summary>
public sealed record Conditioning(Tensor EncoderHiddenStates, Tensor? TextEmbeds = null, Tensor? TimeIds = null)
{
    /// <summary>Reads encoder_hidden_states (and text_embeds, time_ids when present) from a safetensors file.</summary>
    public static Conditioning Load(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        if (!file.Contains("encoder_hidden_states"))
            throw new InvalidDataException($"{path}: no 'encoder_hidden_states' tensor (it has: {string.Join(", ", file.Keys)}).");
        var ehs = file.Read("encoder_hidden_states").Keep();
        var te = file.Contains("text_embeds") ? file.Read("text_embeds").Keep() : null;
        var ids = file.Contains("time_ids") ? file.Read("time_ids").Keep() : null;
        if (ehs.Rank != 3 || ehs.Dim(0) != 2)
            throw new InvalidDataException($"{path}: encoder_hidden_states must be (2, tokens, dim) with the unconditional row first; it is {Tensor.Format(ehs.Shape)}.");
        return new Conditioning(ehs, te, ids);
    }

    /// <summary>The given rows of the guidance batch.</summary>
    public Conditioning Rows(int start, int end) => new(
        Ops.SliceBatch(EncoderHiddenStates, start, end),
        TextEmbeds is null ? null : Ops.SliceBatch(TextEmbeds, start, end),
        TimeIds is null ? null : Ops.SliceBatch(TimeIds, start, end));
}

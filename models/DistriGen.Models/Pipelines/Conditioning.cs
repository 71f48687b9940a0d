using DistriGen.Tensors;
using DistriGen.Tensors.Devices;
using DistriGen.Tensors.IO;
using DistriGen.Tensors.Ops;

namespace DistriGen.Models.Pipelines;

/// <summary>
/// What the UNet is conditioned on, with the guidance batch in rows: row 0 unconditional, row 1
/// conditional (as diffusers' pipelines and the fixtures' inputs.safetensors). SDXL adds pooled text
/// embeddings and time ids.
/// </summary>
public sealed record Conditioning(Tensor EncoderHiddenStates, Tensor? TextEmbeds = null, Tensor? TimeIds = null) : IDisposable
{
    /// <summary>
    /// Reads the guidance batch from a safetensors file: encoder_hidden_states (2, N, D) with the
    /// unconditional row first (and text_embeds, time_ids for SDXL), or what encode-prompt writes
    /// (prompt_embeds and negative_prompt_embeds, and the pooled ones for SDXL).
    /// </summary>
    public static Conditioning Load(string path)
    {
        using var file = SafeTensorsFile.Open(path);
        if (!file.Contains("encoder_hidden_states") && file.Contains("prompt_embeds") && file.Contains("negative_prompt_embeds"))
        {
            using var scope = new TensorScope();
            Tensor Pair(string negative, string positive) => Ops.ConcatBatch([file.Read(negative), file.Read(positive)]).Keep();
            return new Conditioning(Pair("negative_prompt_embeds", "prompt_embeds"),
                file.Contains("pooled_prompt_embeds") ? Pair("negative_pooled_prompt_embeds", "pooled_prompt_embeds") : null);
        }
        if (!file.Contains("encoder_hidden_states"))
            throw new InvalidDataException($"{path}: neither 'encoder_hidden_states' nor 'prompt_embeds' with 'negative_prompt_embeds' (it has: {string.Join(", ", file.Keys)}).");
        var ehs = file.Read("encoder_hidden_states").Keep();
        var te = file.Contains("text_embeds") ? file.Read("text_embeds").Keep() : null;
        var ids = file.Contains("time_ids") ? file.Read("time_ids").Keep() : null;
        if (ehs.Rank != 3 || ehs.Dim(0) != 2)
            throw new InvalidDataException($"{path}: encoder_hidden_states must be (2, tokens, dim) with the unconditional row first; it is {Tensor.Format(ehs.Shape)}.");
        return new Conditioning(ehs, te, ids);
    }

    /// <summary>
    /// SDXL's add_time_ids as its pipeline computes them by default: original size, crop top-left (0, 0)
    /// and target size, all the image's (height, width) in pixels, the same for every row.
    /// </summary>
    public static Tensor SdxlTimeIds(int height, int width, int rows) =>
        Tensor.FromArray(Enumerable.Range(0, rows).SelectMany(_ => new float[] { height, width, 0, 0, height, width }).ToArray(), rows, 6).Keep();

    /// <summary>
    /// This conditioning when its tensors are on <paramref name="device"/>, else a copy there (the caller disposes it).
    /// </summary>
    public Conditioning To(Device device)
    {
        if (ReferenceEquals(EncoderHiddenStates.Device, device)) return this;
        Tensor? Copy(Tensor? t) => t is null ? null : Ops.To(t, device).Keep();
        return new Conditioning(Copy(EncoderHiddenStates)!, Copy(TextEmbeds), Copy(TimeIds));
    }

    /// <summary>Gives the tensors back.</summary>
    public void Dispose()
    {
        EncoderHiddenStates.Dispose();
        TextEmbeds?.Dispose();
        TimeIds?.Dispose();
    }

    /// <summary>The given rows of the guidance batch.</summary>
    public Conditioning Rows(int start, int end) => new(
        Ops.SliceBatch(EncoderHiddenStates, start, end),
        TextEmbeds is null ? null : Ops.SliceBatch(TextEmbeds, start, end),
        TimeIds is null ? null : Ops.SliceBatch(TimeIds, start, end));
}

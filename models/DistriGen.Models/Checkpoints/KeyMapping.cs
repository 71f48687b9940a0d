namespace DistriGen.Models.Checkpoints;

/// <summary>How a diffusers tensor is stored in an original-layout checkpoint.</summary>
public enum StoredAs
{
    /// <summary>The same values under another name.</summary>
    Same,
    /// <summary>
    /// A 1×1 convolution (out, in, 1, 1) for a linear weight (out, in): the VAE's mid-block attention.
    /// </summary>
    Conv1x1,
    /// <summary>The transpose: OpenCLIP's text_projection, applied as x · P.</summary>
    Transposed,
    /// <summary>A band of rows of a fused tensor: OpenCLIP's in_proj_weight/bias holds q, k and v stacked.</summary>
    Rows,
}

/// <summary>
/// Where one diffusers tensor is in an original-layout file: its key, and for <see cref="StoredAs.Rows"/> which rows.
/// </summary>
public sealed record KeyMapping(string Key, StoredAs Stored = StoredAs.Same, int FirstRow = 0, int RowCount = 0);

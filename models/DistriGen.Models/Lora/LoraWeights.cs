namespace DistriGen.Models.Lora;

/// <summary>Which part of a model a LoRA layer belongs to.</summary>
public enum LoraComponent
{
    Unet,
    TextEncoder,
    TextEncoder2,
}

/// <summary>
/// One LoRA layer: the low-rank pair for one Linear or Conv2d of a model, named by the file (kohya's
/// flattened name, or a diffusers module path), with kohya's alpha when the file has one.
/// </summary>
/// <param name="Down">(rank, in) or (rank, in, kh, kw).</param>
/// <param name="Up">(out, rank) or (out, rank, 1, 1).</param>
public sealed record LoraLayer(LoraComponent Component, string Name, bool IsModulePath, float[] Down, int[] DownShape, float[] Up, int[] UpShape, float? Alpha)
{
    public int Rank => DownShape[0];

    /// <summary>
    /// What ΔW = up · down is multiplied by at scale <paramref name="scale"/>: s · alpha / rank (1 without an alpha).
    /// </summary>
    public float Factor(float scale) => scale * (Alpha ?? Rank) / Rank;
}

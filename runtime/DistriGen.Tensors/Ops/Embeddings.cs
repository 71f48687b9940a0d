namespace DistriGen.Tensors.Ops;

public static partial class Ops
{
    /// <summary>
    /// Sinusoidal timestep embedding as diffusers' get_timestep_embedding: frequencies
    /// exp(−ln(maxPeriod)·i / (half − freqShift)), [sin, cos] (or [cos, sin] when flipped), computed in
    /// float32 like the reference.
    /// </summary>
    /// <summary>As the span overload, for a tensor of timesteps (any shape, flattened); meta in, meta out.</summary>
    public static Tensor TimestepEmbedding(Tensor timesteps, int dim, bool flipSinToCos, float freqShift) =>
        timesteps.IsMeta
            ? Tensor.Meta(timesteps.Length, dim)
            : TimestepEmbedding(timesteps.ToArray(), dim, flipSinToCos, freqShift);

    /// <remarks>Computed on the host (a few values per timestep); the result is on the current device.</remarks>
    public static Tensor TimestepEmbedding(ReadOnlySpan<float> timesteps, int dim, bool flipSinToCos, float freqShift,
        float scale = 1f, float maxPeriod = 10000f)
    {
        int half = dim / 2;
        if (TensorScope.MetaActive) return Tensor.Meta(timesteps.Length, dim);
        var ys = new float[timesteps.Length * dim];
        float logPeriod = MathF.Log(maxPeriod);
        for (int b = 0; b < timesteps.Length; b++)
        {
            for (int i = 0; i < half; i++)
            {
                float exponent = -logPeriod * i / (half - freqShift);
                float arg = scale * (timesteps[b] * MathF.Exp(exponent));
                float s = MathF.Sin(arg), c = MathF.Cos(arg);
                ys[b * dim + i] = flipSinToCos ? c : s;
                ys[b * dim + half + i] = flipSinToCos ? s : c;
            }
        }
        return Tensor.FromArray(ys, timesteps.Length, dim);
    }
}

namespace DistriGen.Tensors.Ops;

/// <summary>
/// Standard normal noise from a seed (xoshiro256** and the Box–Muller transform), the same on every
/// machine and every rank, so all ranks start from the same latent.
/// </summary>
public sealed class SeededNormal
{
    private ulong _s0, _s1, _s2, _s3;

    public SeededNormal(long seed)
    {
        ulong x = (ulong)seed;
        _s0 = SplitMix(ref x);
        _s1 = SplitMix(ref x);
        _s2 = SplitMix(ref x);
        _s3 = SplitMix(ref x);
    }

    /// <summary>
    /// Noise of <paramref name="shape"/> on the current device (drawn on the host, so every device gets the same
    /// values).
    /// </summary>
    public static Tensor Sample(long seed, params int[] shape)
    {
        if (TensorScope.MetaActive) return Tensor.Meta(shape);
        var values = new float[Tensor.ElementCount(shape)];
        new SeededNormal(seed).Fill(values);
        return Tensor.FromArray(values, shape);
    }

    public void Fill(Span<float> values)
    {
        for (int i = 0; i < values.Length; i += 2)
        {
            double u1 = (NextULong() >> 11) * (1.0 / (1UL << 53));
            double u2 = (NextULong() >> 11) * (1.0 / (1UL << 53));
            double r = Math.Sqrt(-2.0 * Math.Log(1.0 - u1));
            values[i] = (float)(r * Math.Cos(2 * Math.PI * u2));
            if (i + 1 < values.Length) values[i + 1] = (float)(r * Math.Sin(2 * Math.PI * u2));
        }
    }

    private ulong NextULong()
    {
        ulong result = ulong.RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0;
        _s3 ^= _s1;
        _s1 ^= _s2;
        _s0 ^= _s3;
        _s2 ^= t;
        _s3 = ulong.RotateLeft(_s3, 45);
        return result;
    }

    private static ulong SplitMix(ref ulong x)
    {
        ulong z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

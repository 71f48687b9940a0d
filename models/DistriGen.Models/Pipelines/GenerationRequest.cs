using DistriGen.Tensors;

namespace DistriGen.Models.Pipelines;

/// <summary>One image to generate.</summary>
public sealed record GenerationRequest
{
    public int Steps { get; init; } = 30;
    public float GuidanceScale { get; init; } = 7.5f;

    /// <summary>diffusers' guidance_rescale (0 = off).</summary>
    public float GuidanceRescale { get; init; }

    public long Seed { get; init; }

    /// <summary>Image size in pixels.</summary>
    public int Width { get; init; } = 512;
    public int Height { get; init; } = 512;

    /// <summary>Unit-variance initial noise (1, C, h, w); seeded noise when null.</summary>
    public Tensor? InitNoise { get; init; }

    /// <summary>Rejects values no generation can use, before any work, naming the option.</summary>
    public void Validate()
    {
        if (Steps < 1) throw new ArgumentOutOfRangeException(nameof(Steps), Steps, $"--steps must be at least 1, got {Steps}.");
        if (!float.IsFinite(GuidanceScale))
            throw new ArgumentOutOfRangeException(nameof(GuidanceScale), GuidanceScale, $"--guidance {GuidanceScale} is not a finite number.");
        if (GuidanceScale < 0)
            throw new ArgumentOutOfRangeException(nameof(GuidanceScale), GuidanceScale, $"--guidance {GuidanceScale} is negative; use 0 to 1 for no guidance, above 1 for classifier-free guidance.");
        if (!float.IsFinite(GuidanceRescale) || GuidanceRescale < 0 || GuidanceRescale > 1)
            throw new ArgumentOutOfRangeException(nameof(GuidanceRescale), GuidanceRescale, $"--guidance-rescale {GuidanceRescale} must be a number from 0 to 1.");
        if (Width <= 0 || Height <= 0) throw new ArgumentOutOfRangeException(nameof(Width), $"--size {Width}x{Height} must be positive.");
    }
}

/// <summary>What a generation produced and where the time went; disposing it gives the tensors back.</summary>
public sealed record GenerationResult(Tensor FinalLatents, Tensor Image, IReadOnlyList<float> Timesteps, TimeSpan UNetTime, TimeSpan VaeTime, TimeSpan Total)
    : IDisposable
{
    public void Dispose()
    {
        FinalLatents.Dispose();
        if (!ReferenceEquals(Image, FinalLatents)) Image.Dispose();
    }
}

/// <summary>Progress of a generation: step (1-based) of total.</summary>
public readonly record struct StepProgress(int Step, int Total);

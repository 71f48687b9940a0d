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
}

/// <summary>What a generation produced and where the time went.</summary>
public sealed record GenerationResult(Tensor FinalLatents, Tensor Image, IReadOnlyList<float> Timesteps, TimeSpan UNetTime, TimeSpan VaeTime, TimeSpan Total);

/// <summary>Progress of a generation: step (1-based) of total.</summary>
public readonly record struct StepProgress(int Step, int Total);

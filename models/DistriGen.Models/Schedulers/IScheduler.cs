using DistriGen.Tensors;

namespace DistriGen.Models.Schedulers;

/// <summary>A sampler of the denoising loop, by step index (0 … Timesteps.Count − 1).</summary>
public interface IScheduler
{
    SchedulerKind Kind { get; }

    /// <summary>The timesteps the UNet sees, after <see cref="SetTimesteps"/>.</summary>
    IReadOnlyList<float> Timesteps { get; }

    /// <summary>The factor on unit-variance noise for the first latent.</summary>
    float InitNoiseSigma { get; }

    void SetTimesteps(int steps);

    /// <summary>The UNet input for step <paramref name="index"/> (a new tensor).</summary>
    Tensor ScaleModelInput(Tensor sample, int index);

    /// <summary>The sample of the next step from the guided model output (a new tensor).</summary>
    Tensor Step(Tensor modelOutput, int index, Tensor sample);
}

public static class Schedulers
{
    public static IScheduler Create(SchedulerConfig config) => config.Kind switch
    {
        SchedulerKind.Ddim => new DdimScheduler(config),
        SchedulerKind.Euler => new EulerDiscreteScheduler(config),
        _ => new DpmSolverMultistepScheduler(config),
    };

    public static SchedulerKind ParseKind(string name) => name.ToLowerInvariant() switch
    {
        "ddim" => SchedulerKind.Ddim,
        "euler" => SchedulerKind.Euler,
        "dpm" or "dpm++" or "dpmsolver" => SchedulerKind.DpmSolver,
        _ => throw new ArgumentException($"Unknown scheduler '{name}'. Use ddim, euler or dpm."),
    };
}

using DistriGen.Tensors;

namespace DistriGen.Models.Schedulers;

/// <summary>diffusers' DDIMScheduler with eta = 0 (deterministic), including clip_sample.</summary>
public sealed class DdimScheduler(SchedulerConfig config) : IScheduler
{
    private readonly NoiseSchedule _schedule = new(config);
    private int[] _timesteps = [];
    private int _stepsRequested;

    public SchedulerKind Kind => SchedulerKind.Ddim;
    public IReadOnlyList<float> Timesteps => _timesteps.Select(t => (float)t).ToArray();
    public float InitNoiseSigma => 1f;

    public void SetTimesteps(int steps)
    {
        NoiseSchedule.CheckSteps(steps, config.NumTrainTimesteps);
        var raw = config.TimestepSpacing == "linspace"
            ? NoiseSchedule.Linspace(0, config.NumTrainTimesteps - 1, steps).Select(t => Math.Round(t, MidpointRounding.ToEven)).Reverse().ToArray()
            : NoiseSchedule.Spacing(config.TimestepSpacing, config.NumTrainTimesteps, steps, config.StepsOffset);
        _timesteps = raw.Select(t => (int)t).ToArray();
        _stepsRequested = steps;
    }

    public Tensor ScaleModelInput(Tensor sample, int index) => sample.Clone();

    public Tensor Step(Tensor modelOutput, int index, Tensor sample)
    {
        int t = _timesteps[index];
        // diffusers always steps back by N // steps, whatever the spacing.
        int previous = t - config.NumTrainTimesteps / _stepsRequested;
        float alpha = At(t);
        float alphaPrev = previous >= 0 ? At(previous) : config.SetAlphaToOne ? 1f : _schedule.AlphasCumprod[0];
        float beta = 1f - alpha;
        float sqrtAlpha = MathF.Sqrt(alpha), sqrtBeta = MathF.Sqrt(beta);

        // The arithmetic runs on host copies of the latents, in diffusers' order of operations.
        float[] x = sample.ToArray(), e = modelOutput.ToArray(), y = new float[x.Length];
        float sqrtAlphaPrev = MathF.Sqrt(alphaPrev), direction = MathF.Sqrt(1f - alphaPrev);
        float range = (float)config.ClipSampleRange;
        for (int i = 0; i < y.Length; i++)
        {
            float x0, eps;
            switch (config.PredictionType)
            {
                case "v_prediction":
                    x0 = sqrtAlpha * x[i] - sqrtBeta * e[i];
                    eps = sqrtAlpha * e[i] + sqrtBeta * x[i];
                    break;
                case "sample":
                    x0 = e[i];
                    eps = (x[i] - sqrtAlpha * x0) / sqrtBeta;
                    break;
                default:
                    x0 = (x[i] - sqrtBeta * e[i]) / sqrtAlpha;
                    eps = e[i];
                    break;
            }
            // As diffusers: the clipped x0 is used, the direction keeps the unclipped epsilon.
            if (config.ClipSample) x0 = Math.Clamp(x0, -range, range);
            y[i] = sqrtAlphaPrev * x0 + direction * eps;
        }
        return Tensors.Ops.Ops.FromHost(y, sample.Device, sample.Shape);
    }

    /// <summary>ᾱ at a train timestep; −1 (trailing spacing's edge case) reads the last entry as Python does.</summary>
    private float At(int t) => t >= 0 ? _schedule.AlphasCumprod[t] : _schedule.AlphasCumprod[^1];
}

using DistriGen.Tensors;

namespace DistriGen.Models.Schedulers;

/// <summary>diffusers' EulerDiscreteScheduler (s_churn = 0, linear sigma interpolation).</summary>
public sealed class EulerDiscreteScheduler(SchedulerConfig config) : IScheduler
{
    private readonly float[] _table = new NoiseSchedule(config).Sigmas();
    private float[] _timesteps = [];
    private float[] _sigmas = [];

    public SchedulerKind Kind => SchedulerKind.Euler;
    public IReadOnlyList<float> Timesteps => _timesteps;

    public float InitNoiseSigma
    {
        get
        {
            float max = _sigmas.Max();
            return config.TimestepSpacing is "linspace" or "trailing" ? max : MathF.Sqrt(max * max + 1f);
        }
    }

    public void SetTimesteps(int steps)
    {
        NoiseSchedule.CheckSteps(steps, config.NumTrainTimesteps);
        double[] raw = config.TimestepSpacing switch
        {
            "linspace" => NoiseSchedule.Linspace(0, config.NumTrainTimesteps - 1, steps).Reverse().ToArray(),
            _ => NoiseSchedule.Spacing(config.TimestepSpacing, config.NumTrainTimesteps, steps, config.StepsOffset),
        };
        _timesteps = raw.Select(t => (float)t).ToArray();
        _sigmas = _timesteps.Select(t => (float)NoiseSchedule.Interp(t, _table)).Append(0f).ToArray();
    }

    public Tensor ScaleModelInput(Tensor sample, int index)
    {
        float sigma = _sigmas[index];
        return Tensors.Ops.Ops.Multiply(sample, 1f / MathF.Sqrt(sigma * sigma + 1f));
    }

    public Tensor Step(Tensor modelOutput, int index, Tensor sample)
    {
        float sigma = _sigmas[index], dt = _sigmas[index + 1] - sigma;
        // The arithmetic runs on host copies of the latents, in diffusers' order of operations.
        float[] x = sample.ToArray(), e = modelOutput.ToArray(), y = new float[x.Length];
        bool v = config.PredictionType == "v_prediction";
        float vScale = -sigma / MathF.Sqrt(sigma * sigma + 1f), vSample = 1f / (sigma * sigma + 1f);
        for (int i = 0; i < y.Length; i++)
        {
            float x0 = v ? e[i] * vScale + x[i] * vSample : x[i] - sigma * e[i];
            float derivative = (x[i] - x0) / sigma;
            y[i] = x[i] + derivative * dt;
        }
        return Tensors.Ops.Ops.FromHost(y, sample.Device, sample.Shape);
    }
}

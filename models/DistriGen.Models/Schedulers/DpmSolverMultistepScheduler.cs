using DistriGen.Tensors;

namespace DistriGen.Models.Schedulers;

/// <summary>
/// diffusers' (0.24) DPMSolverMultistepScheduler, dpmsolver++ with the midpoint second-order update,
/// first order at the first step and, with lower_order_final and fewer than 15 steps, at the last.
/// </summary>
public sealed class DpmSolverMultistepScheduler(SchedulerConfig config) : IScheduler
{
    private readonly float[] _table = new NoiseSchedule(config).Sigmas();
    private int[] _timesteps = [];
    private float[] _sigmas = [];
    private float[]? _previousX0;
    private int _lowerOrderNums;

    public SchedulerKind Kind => SchedulerKind.DpmSolver;
    public IReadOnlyList<float> Timesteps => _timesteps.Select(t => (float)t).ToArray();
    public float InitNoiseSigma => 1f;

    public void SetTimesteps(int steps)
    {
        int n = config.NumTrainTimesteps;
        NoiseSchedule.CheckSteps(steps, n);
        double[] raw = config.TimestepSpacing switch
        {
            "linspace" => NoiseSchedule.Linspace(0, n - 1, steps + 1).Select(t => Math.Round(t, MidpointRounding.ToEven)).Reverse().Take(steps).ToArray(),
            "leading" => Enumerable.Range(0, steps + 1).Select(i => (double)i * (n / (steps + 1))).Reverse().Take(steps).Select(t => t + config.StepsOffset).ToArray(),
            _ => NoiseSchedule.NumpyArange(n, 0, -(double)n / steps).Select(t => Math.Round(t, MidpointRounding.ToEven) - 1).ToArray(),
        };
        _timesteps = raw.Select(t => (int)t).ToArray();
        // 0.24 appends the sigma of train timestep 0, not zero.
        _sigmas = _timesteps.Select(t => (float)NoiseSchedule.Interp(t, _table)).Append(_table[0]).ToArray();
        _previousX0 = null;
        _lowerOrderNums = 0;
    }

    public Tensor ScaleModelInput(Tensor sample, int index) => sample.Clone();

    public Tensor Step(Tensor modelOutput, int index, Tensor sample)
    {
        var (alphaS0, sigmaS0) = AlphaSigma(_sigmas[index]);
        var (alphaT, sigmaT) = AlphaSigma(_sigmas[index + 1]);
        // The arithmetic runs on host copies of the latents, in diffusers' order of operations.
        float[] xs = sample.ToArray(), es = modelOutput.ToArray(), x0s = new float[xs.Length], ys = new float[xs.Length];
        bool v = config.PredictionType == "v_prediction";
        for (int i = 0; i < xs.Length; i++) x0s[i] = v ? alphaS0 * xs[i] - sigmaS0 * es[i] : (xs[i] - sigmaS0 * es[i]) / alphaS0;

        bool last = index == _timesteps.Length - 1;
        bool lowerOrderFinal = last && (config.EulerAtFinal || (config.LowerOrderFinal && _timesteps.Length < 15));
        float lambdaT = MathF.Log(alphaT) - MathF.Log(sigmaT), lambdaS0 = MathF.Log(alphaS0) - MathF.Log(sigmaS0);
        float h = lambdaT - lambdaS0;
        float a = sigmaT / sigmaS0, b = alphaT * (MathF.Exp(-h) - 1f);
        if (config.SolverOrder == 1 || _lowerOrderNums < 1 || lowerOrderFinal || _previousX0 is null)
        {
            for (int i = 0; i < ys.Length; i++) ys[i] = a * xs[i] - b * x0s[i];
        }
        else
        {
            var (alphaS1, sigmaS1) = AlphaSigma(_sigmas[index - 1]);
            float lambdaS1 = MathF.Log(alphaS1) - MathF.Log(sigmaS1);
            float r0 = (lambdaS0 - lambdaS1) / h;
            var m1 = _previousX0;
            for (int i = 0; i < ys.Length; i++)
            {
                float d1 = 1f / r0 * (x0s[i] - m1[i]);
                ys[i] = a * xs[i] - b * x0s[i] - 0.5f * b * d1;
            }
        }
        _previousX0 = last ? null : x0s;
        if (_lowerOrderNums < config.SolverOrder) _lowerOrderNums++;
        return Tensors.Ops.Ops.FromHost(ys, sample.Device, sample.Shape);
    }

    private static (float Alpha, float Sigma) AlphaSigma(float sigma)
    {
        float alpha = 1f / MathF.Sqrt(sigma * sigma + 1f);
        return (alpha, sigma * alpha);
    }
}

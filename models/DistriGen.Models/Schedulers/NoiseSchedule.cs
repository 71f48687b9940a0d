namespace DistriGen.Models.Schedulers;

/// <summary>
/// The training noise schedule as diffusers builds it in float32: betas from torch.linspace (linear,
/// or squared for scaled_linear), alphas_cumprod as a double running product rounded to float32 at
/// each entry (torch's CPU cumprod).
/// </summary>
internal sealed class NoiseSchedule
{
    public NoiseSchedule(SchedulerConfig config)
    {
        int n = config.NumTrainTimesteps;
        var betas = config.BetaSchedule == "scaled_linear"
            ? TorchLinspace((float)Math.Sqrt(config.BetaStart), (float)Math.Sqrt(config.BetaEnd), n).Select(b => b * b).ToArray()
            : TorchLinspace((float)config.BetaStart, (float)config.BetaEnd, n);
        AlphasCumprod = new float[n];
        double product = 1;
        for (int i = 0; i < n; i++)
        {
            product *= 1f - betas[i];
            AlphasCumprod[i] = (float)product;
        }
    }

    public float[] AlphasCumprod { get; }

    /// <summary>sqrt((1 − ᾱ)/ᾱ) per train timestep, in float32 (the table Euler and DPM-Solver interpolate).</summary>
    public float[] Sigmas() => AlphasCumprod.Select(a => MathF.Sqrt((1f - a) / a)).ToArray();

    /// <summary>torch.linspace in float32: the first half counts up from start, the second half down from end.</summary>
    private static float[] TorchLinspace(float start, float end, int steps)
    {
        var result = new float[steps];
        if (steps == 1)
        {
            result[0] = start;
            return result;
        }
        float step = (end - start) / (steps - 1);
        int half = steps / 2;
        for (int i = 0; i < steps; i++) result[i] = i < half ? start + step * i : end - step * (steps - i - 1);
        return result;
    }

    public static void CheckSteps(int steps, int trainSteps)
    {
        if (steps < 1 || steps > trainSteps)
            throw new ArgumentOutOfRangeException(nameof(steps), steps, $"--steps must be between 1 and {trainSteps} (the model's training steps).");
    }

    /// <summary>The inference timesteps (descending) for a spacing rule, as diffusers' DDIM/Euler compute them.</summary>
    public static double[] Spacing(string spacing, int trainSteps, int steps, int offset)
    {
        CheckSteps(steps, trainSteps);
        switch (spacing)
        {
            case "linspace":
                return Linspace(0, trainSteps - 1, steps).Reverse().ToArray();
            case "leading":
                int ratio = trainSteps / steps;
                return Enumerable.Range(0, steps).Select(i => (double)i * ratio + offset).Reverse().ToArray();
            default:
                double trailing = (double)trainSteps / steps;
                return NumpyArange(trainSteps, 0, -trailing).Select(t => Math.Round(t, MidpointRounding.ToEven) - 1).ToArray();
        }
    }

    /// <summary>numpy.linspace with endpoint: i·step + a, and exactly b at the end.</summary>
    public static double[] Linspace(double a, double b, int n)
    {
        if (n == 1) return [a];
        double step = (b - a) / (n - 1);
        var result = Enumerable.Range(0, n).Select(i => i * step + a).ToArray();
        result[^1] = b;
        return result;
    }

    /// <summary>numpy.arange with a float step: ⌈(stop − start)/step⌉ values start + i·step.</summary>
    public static double[] NumpyArange(double start, double stop, double step)
    {
        int length = (int)Math.Ceiling((stop - start) / step);
        return Enumerable.Range(0, Math.Max(0, length)).Select(i => start + i * step).ToArray();
    }

    /// <summary>numpy.interp of x over the table (xp = 0..n−1), in double.</summary>
    public static double Interp(double x, float[] table)
    {
        if (x <= 0) return table[0];
        if (x >= table.Length - 1) return table[^1];
        int j = (int)Math.Floor(x);
        if (j == x) return table[j];
        return (table[j + 1] - (double)table[j]) * (x - j) + table[j];
    }
}

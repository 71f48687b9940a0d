namespace DistriGen.Models.Configuration;

/// <summary>Which sampler runs the denoising loop.</summary>
public enum SchedulerKind
{
    Ddim,
    Euler,
    DpmSolver,
}

/// <summary>
/// A diffusers scheduler_config.json. The keys of the scheduler class it names are checked; when
/// another kind is asked for (e.g. --scheduler dpm on a DDIM config) the shared keys carry over and the
/// others take that scheduler's diffusers defaults, as diffusers' from_config does.
/// </summary>
public sealed record SchedulerConfig
{
    public SchedulerKind Kind { get; init; } = SchedulerKind.Ddim;
    public int NumTrainTimesteps { get; init; } = 1000;
    public double BetaStart { get; init; } = 0.00085;
    public double BetaEnd { get; init; } = 0.012;
    public string BetaSchedule { get; init; } = "scaled_linear";
    public string PredictionType { get; init; } = "epsilon";
    public string TimestepSpacing { get; init; } = "leading";
    public int StepsOffset { get; init; } = 1;
    public bool ClipSample { get; init; }
    public double ClipSampleRange { get; init; } = 1.0;
    public bool SetAlphaToOne { get; init; }
    public int SolverOrder { get; init; } = 2;
    public bool LowerOrderFinal { get; init; } = true;
    public bool EulerAtFinal { get; init; }

    public static SchedulerConfig Load(string path, SchedulerKind? overrideKind = null) =>
        Parse(ConfigReader.FromFile(path), overrideKind);

    internal static SchedulerConfig Parse(ConfigReader r, SchedulerKind? overrideKind)
    {
        string className = r.String("_class_name", "DDIMScheduler");
        var native = className switch
        {
            "DDIMScheduler" => SchedulerKind.Ddim,
            "EulerDiscreteScheduler" => SchedulerKind.Euler,
            "DPMSolverMultistepScheduler" => SchedulerKind.DpmSolver,
            _ => throw new ModelConfigException(r.File, $"scheduler class '{className}' is not supported (supported: DDIMScheduler, EulerDiscreteScheduler, DPMSolverMultistepScheduler)."),
        };
        var kind = overrideKind ?? native;
        // Defaults differ by class in diffusers; these are the ones of the class in the file.
        var config = new SchedulerConfig
        {
            Kind = kind,
            NumTrainTimesteps = r.Int("num_train_timesteps", 1000),
            BetaStart = r.Double("beta_start", 0.0001),
            BetaEnd = r.Double("beta_end", 0.02),
            BetaSchedule = r.String("beta_schedule", "linear"),
            PredictionType = r.String("prediction_type", "epsilon"),
            TimestepSpacing = r.String("timestep_spacing", native == SchedulerKind.Ddim ? "leading" : "linspace"),
            StepsOffset = r.Int("steps_offset", 0),
            // clip_sample belongs to DDIM: read it from a DDIM config (default true there), apply it only when DDIM runs.
            ClipSample = (native == SchedulerKind.Ddim ? r.Bool("clip_sample", true) : r.Bool("clip_sample", false)) && kind == SchedulerKind.Ddim,
            ClipSampleRange = r.Double("clip_sample_range", 1.0),
            // DDIM's; configs of other schedulers carry it (and PNDM's skip_prk_steps) over from the pipeline they came
            // from.
            SetAlphaToOne = r.Bool("set_alpha_to_one", true) || native != SchedulerKind.Ddim,
            SolverOrder = r.Int("solver_order", 2),
            LowerOrderFinal = r.Bool("lower_order_final", true),
            EulerAtFinal = r.Bool("euler_at_final", false),
        };
        if (config.BetaSchedule is not ("linear" or "scaled_linear"))
            throw new ModelConfigException(r.File, $"'beta_schedule' = \"{config.BetaSchedule}\" is not supported (supported: \"linear\", \"scaled_linear\").");
        if (config.TimestepSpacing is not ("leading" or "linspace" or "trailing"))
            throw new ModelConfigException(r.File, $"'timestep_spacing' = \"{config.TimestepSpacing}\" is not supported (supported: \"leading\", \"linspace\", \"trailing\").");
        var predictions = kind == SchedulerKind.Ddim ? new[] { "epsilon", "v_prediction", "sample" } : ["epsilon", "v_prediction"];
        if (!predictions.Contains(config.PredictionType))
            throw new ModelConfigException(r.File, $"'prediction_type' = \"{config.PredictionType}\" is not supported by {kind} (supported: {string.Join(", ", predictions)}).");
        if (config.SolverOrder is not (1 or 2))
            throw new ModelConfigException(r.File, $"'solver_order' = {config.SolverOrder} is not supported (supported: 1, 2).");
        _ = r.Bool("skip_prk_steps", true);
        r.Require("trained_betas", [null]);
        r.Require("thresholding", false);
        r.Require("dynamic_thresholding_ratio", 0.995);
        r.Require("sample_max_value", 1.0);
        r.Require("rescale_betas_zero_snr", false);
        r.Require("interpolation_type", "linear");
        r.Require("use_karras_sigmas", false);
        r.Require("use_lu_lambdas", false);
        r.Require("sigma_min", [null]);
        r.Require("sigma_max", [null]);
        r.Require("timestep_type", "discrete");
        r.Require("algorithm_type", "dpmsolver++");
        r.Require("solver_type", "midpoint");
        r.Require("variance_type", [null]);
        r.Require("lambda_min_clipped", "-Infinity", null);
        r.Require("final_sigmas_type", "sigma_min", null);
        r.RejectUnknown();
        if (config.NumTrainTimesteps is < 1 or > 100_000)
            throw new ModelConfigException(r.File, $"'num_train_timesteps' = {config.NumTrainTimesteps} must be between 1 and 100000.");
        foreach (var (key, beta) in new[] { ("beta_start", config.BetaStart), ("beta_end", config.BetaEnd) })
            if (!(beta >= 0 && beta < 1))
                throw new ModelConfigException(r.File, $"'{key}' = {beta} must be at least 0 and below 1: otherwise 1 − β is negative or zero and the noise schedule (√ᾱ, σ) is non-finite from the first step.");
        if (config.StepsOffset < 0 || config.StepsOffset >= config.NumTrainTimesteps)
            throw new ModelConfigException(r.File, $"'steps_offset' = {config.StepsOffset} must be between 0 and num_train_timesteps − 1 ({config.NumTrainTimesteps - 1}).");
        if (!(config.ClipSampleRange > 0) || double.IsInfinity(config.ClipSampleRange))
            throw new ModelConfigException(r.File, $"'clip_sample_range' = {config.ClipSampleRange} must be a positive number.");
        return config;
    }
}

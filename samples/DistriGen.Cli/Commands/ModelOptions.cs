using System.CommandLine;
using DistriGen.Models;
using DistriGen.Models.Configuration;
using DistriGen.Models.Pipelines;
using DistriGen.Runtime;
using DistriGen.Tensors;
using DistriGen.Tensors.Compute;
using DistriGen.Tensors.Devices;
using DistriGen.Tensors.IO;

namespace DistriGen.Cli.Commands;

/// <summary>The options that say which model runs, on what, and how it is spread over ranks.</summary>
internal sealed class ModelOptions
{
    public Option<string?> Model { get; } = new("--model")
    {
        Description = "A diffusers model folder (unet/, scheduler/, optional vae/, text_encoder/, tokenizer/) or a single-file SD 1.x/2.x/SDXL " +
            "checkpoint (.safetensors, original layout). Default: the built-in 'shapes' model.",
    };
    public Option<string?> Config { get; } = ConfigOption();
    public Option<string[]> Lora { get; } = LoraOptions.Create();
    public Option<int?> Steps { get; } = new("--steps") { Description = "Denoising steps (default: 30 for the built-in model, else 50)." };
    public Option<float?> Guidance { get; } = new("--guidance") { Description = "Classifier-free guidance scale (default: 2 for the built-in model, else 7.5)." };
    public Option<float> GuidanceRescale { get; } = new("--guidance-rescale") { Description = "diffusers' guidance_rescale (0 = off).", DefaultValueFactory = _ => 0f };
    public Option<long> Seed { get; } = new("--seed") { Description = "Seed of the initial noise.", DefaultValueFactory = _ => 0L };
    public Option<string?> Size { get; } = new("--size") { Description = "Image size WxH in pixels (default: 128x128 for the built-in model, else the UNet's sample size × the VAE's scale)." };
    public Option<string?> Scheduler { get; } = new("--scheduler") { Description = "ddim, euler or dpm (default: the model's scheduler_config.json)." };
    public Option<string?> NegativePrompt { get; } = new("--negative-prompt") { Description = "What not to draw (the guidance's unconditional side; default: \"\", or zeros for SDXL as diffusers does)." };
    public Option<int?> ClipSkip { get; } = new("--clip-skip") { Description = "Text-encoder layers to skip from the end, as diffusers' clip_skip." };
    public Option<string?> Embeddings { get; } = new("--embeddings") { Description = "safetensors with encoder_hidden_states (row 0 unconditional, row 1 conditional) and for SDXL text_embeds, time_ids; replaces the prompt." };
    public Option<string?> InitNoise { get; } = new("--init-noise") { Description = "safetensors whose 'init_noise' (1, C, h, w) replaces the seeded noise." };
    public Option<int> Ranks { get; } = new("--ranks") { Description = "Ranks (threads of this process, each with its own band). Under mpirun the MPI job decides.", DefaultValueFactory = _ => 1 };
    public Option<int?> ThreadsPerRank { get; } = new("--threads-per-rank") { Description = "Compute threads per rank (default: the cores divided among the ranks)." };
    public Option<string> Parallelism { get; } = new("--parallelism") { Description = "exact, distrifusion, pcpp or naive.", DefaultValueFactory = _ => "distrifusion" };
    public Option<int> WarmupSteps { get; } = new("--warmup-steps") { Description = "Synchronous steps before asynchronous exchange (distrifuser's warmup_steps=w is w+1 here).", DefaultValueFactory = _ => 4 };
    public Option<string> GnMode { get; } = new("--gn-mode") { Description = "GroupNorm after warmup: corrected, stale, exact or separate.", DefaultValueFactory = _ => "corrected" };
    public Option<bool> DistriFuserGn { get; } = new("--distrifuser-gn") { Description = "GroupNorm arithmetic of distrifuser's code (variance × n/(n−1), the plain correction), to reproduce its numbers." };
    public Option<bool> SplitBatch { get; } = new("--split-batch") { Description = "Split the guidance batch across two rank groups." };
    public Option<double> PcppRatio { get; } = new("--pcpp-ratio") { Description = "PCPP: fraction of each neighbour's rows a band attends to.", DefaultValueFactory = _ => 0.3 };
    public Option<string> Backend { get; } = new("--backend") { Description = BackendHelp, DefaultValueFactory = _ => "auto" };
    public Option<string> VaeParallel { get; } = new("--vae-parallel") { Description = "on (default): with several ranks each decodes a band of the image; off: every rank decodes all of it.", DefaultValueFactory = _ => "on" };
    public Option<string> Device { get; } = DeviceOption();
    public Option<string> Precision { get; } = PrecisionOption();
    public Option<double?> CommTimeout { get; } = new("--comm-timeout") { Description = "Seconds a rank waits for another before it stops with an error (default: DISTRIGEN_COMM_TIMEOUT, else 120)." };

    /// <summary>--config: a diffusers folder's configs for a single-file checkpoint.</summary>
    public static Option<string?> ConfigOption() => new("--config")
    {
        Description = "For a single-file checkpoint: a diffusers folder whose configs (unet/, vae/, scheduler/, text encoders, tokenizers) " +
            "describe it, instead of the built-in ones of its family.",
    };

    /// <summary>--device, shared by the commands that run a model.</summary>
    public static Option<string> DeviceOption() => new("--device")
    {
        Description = "host (DistriGen's kernels, default), torch-cpu (LibTorch on the CPU), cuda or cuda:N (LibTorch on GPUs; " +
            "rank r takes GPU r mod the GPU count).",
        DefaultValueFactory = _ => "host",
    };

    /// <summary>--precision: of the weights and computation on a LibTorch device.</summary>
    public static Option<string> PrecisionOption() => new("--precision")
    {
        Description = "fp32 (default), bf16 or fp16: weights and computation on a LibTorch device; on the host, bf16 runs convolutions " +
            "and linear layers on oneDNN's bf16 kernels (fp32 accumulation).",
        DefaultValueFactory = _ => "fp32",
    };

    /// <summary>
    /// The host backend for a device: bf16 on the host is oneDNN's bf16 kernels (asking for another
    /// backend with it is an error); otherwise the backend asked for.
    /// </summary>
    public static string HostBackend(DeviceSpec device, string backend)
    {
        if (!device.IsHost || device.Precision != "bf16") return backend;
        if (backend is not ("auto" or "onednn" or "onednn-bf16"))
            throw new ArgumentException($"--precision bf16 on the host runs oneDNN's bf16 kernels; it cannot be combined with --backend {backend}.");
        return "onednn-bf16";
    }

    /// <summary>The device the options name.</summary>
    public static DeviceSpec ParseDevice(ParseResult parse, Option<string> device, Option<string> precision) =>
        DeviceSpec.Parse(parse.GetValue(device)!, parse.GetValue(precision)!.ToLowerInvariant());

    public const string BackendHelp = "auto (oneDNN, else OpenBLAS, else managed), managed, openblas, onednn, onednn-winograd (Winograd 3×3 " +
        "convolutions: about 2.5× faster, a few 1e-6 relative error per layer) or onednn-bf16 (as --precision bf16).";

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { Model, Steps, Guidance, GuidanceRescale, Seed, Size, Scheduler, NegativePrompt, ClipSkip, Embeddings, InitNoise, Ranks, ThreadsPerRank, Parallelism, WarmupSteps, GnMode, DistriFuserGn, SplitBatch, PcppRatio, Backend, VaeParallel, Device, Precision, CommTimeout, Config, Lora })
            command.Options.Add(option);
    }

    /// <summary>The model folder the options name, or the built-in one.</summary>
    public string ModelDirectory(ParseResult parse) => parse.GetValue(Model) ?? BuiltInModel.Directory;

    /// <summary>
    /// Loads the model and builds the request, conditioning and parallel setup the options describe; the
    /// built-in model draws at <paramref name="builtInSize"/> unless --size says otherwise.
    /// </summary>
    public Loaded Load(ParseResult parse, string? prompt, (int Width, int Height)? builtInSize = null)
    {
        // What the command line says is checked before the model is loaded.
        var (givenWidth, givenHeight) = parse.GetValue(Size) is { } given ? ParseSize(given) : (1, 1);
        new GenerationRequest
        {
            Steps = parse.GetValue(Steps) ?? 1,
            GuidanceScale = parse.GetValue(Guidance) ?? 1,
            GuidanceRescale = parse.GetValue(GuidanceRescale),
            Width = givenWidth,
            Height = givenHeight,
        }.Validate();
        var setup = Setup(parse);
        bool builtIn = parse.GetValue(Model) is null;
        var directory = ModelDirectory(parse);
        var schedulerName = parse.GetValue(Scheduler);
        var embeddings = parse.GetValue(Embeddings);
        var model = DiffusionModel.Load(directory, schedulerName is null ? null : Models.Schedulers.Schedulers.ParseKind(schedulerName),
            textEncoder: embeddings is null, device: setup.FirstDevice, configDirectory: parse.GetValue(Config));
        LoraOptions.Apply(model, parse.GetValue(Lora), quiet: Runtime.Communication.MpiWorld.Current?.Rank is > 0);

        var defaults = builtIn
            ? BuiltInModel.Defaults
            : new GenerationDefaults(model.Unet.Config.SampleSize * model.ImageScale, model.Unet.Config.SampleSize * model.ImageScale, 50, 7.5f);
        var (width, height) = parse.GetValue(Size) is { } size ? ParseSize(size) : builtIn && builtInSize is { } s ? s : (defaults.Width, defaults.Height);

        Conditioning conditioning;
        IReadOnlyList<string> warnings = [];
        if (embeddings is not null)
        {
            conditioning = Conditioning.Load(embeddings);
        }
        else
        {
            var text = prompt ?? (builtIn ? BuiltInModel.DefaultPrompt : throw new ArgumentException("Give a prompt (or --embeddings FILE)."));
            using var encoded = model.EncodePrompt(new Models.Text.PromptRequest(text, parse.GetValue(NegativePrompt), parse.GetValue(ClipSkip)));
            conditioning = encoded.ToConditioning();
            warnings = encoded.Warnings;
        }

        Tensor? noise = null;
        if (parse.GetValue(InitNoise) is { } noisePath)
        {
            using var file = SafeTensorsFile.Open(noisePath);
            if (!file.Contains("init_noise")) throw new InvalidDataException($"{noisePath}: no 'init_noise' tensor (it has: {string.Join(", ", file.Keys)}).");
            noise = file.Read("init_noise").Keep();
        }

        var request = new GenerationRequest
        {
            Steps = parse.GetValue(Steps) ?? defaults.Steps,
            GuidanceScale = parse.GetValue(Guidance) ?? defaults.Guidance,
            GuidanceRescale = parse.GetValue(GuidanceRescale),
            Seed = parse.GetValue(Seed),
            Width = width,
            Height = height,
            InitNoise = noise,
        };
        request.Validate();
        model.LatentSize(width, height);
        return new Loaded(model, request, conditioning, setup) { Warnings = warnings };
    }

    public ParallelSetup Setup(ParseResult parse)
    {
        int ranks = Runtime.Communication.MpiWorld.LaunchedByMpirun ? int.Parse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE")!) : parse.GetValue(Ranks);
        if (ranks < 1) throw new ArgumentException($"--ranks must be at least 1, got {ranks}.");
        int threads = parse.GetValue(ThreadsPerRank) ?? Math.Max(1, Environment.ProcessorCount / ranks);
        var options = new PatchParallelOptions
        {
            Mode = ParseMode(parse.GetValue(Parallelism)!),
            WarmupSteps = parse.GetValue(WarmupSteps),
            GroupNormMode = ParseGnMode(parse.GetValue(GnMode)!),
            DistriFuserGroupNorm = parse.GetValue(DistriFuserGn),
            SplitBatch = parse.GetValue(SplitBatch),
            PcppRatio = parse.GetValue(PcppRatio),
            VaeParallel = parse.GetValue(VaeParallel)!.ToLowerInvariant() switch
            {
                "on" => true,
                "off" => false,
                var other => throw new ArgumentException($"--vae-parallel '{other}' is not on or off."),
            },
        };
        if (parse.GetValue(CommTimeout) is { } seconds)
            options.Timeout = double.IsFinite(seconds) && seconds > 0 && seconds <= 86400 ? TimeSpan.FromSeconds(seconds)
                : throw new ArgumentOutOfRangeException("--comm-timeout", seconds, "--comm-timeout must be a number of seconds between 0 and 86400.");
        options.Validate();
        var device = ParseDevice(parse, Device, Precision);
        var backend = HostBackend(device, parse.GetValue(Backend)!);
        return new ParallelSetup(ranks, threads, options, backend) { Device = device };
    }

    public static ParallelMode ParseMode(string text) => text.ToLowerInvariant() switch
    {
        "exact" => ParallelMode.Exact,
        "distrifusion" => ParallelMode.DistriFusion,
        "pcpp" => ParallelMode.Pcpp,
        "naive" => ParallelMode.Naive,
        _ => throw new ArgumentException($"--parallelism '{text}' is not one of exact, distrifusion, pcpp, naive."),
    };

    public static GroupNormMode ParseGnMode(string text) => text.ToLowerInvariant() switch
    {
        "corrected" => GroupNormMode.Corrected,
        "stale" => GroupNormMode.Stale,
        "exact" or "sync" => GroupNormMode.Exact,
        "separate" => GroupNormMode.Separate,
        _ => throw new ArgumentException($"--gn-mode '{text}' is not one of corrected, stale, exact, separate."),
    };

    public static (int Width, int Height) ParseSize(string text)
    {
        var parts = text.ToLowerInvariant().Split('x');
        if (parts.Length == 2 && int.TryParse(parts[0], out var w) && int.TryParse(parts[1], out var h) && w > 0 && h > 0) return (w, h);
        throw new ArgumentException($"--size '{text}' is not WIDTHxHEIGHT (e.g. 512x512).");
    }

    public sealed record Loaded(DiffusionModel Model, GenerationRequest Request, Conditioning Conditioning, ParallelSetup Setup)
    {
        /// <summary>What the user should know before the run (e.g. the part of the prompt CLIP dropped).</summary>
        public IReadOnlyList<string> Warnings { get; init; } = [];
    }
}

using DistriGen.Tensors.IO;
using DistriGen.Tensors.Nn;

namespace DistriGen.Models.Pipelines;

/// <summary>
/// A model folder in diffusers layout: unet/ (config.json + weights), scheduler/, and optionally vae/
/// (latent models; without it the model works in pixel space), text_encoder/ + tokenizer/ (the
/// token-embedding encoder; other encoders' embeddings come from a file). Weights may be F32, F16 or
/// BF16, in one file or sharded.
/// </summary>
public sealed class DiffusionModel
{
    private DiffusionModel(string directory, UNet2DConditionModel unet, AutoencoderKL? vae, SchedulerConfig scheduler, TokenEmbeddingTextEncoder? textEncoder, WordTokenizer? tokenizer)
    {
        Directory = directory;
        Unet = unet;
        Vae = vae;
        SchedulerConfig = scheduler;
        TextEncoder = textEncoder;
        Tokenizer = tokenizer;
    }

    public string Directory { get; }
    public UNet2DConditionModel Unet { get; }
    public AutoencoderKL? Vae { get; }
    public SchedulerConfig SchedulerConfig { get; }
    public TokenEmbeddingTextEncoder? TextEncoder { get; }
    public WordTokenizer? Tokenizer { get; }

    /// <summary>Image pixels per latent pixel (1 for pixel-space models).</summary>
    public int ImageScale => Vae?.Config.ScaleFactor ?? 1;

    public bool CanEncodeText => TextEncoder is not null && Tokenizer is not null;

    public static DiffusionModel Load(string directory, SchedulerKind? schedulerOverride = null)
    {
        if (!System.IO.Directory.Exists(directory)) throw new DirectoryNotFoundException($"No model folder at {directory}.");
        var unet = new UNet2DConditionModel(UNetConfig.Load(Path.Combine(directory, "unet", "config.json")));
        using (var weights = Checkpoint.OpenFolder(Path.Combine(directory, "unet"), "diffusion_pytorch_model"))
            unet.LoadStateDict(weights);

        AutoencoderKL? vae = null;
        var vaeDir = Path.Combine(directory, "vae");
        if (System.IO.Directory.Exists(vaeDir))
        {
            vae = new AutoencoderKL(VaeConfig.Load(Path.Combine(vaeDir, "config.json")));
            using var weights = Checkpoint.OpenFolder(vaeDir, "diffusion_pytorch_model");
            vae.LoadStateDict(weights, AutoencoderKL.EncoderPrefixes);
        }

        var scheduler = SchedulerConfig.Load(Path.Combine(directory, "scheduler", "scheduler_config.json"), schedulerOverride);

        TokenEmbeddingTextEncoder? encoder = null;
        WordTokenizer? tokenizer = null;
        var encoderConfig = Path.Combine(directory, "text_encoder", "config.json");
        if (File.Exists(encoderConfig) && File.ReadAllText(encoderConfig).Contains("\"token_embedding\"", StringComparison.Ordinal))
        {
            encoder = TokenEmbeddingTextEncoder.Load(Path.Combine(directory, "text_encoder"));
            tokenizer = WordTokenizer.Load(Path.Combine(directory, "tokenizer"));
        }
        return new DiffusionModel(directory, unet, vae, scheduler, encoder, tokenizer);
    }

    /// <summary>A model with random weights, for benchmarks and for trying the tool without a checkpoint.</summary>
    public static DiffusionModel Random(UNetConfig unetConfig, VaeConfig? vaeConfig, SchedulerConfig scheduler, long seed = 0)
    {
        var unet = new UNet2DConditionModel(unetConfig);
        unet.InitializeRandom(seed);
        AutoencoderKL? vae = null;
        if (vaeConfig is not null)
        {
            vae = new AutoencoderKL(vaeConfig);
            vae.InitializeRandom(seed + 1);
        }
        return new DiffusionModel("(random weights)", unet, vae, scheduler, null, null);
    }

    /// <summary>The same model (weights shared) with another scheduler.</summary>
    public DiffusionModel WithScheduler(SchedulerConfig scheduler) => new(Directory, Unet, Vae, scheduler, TextEncoder, Tokenizer);

    /// <summary>The latent size for an image size; an image that does not split into latent pixels is an error.</summary>
    public (int Height, int Width) LatentSize(int width, int height)
    {
        int scale = ImageScale;
        if (width <= 0 || height <= 0 || width % scale != 0 || height % scale != 0)
            throw new ArgumentException($"An image of {width}×{height} cannot be made by this model: both sides must be positive multiples of {scale} (the VAE's scale factor).");
        return (height / scale, width / scale);
    }

    /// <summary>The guidance batch for a caption: row 0 the empty caption, row 1 the caption.</summary>
    public Conditioning EncodePrompt(string prompt)
    {
        if (TextEncoder is null || Tokenizer is null)
            throw new InvalidOperationException($"The model in {Directory} has no text encoder DistriGen can run; give its embeddings with --embeddings FILE (encoder_hidden_states, row 0 unconditional, row 1 conditional).");
        int length = TextEncoder.MaxLength;
        var ids = new[] { Tokenizer.Encode("", length), Tokenizer.Encode(prompt, length) };
        return new Conditioning(TextEncoder.Encode(ids).Keep());
    }
}

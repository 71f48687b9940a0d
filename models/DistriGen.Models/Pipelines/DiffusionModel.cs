using DistriGen.Models.Text;
using DistriGen.Tensors.Devices;
using DistriGen.Tensors.IO;
using DistriGen.Tensors.Nn;

namespace DistriGen.Models.Pipelines;

/// <summary>
/// A model: a folder in diffusers layout, or a single-file checkpoint read into the same parts. The folder: unet/
/// (config.json + weights), scheduler/, and optionally vae/
/// (latent models; without it the model works in pixel space), the text side (CLIP tokenizer/ +
/// text_encoder/, SDXL's _2 pair, or the token-embedding encoder of small models) and model_index.json.
/// Weights may be F32, F16 or BF16, in one file or sharded.
/// </summary>
public sealed class DiffusionModel
{
    internal DiffusionModel(string directory, UNet2DConditionModel unet, AutoencoderKL? vae, SchedulerConfig scheduler, IPromptEncoder? textEncoder)
    {
        Directory = directory;
        Unet = unet;
        Vae = vae;
        SchedulerConfig = scheduler;
        TextEncoder = textEncoder;
    }

    public string Directory { get; }
    public UNet2DConditionModel Unet { get; }
    public AutoencoderKL? Vae { get; }
    public SchedulerConfig SchedulerConfig { get; }

    /// <summary>The text side, or null when the folder has none (or it was not loaded): then embeddings come from a file.</summary>
    public IPromptEncoder? TextEncoder { get; }

    /// <summary>
    /// Where the UNet's and the VAE's weights are and their computation runs (the text side runs on the host).
    /// </summary>
    public Device Device => Unet.Device;

    /// <summary>Image pixels per latent pixel (1 for pixel-space models).</summary>
    public int ImageScale => Vae?.Config.ScaleFactor ?? 1;

    /// <summary>
    /// Loads a diffusers folder or a single-file checkpoint in the original layout (SD 1.x, 2.x, SDXL;
    /// <paramref name="configDirectory"/> gives a diffusers folder's configs for a file the built-in ones do
    /// not describe), the UNet and VAE weights straight onto <paramref name="device"/> (default: the current
    /// device); <paramref name="textEncoder"/> false skips the text side (embeddings come from a file).
    /// </summary>
    public static DiffusionModel Load(string directory, SchedulerKind? schedulerOverride = null, bool textEncoder = true,
        Device? device = null, string? configDirectory = null)
    {
        if (File.Exists(directory))
            return Checkpoints.SingleFileModel.Load(directory, configDirectory, schedulerOverride, textEncoder, device ?? Device.Current);
        if (!System.IO.Directory.Exists(directory)) throw new DirectoryNotFoundException($"No model folder or checkpoint file at {directory}.");
        if (configDirectory is not null)
            throw new ArgumentException($"--config is for single-file checkpoints; {directory} is a diffusers folder with its own configs.");
        var index = ModelIndex.Load(directory);
        var (unet, vae, unetConfigPath) = LoadNetworks(directory, device ?? Device.Current);
        var scheduler = SchedulerConfig.Load(Path.Combine(directory, "scheduler", "scheduler_config.json"), schedulerOverride);
        var text = textEncoder ? PromptEncoders.Load(directory, index) : null;
        if (text is not null) CheckWidths(text, unet.Config, unetConfigPath);
        return new DiffusionModel(directory, unet, vae, scheduler, text);
    }

    private static (UNet2DConditionModel Unet, AutoencoderKL? Vae, string UnetConfigPath) LoadNetworks(string directory, Device device)
    {
        using var onDevice = Device.Use(device);
        var unetConfigPath = Path.Combine(directory, "unet", "config.json");
        var unet = new UNet2DConditionModel(UNetConfig.Load(unetConfigPath));
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
        return (unet, vae, unetConfigPath);
    }

    /// <summary>The text encoders' widths must be what the UNet was trained on.</summary>
    internal static void CheckWidths(IPromptEncoder text, UNetConfig unet, string unetConfigPath)
    {
        if (text.EmbeddingDim != unet.CrossAttentionDim[0])
            throw new ModelConfigException(unetConfigPath,
                $"'cross_attention_dim' is {unet.CrossAttentionDim[0]} but the text encoder in {text.Source} gives {text.EmbeddingDim} per token " +
                "(hidden_size in text_encoder*/config.json): the encoder does not belong to this UNet.");
        if (unet.IsSdxl)
        {
            int expected = unet.ProjectionClassEmbeddingsInputDim!.Value - 6 * unet.AdditionTimeEmbedDim!.Value;
            if (text.PooledDim != expected)
                throw new ModelConfigException(unetConfigPath,
                    $"'projection_class_embeddings_input_dim' leaves {expected} values for the pooled text embedding but the text encoder in {text.Source} " +
                    $"gives {(text.PooledDim is { } p ? p.ToString() : "none")} (projection_dim in text_encoder_2/config.json).");
        }
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
        return new DiffusionModel("(random weights)", unet, vae, scheduler, null);
    }

    /// <summary>
    /// The same model on <paramref name="device"/>: this model when it is there already, else a copy of
    /// the UNet's and VAE's weights made there (e.g. one per GPU for ranks in one process).
    /// </summary>
    public DiffusionModel To(Device device)
    {
        if (ReferenceEquals(device, Device)) return this;
        using var onDevice = Device.Use(device);
        var unet = new UNet2DConditionModel(Unet.Config);
        unet.LoadStateDict(DictionaryTensorSource.Of(Unet));
        AutoencoderKL? vae = null;
        if (Vae is not null)
        {
            vae = new AutoencoderKL(Vae.Config);
            vae.LoadStateDict(DictionaryTensorSource.Of(Vae));
        }
        return new DiffusionModel(Directory, unet, vae, SchedulerConfig, TextEncoder);
    }

    /// <summary>The same model (weights shared) with another scheduler.</summary>
    public DiffusionModel WithScheduler(SchedulerConfig scheduler) => new(Directory, Unet, Vae, scheduler, TextEncoder);

    /// <summary>The latent size for an image size; an image that does not split into latent pixels is an error.</summary>
    public (int Height, int Width) LatentSize(int width, int height)
    {
        int scale = ImageScale;
        if (width <= 0 || height <= 0 || width % scale != 0 || height % scale != 0)
            throw new ArgumentException($"An image of {width}×{height} cannot be made by this model: both sides must be positive multiples of {scale} (the VAE's scale factor).");
        return (height / scale, width / scale);
    }

    /// <summary>diffusers' encode_prompt for this model; an error that says what to do when it has no text encoder.</summary>
    public PromptEmbeddings EncodePrompt(PromptRequest request)
    {
        if (TextEncoder is null)
            throw new InvalidOperationException($"The model in {Directory} has no text encoder (no text_encoder/ and tokenizer/ folders); " +
                "give its embeddings with --embeddings FILE (encoder_hidden_states, row 0 unconditional, row 1 conditional).");
        return TextEncoder.Encode(request);
    }

    /// <summary>The guidance batch for a prompt: row 0 the negative side, row 1 the prompt.</summary>
    public Conditioning EncodePrompt(string prompt, string? negativePrompt = null)
    {
        using var embeddings = EncodePrompt(new PromptRequest(prompt, negativePrompt));
        return embeddings.ToConditioning();
    }
}

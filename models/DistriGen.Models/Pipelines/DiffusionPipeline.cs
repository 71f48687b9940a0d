using System.Diagnostics;
using DistriGen.Models.Schedulers;
using DistriGen.Tensors;
using DistriGen.Tensors.Devices;
using DistriGen.Tensors.Ops;

namespace DistriGen.Models.Pipelines;

/// <summary>
/// The guided denoising loop of diffusers' pipelines: latents = noise · init_sigma; per timestep the
/// UNet sees [latents, latents] (unconditional, conditional), the outputs are combined with the
/// guidance scale (and optional rescale), the sampler steps; finally the VAE decodes (pixel-space
/// models: the sample is the image).
/// </summary>
public static class DiffusionPipeline
{
    /// <summary>
    /// Runs the loop. A NaN or infinite value in the inputs, the UNet's prediction, the sampler's latents
    /// or the image stops the run with a <see cref="NonFiniteException"/> naming the step and, when one
    /// device can show it, the first layer; <paramref name="cancellation"/> is checked at every step.
    /// </summary>
    /// <remarks>
    /// The loop runs on the model's device (conditioning and noise are copied there); the result's
    /// latents and image are host tensors.
    /// </remarks>
    /// <param name="decoder">How the VAE runs (default: the whole decode on this device).</param>
    public static GenerationResult Generate(DiffusionModel model, INoisePredictor predictor, GenerationRequest request,
        Conditioning conditioning, IProgress<StepProgress>? progress = null, CancellationToken cancellation = default,
        ILatentDecoder? decoder = null)
    {
        request.Validate();
        var device = model.Device;
        using var onDevice = Device.Use(device);
        var placed = conditioning.To(device);
        try
        {
            var result = Run(model, predictor, request, placed, progress, cancellation, decoder);
            if (device.IsHost) return result;
            using (result)
                return result with { FinalLatents = Ops.To(result.FinalLatents, Device.Host).Keep(), Image = Ops.To(result.Image, Device.Host).Keep() };
        }
        finally
        {
            if (!ReferenceEquals(placed, conditioning)) placed.Dispose();
        }
    }

    private static GenerationResult Run(DiffusionModel model, INoisePredictor predictor, GenerationRequest request,
        Conditioning conditioning, IProgress<StepProgress>? progress, CancellationToken cancellation, ILatentDecoder? decoder)
    {
        var total = Stopwatch.StartNew();
        var (latentHeight, latentWidth) = model.LatentSize(request.Width, request.Height);
        var scheduler = Schedulers.Schedulers.Create(model.SchedulerConfig);
        scheduler.SetTimesteps(request.Steps);
        bool guided = request.GuidanceScale > 1f;
        if (model.Unet.Config.IsSdxl && conditioning.TimeIds is null)
            conditioning = conditioning with { TimeIds = Conditioning.SdxlTimeIds(request.Height, request.Width, conditioning.EncoderHiddenStates.Dim(0)) };
        var cond = guided ? conditioning : conditioning.Rows(1, 2);
        NonFiniteException.CheckInput(cond.EncoderHiddenStates, "encoder_hidden_states (the prompt's embeddings)");
        NonFiniteException.CheckInput(cond.TextEmbeds, "text_embeds (the pooled prompt embeddings)");
        NonFiniteException.CheckInput(cond.TimeIds, "time_ids");
        int channels = model.Unet.Config.InChannels;

        Tensor latents;
        using (var noise = request.InitNoise is { } given ? Ops.To(given, Device.Current) : SeededNormal.Sample(request.Seed, 1, channels, latentHeight, latentWidth))
        {
            if (noise.Rank != 4 || noise.Dim(0) != 1 || noise.Dim(1) != channels || noise.Dim(2) != latentHeight || noise.Dim(3) != latentWidth)
                throw new ArgumentException($"init_noise is {Tensor.Format(noise.Shape)} but a {request.Width}×{request.Height} image needs (1, {channels}, {latentHeight}, {latentWidth}).");
            NonFiniteException.CheckInput(noise, "the initial noise (init_noise)");
            latents = Ops.Multiply(noise, scheduler.InitNoiseSigma).Keep();
        }

        var unetTime = TimeSpan.Zero;
        var timesteps = scheduler.Timesteps;
        // The scheduler may make one step more than asked (numpy's arange in "trailing" spacing).
        predictor.BeginGeneration(timesteps.Count, cancellation);
        for (int i = 0; i < timesteps.Count; i++)
        {
            cancellation.ThrowIfCancellationRequested();
            using var scope = new TensorScope();
            using var batch = guided ? Ops.ConcatBatch([latents, latents]) : latents.Clone();
            using var input = scheduler.ScaleModelInput(batch, i);
            var unetStart = Stopwatch.GetTimestamp();
            using var prediction = predictor.Predict(input, timesteps[i], cond, i);
            unetTime += Stopwatch.GetElapsedTime(unetStart);
            string Where() => $"non-finite values at step {i + 1} of {timesteps.Count} (timestep {timesteps[i]:0.###})";
            if (!Ops.AllFinite(prediction))
            {
                var layer = NonFiniteException.FirstLayer(predictor.SingleDevice, "unet", () =>
                    predictor.SingleDevice.Forward(input, timesteps[i], cond.EncoderHiddenStates, cond.TextEmbeds, cond.TimeIds));
                throw new NonFiniteException($"{Where()} in the UNet's prediction; {layer}.");
            }
            using var guidedOutput = guided ? Guide(prediction, request.GuidanceScale, request.GuidanceRescale) : prediction.Clone();
            var next = scheduler.Step(guidedOutput, i, latents);
            if (!Ops.AllFinite(next))
                throw new NonFiniteException($"{Where()} in the {scheduler.Kind} sampler's step (the UNet's prediction was finite): check the scheduler's config.");
            latents.Dispose();
            latents = next.Keep();
            progress?.Report(new StepProgress(i + 1, timesteps.Count));
        }

        var vaeStart = Stopwatch.GetTimestamp();
        Tensor image;
        if (model.Vae is { } vae)
        {
            using var scope = new TensorScope();
            using var scaled = Ops.Multiply(latents, 1f / vae.Config.ScalingFactor);
            image = (decoder ?? SingleDeviceDecoder.Instance).Decode(vae, scaled).Keep();
            if (!Ops.AllFinite(image))
            {
                var layer = NonFiniteException.FirstLayer(vae, "vae", () => vae.Decode(scaled));
                image.Dispose();
                throw new NonFiniteException($"non-finite values in the VAE decode after step {timesteps.Count} (the latents were finite); {layer}.");
            }
        }
        else
        {
            image = latents.Clone();
        }
        var vaeTime = Stopwatch.GetElapsedTime(vaeStart);
        return new GenerationResult(latents, image, timesteps, unetTime, vaeTime, total.Elapsed);
    }

    /// <summary>uncond + g·(cond − uncond), then diffusers' rescale_noise_cfg when <paramref name="rescale"/> &gt; 0.</summary>
    public static Tensor Guide(Tensor prediction, float scale, float rescale)
    {
        using var uncond = Ops.SliceBatch(prediction, 0, 1);
        using var cond = Ops.SliceBatch(prediction, 1, 2);
        using var difference = Ops.Subtract(cond, uncond);
        var guided = Ops.AddScaled(uncond, 1f, difference, scale);
        if (rescale <= 0) return guided;
        double stdCond = Ops.Moments(cond).StandardDeviation, stdGuided = Ops.Moments(guided).StandardDeviation;
        float factor = (float)(rescale * stdCond / stdGuided + (1 - rescale));
        using (guided) return Ops.Multiply(guided, factor);
    }
}

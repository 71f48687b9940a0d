using DistriGen.Models.Pipelines;
using DistriGen.Runtime;
using DistriGen.Runtime.Communication;
using DistriGen.Tensors;

namespace DistriGen.Models.Tests;

/// <summary>NaN and infinity never leave a run silently: they stop it, naming the step and the first layer.</summary>
public sealed class NonFiniteTests
{
    private static readonly FixtureCase Case = new("sd-tiny");

    /// <summary>A private copy of the model, so the shared fixture is never changed.</summary>
    private static DiffusionModel FreshModel() => DiffusionModel.Load(Case.Directory);

    private static NonFiniteException Fails(DiffusionModel model, Conditioning? conditioning = null, GenerationRequest? request = null) =>
        Assert.Throws<NonFiniteException>(() => DiffusionPipeline.Generate(model, new UNetPredictor(model.Unet), request ?? Case.Request(steps: 2),
            conditioning ?? Conditioning.Load(Case.InputsPath)));

    [Fact]
    public void A_nan_weight_names_the_step_and_the_layer()
    {
        var model = FreshModel();
        model.Unet.DownBlocks[1].Attentions![0].TransformerBlocks[0].Attn2.ToK.Weight.Span[3] = float.NaN;
        var e = Fails(model);
        Assert.Contains("non-finite", e.Message);
        Assert.Contains("step 1 of 2", e.Message);
        Assert.Contains("unet.down_blocks.1.attentions.0.transformer_blocks.0.attn2.to_k (Linear)", e.Message);
    }

    [Fact]
    public void Nan_embeddings_and_noise_are_found_before_the_first_step()
    {
        var conditioning = Conditioning.Load(Case.InputsPath);
        using var nan = conditioning.EncoderHiddenStates.Clone();
        nan.Span[10] = float.NaN;
        var e = Fails(Case.Model, conditioning with { EncoderHiddenStates = nan });
        Assert.Contains("non-finite", e.Message);
        Assert.Contains("encoder_hidden_states", e.Message);

        using var noise = Case.Input("init_noise");
        noise.Span[0] = float.PositiveInfinity;
        e = Fails(Case.Model, request: Case.Request(steps: 2) with { InitNoise = noise });
        Assert.Contains("initial noise", e.Message);
    }

    [Fact]
    public void An_overflow_in_the_sampler_is_told_apart_from_the_unet()
    {
        var model = FreshModel();
        // A huge but finite prediction: the DDIM step overflows, the UNet does not.
        model.Unet.ConvOut.Bias!.Span.Fill(3e38f);
        var e = Fails(model);
        Assert.Contains("non-finite", e.Message);
        Assert.Contains("Ddim sampler's step", e.Message);
    }

    [Fact]
    public void A_nan_in_the_vae_names_the_decoder_layer()
    {
        var model = FreshModel();
        model.Vae!.Decoder.UpBlocks[0].Resnets[1].Conv2.Weight.Span[0] = float.NaN;
        var e = Fails(model);
        Assert.Contains("VAE decode", e.Message);
        Assert.Contains("vae.decoder.up_blocks.0.resnets.1.conv2 (Conv2d)", e.Message);
    }

    [Fact]
    public void Patch_parallel_ranks_stop_with_the_same_diagnosis()
    {
        var model = FreshModel();
        model.Unet.UpBlocks[0].Resnets[0].Conv1.Weight.Span[0] = float.NaN;
        var e = Assert.Throws<RankFailedException>(() => InProcessLauncher.Run(2, 1, comm =>
        {
            using var run = PatchParallelRun.Create(comm, splitBatch: false);
            var predictor = new PatchParallelPredictor(model.Unet, run, new PatchParallelOptions { Mode = ParallelMode.DistriFusion, WarmupSteps = 1 }, 32, 32);
            return DiffusionPipeline.Generate(model, predictor, Case.Request(steps: 2), Conditioning.Load(Case.InputsPath));
        }));
        var inner = Assert.IsType<NonFiniteException>(e.InnerException);
        Assert.Contains("step 1 of 2", inner.Message);
        Assert.Contains("unet.up_blocks.0.resnets.0.conv1 (Conv2d)", inner.Message);
    }
}

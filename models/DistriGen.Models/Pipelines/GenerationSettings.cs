using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using DistriGen.Runtime;
using DistriGen.Tensors;

namespace DistriGen.Models.Pipelines;

/// <summary>
/// What a generation was asked to do, as the settings ranks must agree on before they start, named as
/// the command line names them: the image, the sampler, the conditioning and the model, and the
/// patch-parallel options.
/// </summary>
public static class GenerationSettings
{
    public static IReadOnlyList<(string Name, string Value)> Describe(DiffusionModel model, GenerationRequest request, Conditioning conditioning, PatchParallelOptions parallel)
    {
        var c = CultureInfo.InvariantCulture;
        return
        [
            ("--size", $"{request.Width}x{request.Height}"),
            ("--seed", request.Seed.ToString(c)),
            ("--steps", request.Steps.ToString(c)),
            ("--guidance", request.GuidanceScale.ToString("R", c)),
            ("--guidance-rescale", request.GuidanceRescale.ToString("R", c)),
            ("--init-noise", request.InitNoise is null ? "seeded" : Fingerprint(request.InitNoise)),
            ("--scheduler", model.SchedulerConfig.ToString()),
            ("the prompt or --embeddings", string.Join(" ", new[] { conditioning.EncoderHiddenStates, conditioning.TextEmbeds, conditioning.TimeIds }
                .Select(t => t is null ? "none" : Fingerprint(t)))),
            ("--model", ModelFingerprint(model)),
            ("the weights' dtype", "float32"),
            ("--parallelism", parallel.Mode.ToString()),
            ("--warmup-steps", parallel.WarmupSteps.ToString(c)),
            ("--gn-mode", parallel.GroupNormMode.ToString()),
            ("--distrifuser-gn", parallel.DistriFuserGroupNorm.ToString()),
            ("--pcpp-ratio", parallel.PcppRatio.ToString("R", c)),
            ("--split-batch", parallel.SplitBatch.ToString()),
            ("--vae-parallel", parallel.VaeParallel ? "on" : "off"),
            ("the bucket size", parallel.BucketSize.ToString(c)),
        ];
    }

    /// <summary>Shape and a hash of every value.</summary>
    private static string Fingerprint(Tensor t) =>
        $"{Tensor.Format(t.Shape)} {Convert.ToHexString(SHA256.HashData(MemoryMarshal.AsBytes(t.ToArray().AsSpan())), 0, 8)}";

    private static readonly ConditionalWeakTable<UNet2DConditionModel, string> ModelFingerprints = new();

    /// <summary>
    /// The UNet's config and parameter shapes, and a hash of a sample of its weights (the first and a
    /// strided set of values of every parameter): cheap, and different for different checkpoints. Made
    /// once per model (weights on a device are copied to the host for it).
    /// </summary>
    private static string ModelFingerprint(DiffusionModel model) =>
        ModelFingerprints.GetValue(model.Unet, _ => ComputeModelFingerprint(model));

    private static string ComputeModelFingerprint(DiffusionModel model)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(System.Text.Encoding.UTF8.GetBytes(model.Unet.Config.ToString()));
        long parameters = 0;
        foreach (var (name, tensor) in model.Unet.NamedParameters())
        {
            hash.AppendData(System.Text.Encoding.UTF8.GetBytes(name + Tensor.Format(tensor.Shape)));
            parameters += tensor.Length;
            if (tensor.IsMeta) continue;
            ReadOnlySpan<float> span = tensor.Device.IsHost ? tensor.Span : tensor.ToArray();
            int stride = Math.Max(1, span.Length / 64);
            for (int i = 0; i < span.Length; i += stride) hash.AppendData(MemoryMarshal.AsBytes(span.Slice(i, 1)));
        }
        return $"{parameters} parameters, weights {Convert.ToHexString(hash.GetHashAndReset(), 0, 8)}";
    }
}

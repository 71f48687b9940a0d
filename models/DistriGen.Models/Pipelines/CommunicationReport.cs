using DistriGen.Runtime;

namespace DistriGen.Models.Pipelines;

/// <summary>Bytes one rank sent, per step, by kind (the layers' exchanges; the final gather of bands is separate).</summary>
public sealed record CommunicationReport(int Steps, double HaloPerStep, double AttentionPerStep, double GroupNormPerStep, double GatherPerStep, long PredictedAsyncPerStep, long PredictedAsyncAttentionPerStep)
{
    public double LayerBytesPerStep => HaloPerStep + AttentionPerStep + GroupNormPerStep;

    public static CommunicationReport From(PatchParallelPredictor predictor)
    {
        var cache = predictor.Context.Cache;
        int steps = Math.Max(1, predictor.StepsRun);
        long layers = cache.TotalBytesSent;
        long world = predictor.BytesSentThisGeneration;
        return new CommunicationReport(steps,
            cache.BytesSent(CommKind.Halo) / (double)steps,
            cache.BytesSent(CommKind.Attention) / (double)steps,
            cache.BytesSent(CommKind.GroupNorm) / (double)steps,
            (world - layers) / (double)steps,
            cache.PredictedBytesPerStep().Async,
            cache.PredictedBytesPerStep(CommKind.Attention).Async);
    }

    public static string Bytes(double bytes) => bytes switch
    {
        >= 1 << 30 => $"{bytes / (1 << 30):0.00} GiB",
        >= 1 << 20 => $"{bytes / (1 << 20):0.00} MiB",
        >= 1 << 10 => $"{bytes / (1 << 10):0.0} KiB",
        _ => $"{bytes:0} B",
    };
}

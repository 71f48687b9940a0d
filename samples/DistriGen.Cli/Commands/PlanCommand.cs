using System.CommandLine;
using DistriGen.Models;
using DistriGen.Runtime;
using DistriGen.Runtime.Communication;
using DistriGen.Tensors;
using Spectre.Console;

namespace DistriGen.Cli.Commands;

/// <summary>
/// distrigen plan: the communication points of a model's patch-parallel variant and the bytes each
/// rank sends per step, computed from shapes alone (no weights are allocated, nothing runs).
/// </summary>
internal static class PlanCommand
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "sd15, sdxl or a model folder.", DefaultValueFactory = _ => "sd15" };
        var size = new Option<string?>("--size") { Description = "Image size WxH (default: the model's native size)." };
        var ranks = new Option<int>("--ranks") { Description = "Ranks to plan for.", DefaultValueFactory = _ => 2 };
        var parallelism = new Option<string>("--parallelism") { Description = "distrifusion, pcpp or exact.", DefaultValueFactory = _ => "distrifusion" };
        var pcppRatio = new Option<double>("--pcpp-ratio") { DefaultValueFactory = _ => 0.3, Description = "PCPP window fraction." };
        var batch = new Option<int>("--batch") { Description = "UNet batch per rank (2 with guidance).", DefaultValueFactory = _ => 2 };
        var list = new Option<bool>("--list") { Description = "List every communication point with its path." };
        var command = new Command("plan", "Print the patch-parallel communication plan of a model.") { config, size, ranks, parallelism, pcppRatio, batch, list };
        command.SetAction(parse =>
        {
            var name = parse.GetValue(config)!;
            var unetConfig = ModelPresets.UNet(name);
            int scale = ModelPresets.ImageScale(name);
            var (width, height) = parse.GetValue(size) is { } s ? ModelOptions.ParseSize(s) : (unetConfig.SampleSize * scale, unetConfig.SampleSize * scale);
            if (width % scale != 0 || height % scale != 0) throw new ArgumentException($"--size {width}x{height} is not a multiple of the VAE scale {scale}.");
            int n = parse.GetValue(ranks);
            var options = new PatchParallelOptions { Mode = ModelOptions.ParseMode(parse.GetValue(parallelism)!), PcppRatio = parse.GetValue(pcppRatio) };
            var plans = Plan(unetConfig, height / scale, width / scale, n, parse.GetValue(batch), options);

            var points = plans[0].Points;
            AnsiConsole.MarkupLine($"[bold]{Markup.Escape(name)}[/] at {width}×{height} (latent {width / scale}×{height / scale}), {n} ranks, {options.Mode}");
            AnsiConsole.MarkupLine($"communication points: {points.Count(p => p.Kind == PatchMemberKind.HaloConv)} halo convs, {points.Count(p => p.Kind == PatchMemberKind.Attention)} self-attention layers, {points.Count(p => p.Kind == PatchMemberKind.GroupNorm)} GroupNorms");
            if (parse.GetValue(list))
                foreach (var p in points) AnsiConsole.MarkupLine($"  {p.Kind,-10} {Markup.Escape(p.Path)}  [grey]{Markup.Escape(p.Detail)}[/]");
            var table = new Table().AddColumns("rank", "rows", "halo/step", "attention/step", "GroupNorm/step", "total after warmup", "total in warmup");
            for (int r = 0; r < n; r++)
            {
                var cache = plans[r].Cache;
                table.AddRow($"{r}", $"{plans[r].Layout.Start(r)}–{plans[r].Layout.End(r)}",
                    CommunicationReport.Bytes(cache.PredictedBytesPerStep(CommKind.Halo).Async),
                    CommunicationReport.Bytes(cache.PredictedBytesPerStep(CommKind.Attention).Async),
                    CommunicationReport.Bytes(cache.PredictedBytesPerStep(CommKind.GroupNorm).Async),
                    CommunicationReport.Bytes(cache.PredictedBytesPerStep().Async),
                    CommunicationReport.Bytes(cache.PredictedBytesPerStep().Sync));
            }
            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }

    /// <summary>Each rank's context after one shape-only forward pass of the variant.</summary>
    public static PatchContext[] Plan(Models.Configuration.UNetConfig config, int latentHeight, int latentWidth, int ranks, int batch, PatchParallelOptions options)
    {
        using var meta = TensorScope.MetaMode();
        var unet = new UNet2DConditionModel(config);
        var layout = new BandLayout(latentHeight, latentWidth, ranks, config.Downsampling);
        var contexts = new PatchContext[ranks];
        for (int r = 0; r < ranks; r++)
        {
            var context = new PatchContext(new PlanningCommunicator(r, ranks), layout, options);
            var variant = unet.ToPatchParallel(context);
            context.BeginGeneration(1);
            context.BeginStep(0);
            using var scope = new TensorScope();
            var sample = Tensor.Meta(batch, config.InChannels, latentHeight, latentWidth);
            var text = Tensor.Meta(batch, 77, config.CrossAttentionDim[0]);
            variant.Forward(sample, 1f, text, config.IsSdxl ? Tensor.Meta(batch, config.ProjectionClassEmbeddingsInputDim!.Value - 6 * config.AdditionTimeEmbedDim!.Value) : null, config.IsSdxl ? Tensor.Meta(batch, 6) : null);
            contexts[r] = context;
        }
        return contexts;
    }

    /// <summary>Stands in for a communicator while shapes are traced; nothing is ever sent.</summary>
    private sealed class PlanningCommunicator(int rank, int size) : CommunicatorBase
    {
        public override int Rank => rank;
        public override int Size => size;
        public override TimeSpan Timeout => TimeSpan.Zero;
        public override string Kind => "planning";
        public override long BytesSent => 0;
        public override void Send(int peer, MessageKey key, ReadOnlySpan<float> data) => throw new InvalidOperationException("Planning sends nothing.");
        public override void Receive(int peer, MessageKey key, Span<float> destination) => throw new InvalidOperationException("Planning receives nothing.");
        public override ICommunicator Split(int color, int key) => throw new InvalidOperationException("Planning does not split.");
        public override void Abort(Exception reason) { }
    }
}

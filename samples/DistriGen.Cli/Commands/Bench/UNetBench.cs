using System.CommandLine;
using DistriGen.Models;
using DistriGen.Models.Pipelines;
using DistriGen.Tensors;
using DistriGen.Tensors.Compute;
using DistriGen.Tensors.Devices;
using DistriGen.Tensors.Ops;
using Spectre.Console;

namespace DistriGen.Cli.Commands.Bench;

/// <summary>
/// bench unet: one UNet call with random weights at real size, with the per-operation breakdown, on
/// each device asked for; every device's output is compared with the first one's.
/// </summary>
internal static class UNetBench
{
    public static Command Create()
    {
        var config = new Option<string>("--config") { Description = "sd15, sdxl or a model folder.", DefaultValueFactory = _ => "sd15" };
        var size = new Option<string>("--size") { Description = "Image size WxH.", DefaultValueFactory = _ => "512x512" };
        var batch = new Option<int>("--batch") { Description = "UNet batch (2 with guidance).", DefaultValueFactory = _ => 2 };
        var threads = BenchOptions.Threads();
        var repeat = BenchOptions.Repeat();
        var backend = BenchOptions.Backend();
        var device = BenchDevices.Device();
        var precision = BenchDevices.Precision();
        var json = BenchOptions.Json();
        var command = new Command("unet", "Time per UNet call with random weights at real sizes, with a per-operation breakdown.")
        {
            config, size, batch, threads, repeat, backend, device, precision, json,
        };
        command.SetAction(parse =>
        {
            using var budget = ComputeThreads.Use(parse.GetValue(threads));
            ComputeBackends.Select(parse.GetValue(backend)!);
            var name = parse.GetValue(config)!;
            var unetConfig = ModelPresets.UNet(name);
            int scale = ModelPresets.ImageScale(name);
            var (w, h) = ModelOptions.ParseSize(parse.GetValue(size)!);
            int b = parse.GetValue(batch);
            var setups = new List<object>();
            float[]? reference = null;
            foreach (var spec in BenchDevices.Parse(parse, device, precision))
            {
                var on = BenchDevices.Get(spec);
                using var onDevice = Device.Use(on);
                using var backendOfSetup = BenchDevices.UseBackend(spec, parse.GetValue(backend)!);
                var unet = new UNet2DConditionModel(unetConfig);
                unet.InitializeRandom(0);
                using var sample = SeededNormal.Sample(1, b, unetConfig.InChannels, h / scale, w / scale).Keep();
                using var text = SeededNormal.Sample(2, b, 77, unetConfig.CrossAttentionDim[0]).Keep();
                using var textEmbeds = unetConfig.IsSdxl
                    ? SeededNormal.Sample(3, b, unetConfig.ProjectionClassEmbeddingsInputDim!.Value - 6 * unetConfig.AdditionTimeEmbedDim!.Value).Keep()
                    : null;
                using var timeIds = unetConfig.IsSdxl ? Conditioning.SdxlTimeIds(h, w, b) : null;
                var (deviceName, computes) = BenchDevices.Describe(spec, on);
                AnsiConsole.MarkupLine($"{Markup.Escape(name)} UNet, {unet.ParameterCount() / 1e6:0} M parameters, batch {b}, latent {w / scale}×{h / scale}, " +
                    $"{ComputeThreads.Current} thread(s), {Markup.Escape(computes)}");
                float[]? output = null;
                var timing = BenchTiming.Report(() =>
                {
                    using var scope = new TensorScope();
                    var y = unet.Forward(sample, 500f, text, textEmbeds, timeIds);
                    on.Synchronize();
                    output ??= y.ToArray();
                }, parse.GetValue(repeat));
                reference ??= output;
                double error = ResultMetrics.RelativeError(output!, reference!);
                if (setups.Count > 0) AnsiConsole.MarkupLine($"relative error against the first device: {error:0.0e+0}");
                setups.Add(new { device = deviceName, precision = spec.Precision, computes,
                    relative_error_vs_first = error, call = timing.ToJson() });
                foreach (var (_, parameter) in unet.NamedParameters()) parameter.Dispose();
            }
            BenchJson.Write(parse.GetValue(json), new
            {
                config = name, batch = b, latent = $"{w / scale}x{h / scale}", threads = ComputeThreads.Current, setups,
            });
            return 0;
        });
        return command;
    }
}

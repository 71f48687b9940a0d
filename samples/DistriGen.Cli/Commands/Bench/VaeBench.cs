using System.CommandLine;
using DistriGen.Models;
using DistriGen.Models.Configuration;
using DistriGen.Models.Pipelines;
using DistriGen.Runtime.Communication;
using DistriGen.Tensors;
using DistriGen.Tensors.Compute;
using DistriGen.Tensors.Devices;
using DistriGen.Tensors.Ops;
using Spectre.Console;

namespace DistriGen.Cli.Commands.Bench;

/// <summary>
/// bench vae: the VAE decode (Stable Diffusion's VAE, random weights) on one rank with its
/// per-operation breakdown, and with --ranks N split across N in-process ranks side by side: median
/// time and the most tensor memory any rank held.
/// </summary>
internal static class VaeBench
{
    public static Command Create()
    {
        var size = new Option<string>("--size") { Description = "Image size WxH.", DefaultValueFactory = _ => "512x512" };
        var ranks = new Option<int>("--ranks") { Description = "Also decode in bands on this many in-process ranks.", DefaultValueFactory = _ => 1 };
        var threadsPerRank = new Option<int?>("--threads-per-rank") { Description = "Compute threads of each rank (and of the single rank); default --threads." };
        var threads = BenchOptions.Threads();
        var repeat = BenchOptions.Repeat();
        var backend = BenchOptions.Backend();
        var device = BenchDevices.Device();
        var precision = BenchDevices.Precision();
        var json = BenchOptions.Json();
        var command = new Command("vae", "Time and memory per VAE decode, on one rank and split across ranks.")
        {
            size, ranks, threadsPerRank, threads, repeat, backend, device, precision, json,
        };
        command.SetAction(parse =>
        {
            int t = parse.GetValue(threadsPerRank) ?? parse.GetValue(threads), n = parse.GetValue(ranks), runs = parse.GetValue(repeat);
            using var budget = ComputeThreads.Use(t);
            ComputeBackends.Select(parse.GetValue(backend)!);
            var (w, h) = ModelOptions.ParseSize(parse.GetValue(size)!);
            var devices = new List<object>();
            float[]? reference = null;
            AutoencoderKL? first = null;
            Tensor? firstLatents = null;
            DeviceSpec? firstSpec = null;
            foreach (var spec in BenchDevices.Parse(parse, device, precision))
            {
                var on = BenchDevices.Get(spec);
                using var onDevice = Device.Use(on);
                using var backendOfSetup = BenchDevices.UseBackend(spec, parse.GetValue(backend)!);
                var vae = new AutoencoderKL(VaeConfig.StableDiffusion);
                vae.InitializeRandom(0);
                var latents = SeededNormal.Sample(1, 1, 4, h / 8, w / 8).Keep();
                var (deviceName, computes) = BenchDevices.Describe(spec, on);
                AnsiConsole.MarkupLine($"VAE decode {w / 8}×{h / 8} → {w}×{h}, {ComputeThreads.Current} thread(s) per rank, {Markup.Escape(computes)}");
                float[]? output = null;
                var timing = BenchTiming.Report(() =>
                {
                    using var scope = new TensorScope();
                    var image = vae.Decode(latents);
                    on.Synchronize();
                    output ??= image.ToArray();
                }, runs);
                reference ??= output;
                double error = ResultMetrics.RelativeError(output!, reference!);
                if (devices.Count > 0) AnsiConsole.MarkupLine($"relative error against the first device: {error:0.0e+0}");
                devices.Add(new { device = deviceName, precision = spec.Precision, computes,
                    relative_error_vs_first = error, call = timing.ToJson() });
                if (first is null)
                {
                    (first, firstLatents, firstSpec) = (vae, latents, spec);
                    continue;
                }
                foreach (var (_, parameter) in vae.NamedParameters()) parameter.Dispose();
                latents.Dispose();
            }

            // Split across ranks on the first device, in its precision; the tensor pool it meters is the host's.
            using var firstBackend = BenchDevices.UseBackend(firstSpec!, parse.GetValue(backend)!);
            long weights = first!.NamedParameters().Sum(p => 4L * p.Tensor.Length);
            var setups = new List<object>();
            var table = new Table().AddColumns("setup", "s/decode (median)", "speed-up", "peak tensor memory per rank (weights included)");
            double? single = null;
            foreach (int r in n > 1 ? new[] { 1, n } : [1])
            {
                TensorMemory.Trim();
                GC.Collect();
                var perRun = new List<double>();
                long peak = 0;
                for (int i = 0; i <= runs; i++)
                {
                    var start = System.Diagnostics.Stopwatch.GetTimestamp();
                    peak = Math.Max(peak, DecodeOnce(first, firstLatents!, r, t));
                    if (i > 0) perRun.Add(System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds);
                }
                double seconds = BenchTiming.MedianOf(perRun);
                single ??= seconds;
                table.AddRow($"{r} rank{(r > 1 ? "s" : "")} × {t} thread{(t > 1 ? "s" : "")}", $"{seconds:0.000}", $"{single / seconds:0.00}×", CommunicationReport.Bytes(weights + peak));
                setups.Add(new { ranks = r, threads_per_rank = t, seconds, peak_bytes_per_rank = weights + peak });
            }
            AnsiConsole.Write(table);
            BenchJson.Write(parse.GetValue(json), new { setups, devices });
            return 0;
        });
        return command;
    }

    /// <summary>
    /// One decode on <paramref name="ranks"/> in-process ranks; the most tensor memory one rank took during it.
    /// </summary>
    private static long DecodeOnce(AutoencoderKL vae, Tensor latents, int ranks, int threads)
    {
        if (ranks == 1)
        {
            using var meter = TensorMemory.MeterThisThread();
            using (var scope = new TensorScope()) vae.Decode(latents);
            return meter.PeakBytes;
        }
        return InProcessLauncher.Run(ranks, threads, comm =>
        {
            using var meter = TensorMemory.MeterThisThread();
            using (var scope = new TensorScope()) new PatchParallelDecoder(comm, TimeSpan.FromMinutes(10)).Decode(vae, latents);
            return meter.PeakBytes;
        }).Max();
    }
}

using System.CommandLine;
using System.Diagnostics;
using DistriGen.Models;
using DistriGen.Models.Configuration;
using DistriGen.Models.Pipelines;
using DistriGen.Runtime;
using DistriGen.Tensors;
using DistriGen.Tensors.Compute;
using DistriGen.Tensors.Ops;
using Spectre.Console;

namespace DistriGen.Cli.Commands;

/// <summary>distrigen bench kernels|unet|vae|parallel: throughput measured side by side in one run.</summary>
internal static class BenchCommand
{
    public static Command Create()
    {
        var command = new Command("bench", "Benchmark kernels, models and patch-parallel runs.");
        command.Subcommands.Add(Kernels());
        command.Subcommands.Add(UNet());
        command.Subcommands.Add(Vae());
        command.Subcommands.Add(Parallel());
        command.Subcommands.Add(TextEncoder());
        return command;
    }

    private static Command TextEncoder()
    {
        var config = new Option<string>("--config") { Description = "sd15 (CLIP-L), sd2 (OpenCLIP-H) or sdxl (CLIP-L and OpenCLIP-bigG).", DefaultValueFactory = _ => "sd15" };
        var threads = Threads();
        var repeat = Repeat();
        var backend = Backend();
        var command = new Command("text-encoder", "Time to encode one prompt pair (prompt and negative prompt, 77 tokens each) with random weights at real size.")
            { config, threads, repeat, backend };
        command.SetAction(parse =>
        {
            using var budget = ComputeThreads.Use(parse.GetValue(threads));
            ComputeBackends.Select(parse.GetValue(backend)!);
            var name = parse.GetValue(config)!;
            var configs = name.ToLowerInvariant() switch
            {
                "sd15" or "sd1.5" => new[] { Models.Text.ClipTextConfig.ClipL },
                "sd2" => [Models.Text.ClipTextConfig.OpenClipH],
                "sdxl" => [Models.Text.ClipTextConfig.ClipL, Models.Text.ClipTextConfig.OpenClipBigG],
                _ => throw new ArgumentException($"--config '{name}' is not sd15, sd2 or sdxl."),
            };
            var encoders = configs.Select((c, i) =>
            {
                var encoder = new Models.Text.ClipTextModel(c);
                encoder.InitializeRandom(i);
                return encoder;
            }).ToList();
            // A prompt of 20 tokens and an empty negative prompt, padded to 77 as the pipelines do.
            var prompt = new int[77];
            var negative = new int[77];
            Array.Fill(prompt, 49407);
            Array.Fill(negative, 49407);
            prompt[0] = negative[0] = 49406;
            for (int i = 1; i <= 20; i++) prompt[i] = 320 + 97 * i;
            AnsiConsole.MarkupLine($"{Markup.Escape(name)} text encoder{(encoders.Count > 1 ? "s" : "")}: {string.Join(" + ", encoders.Select(e => $"{e.ParameterCount() / 1e6:0} M parameters"))}, " +
                $"{ComputeThreads.Current} thread(s), {Markup.Escape(ComputeBackends.Current.Name)}");
            Report(() =>
            {
                using var scope = new TensorScope();
                foreach (var encoder in encoders)
                {
                    encoder.Forward([prompt]).Dispose();
                    encoder.Forward([negative]).Dispose();
                }
            }, parse.GetValue(repeat));
            return 0;
        });
        return command;
    }

    private static Option<int> Threads() => new("--threads") { Description = "Compute threads.", DefaultValueFactory = _ => Environment.ProcessorCount };
    private static Option<string> Backend() => new("--backend") { Description = ModelOptions.BackendHelp, DefaultValueFactory = _ => "auto" };
    private static Option<int> Repeat() => new("--repeat") { Description = "Measured runs (after one warm-up); the median is reported.", DefaultValueFactory = _ => 3 };

    private static Command Kernels()
    {
        var threads = Threads();
        var repeat = Repeat();
        var command = new Command("kernels", "GFLOP/s of conv 3×3 and 1×1 (320→320, 64×64), a 2048³ matrix product and attention (4096 tokens, 8 heads × 40), per backend.") { threads, repeat };
        command.SetAction(parse =>
        {
            using var budget = ComputeThreads.Use(parse.GetValue(threads));
            int runs = parse.GetValue(repeat);
            var backends = new List<IComputeBackend> { ManagedBackend.Instance };
            if (OpenBlasBackend.TryLoad(out var why) is { } blas) backends.Add(blas);
            else AnsiConsole.MarkupLine($"[grey]OpenBLAS not measured: {Markup.Escape(why)}[/]");
            if (DnnlBackend.TryLoad(out var dnnlWhy) is { } dnnl) backends.AddRange([dnnl, DnnlBackend.TryLoad(out _, winograd: true)!]);
            else AnsiConsole.MarkupLine($"[grey]oneDNN not measured: {Markup.Escape(dnnlWhy)}[/]");
            var table = new Table().AddColumn("kernel");
            foreach (var b in backends) table.AddColumn($"{b.Name} GFLOP/s");
            var kernels = KernelCases();
            var previous = ComputeBackends.Current;
            try
            {
                foreach (var (name, flops, run) in kernels)
                {
                    var row = new List<string> { name };
                    foreach (var backend in backends)
                    {
                        ComputeBackends.Current = backend;
                        double seconds = Median(run, runs);
                        row.Add($"{flops / seconds / 1e9:0.0}");
                    }
                    table.AddRow(row.ToArray());
                }
            }
            finally
            {
                ComputeBackends.Current = previous;
            }
            AnsiConsole.MarkupLine($"{ComputeThreads.Current} thread(s)");
            AnsiConsole.Write(table);
            return 0;
        });
        return command;
    }

    private static List<(string Name, double Flops, Action Run)> KernelCases()
    {
        var cases = new List<(string, double, Action)>();
        var w3 = SeededNormal.Sample(1, 320, 320, 3, 3).Keep();
        var w1 = SeededNormal.Sample(2, 320, 320, 1, 1).Keep();
        foreach (var batch in new[] { 1, 2 })
        {
            var x = SeededNormal.Sample(3, batch, 320, 64, 64).Keep();
            cases.Add(($"conv 3×3 320→320 64×64 batch {batch}", 2.0 * batch * 320 * 4096 * 2880, () => Ops.Conv2d(x, w3, null, 1, Padding2d.Same(1)).Dispose()));
            if (batch == 2) cases.Add(("conv 1×1 320→320 64×64 batch 2", 2.0 * batch * 320 * 4096 * 320, () => Ops.Conv2d(x, w1, null, 1, default).Dispose()));
        }
        var a = SeededNormal.Sample(4, 2048, 2048).Keep();
        var b = SeededNormal.Sample(5, 2048, 2048).Keep();
        cases.Add(("matmul 2048³", 2.0 * 2048 * 2048 * 2048, () => Ops.MatMul(a, b).Dispose()));
        var q = SeededNormal.Sample(6, 1, 4096, 320).Keep();
        var k = SeededNormal.Sample(7, 1, 4096, 320).Keep();
        var v = SeededNormal.Sample(8, 1, 4096, 320).Keep();
        cases.Add(("attention 4096 tokens, 8×40", 4.0 * 4096 * 4096 * 320, () => Ops.Attention(q, k, v, 8).Dispose()));
        return cases;
    }

    private static Command UNet()
    {
        var config = new Option<string>("--config") { Description = "sd15, sdxl or a model folder.", DefaultValueFactory = _ => "sd15" };
        var size = new Option<string>("--size") { Description = "Image size WxH.", DefaultValueFactory = _ => "512x512" };
        var batch = new Option<int>("--batch") { Description = "UNet batch (2 with guidance).", DefaultValueFactory = _ => 2 };
        var threads = Threads();
        var repeat = Repeat();
        var backend = Backend();
        var command = new Command("unet", "Time per UNet call with random weights at real sizes, with a per-operation breakdown.") { config, size, batch, threads, repeat, backend };
        command.SetAction(parse =>
        {
            using var budget = ComputeThreads.Use(parse.GetValue(threads));
            ComputeBackends.Select(parse.GetValue(backend)!);
            var name = parse.GetValue(config)!;
            var unetConfig = ModelPresets.UNet(name);
            int scale = ModelPresets.ImageScale(name);
            var (w, h) = ModelOptions.ParseSize(parse.GetValue(size)!);
            var unet = new UNet2DConditionModel(unetConfig);
            unet.InitializeRandom(0);
            int b = parse.GetValue(batch);
            var sample = SeededNormal.Sample(1, b, unetConfig.InChannels, h / scale, w / scale).Keep();
            var text = SeededNormal.Sample(2, b, 77, unetConfig.CrossAttentionDim[0]).Keep();
            var textEmbeds = unetConfig.IsSdxl ? SeededNormal.Sample(3, b, unetConfig.ProjectionClassEmbeddingsInputDim!.Value - 6 * unetConfig.AdditionTimeEmbedDim!.Value).Keep() : null;
            var timeIds = unetConfig.IsSdxl ? Conditioning.SdxlTimeIds(h, w, b) : null;
            AnsiConsole.MarkupLine($"{Markup.Escape(name)} UNet, {unet.ParameterCount() / 1e6:0} M parameters, batch {b}, latent {w / scale}×{h / scale}, {ComputeThreads.Current} thread(s), {Markup.Escape(ComputeBackends.Current.Name)}");
            Report(() =>
            {
                using var scope = new TensorScope();
                unet.Forward(sample, 500f, text, textEmbeds, timeIds);
            }, parse.GetValue(repeat));
            return 0;
        });
        return command;
    }

    private static Command Vae()
    {
        var size = new Option<string>("--size") { Description = "Image size WxH.", DefaultValueFactory = _ => "512x512" };
        var threads = Threads();
        var repeat = Repeat();
        var backend = Backend();
        var command = new Command("vae", "Time per VAE decode (Stable Diffusion's VAE, random weights).") { size, threads, repeat, backend };
        command.SetAction(parse =>
        {
            using var budget = ComputeThreads.Use(parse.GetValue(threads));
            ComputeBackends.Select(parse.GetValue(backend)!);
            var (w, h) = ModelOptions.ParseSize(parse.GetValue(size)!);
            var vae = new AutoencoderKL(VaeConfig.StableDiffusion);
            vae.InitializeRandom(0);
            var latents = SeededNormal.Sample(1, 1, 4, h / 8, w / 8).Keep();
            AnsiConsole.MarkupLine($"VAE decode {w / 8}×{h / 8} → {w}×{h}, {ComputeThreads.Current} thread(s), {Markup.Escape(ComputeBackends.Current.Name)}");
            Report(() =>
            {
                using var scope = new TensorScope();
                vae.Decode(latents);
            }, parse.GetValue(repeat));
            return 0;
        });
        return command;
    }

    private static Command Parallel()
    {
        var config = new Option<string>("--config") { Description = "sd15, sdxl or a model folder.", DefaultValueFactory = _ => "sd15" };
        var size = new Option<string>("--size") { Description = "Image size WxH.", DefaultValueFactory = _ => "1024x1024" };
        var ranks = new Option<int>("--ranks") { Description = "Ranks of the parallel runs.", DefaultValueFactory = _ => 2 };
        var steps = new Option<int>("--steps") { Description = "Denoising steps per run (the first two asynchronous steps also set up buffers: time at least five after warmup).", DefaultValueFactory = _ => 6 };
        var warmup = new Option<int>("--warmup-steps") { Description = "Synchronous steps (not timed).", DefaultValueFactory = _ => 1 };
        var guidance = new Option<bool>("--guidance") { Description = "Run with classifier-free guidance (UNet batch 2)." };
        var modes = new Option<string>("--modes") { Description = "Modes after warmup to time; pcpp@0.1 sets PCPP's ratio.", DefaultValueFactory = _ => "distrifusion,exact" };
        var withBaseline = new Option<bool>("--baseline") { Description = "Also time 1 rank × 1 and × T threads.", DefaultValueFactory = _ => true };
        var breakdown = new Option<bool>("--breakdown") { Description = "Also print each setup's per-operation time per rank per step (all steps)." };
        var backend = Backend();
        var threads = Threads();
        threads.Description = "Total compute threads (per rank under mpirun).";
        var command = new Command("parallel", "Time per step of 1 rank × T threads against N ranks (× 1 and × T/N threads), asynchronous against synchronous. Under mpirun: the MPI ranks, one per process.") { config, size, ranks, steps, warmup, guidance, modes, withBaseline, breakdown, threads, backend };
        command.SetAction(parse =>
        {
            var name = parse.GetValue(config)!;
            var unetConfig = ModelPresets.UNet(name);
            int scale = ModelPresets.ImageScale(name);
            var (w, h) = ModelOptions.ParseSize(parse.GetValue(size)!);
            var model = DiffusionModel.Random(unetConfig, null, ModelPresets.Scheduler);
            int total = parse.GetValue(threads), n = parse.GetValue(ranks), stepCount = parse.GetValue(steps), warm = parse.GetValue(warmup);
            if (stepCount <= warm) throw new ArgumentException($"--steps ({stepCount}) must exceed --warmup-steps ({warm}) so that some steps are timed.");
            var request = new GenerationRequest { Steps = stepCount, GuidanceScale = parse.GetValue(guidance) ? 5f : 1f, Width = w / scale, Height = h / scale };
            var conditioning = new Conditioning(SeededNormal.Sample(1, 2, 77, unetConfig.CrossAttentionDim[0]).Keep(),
                unetConfig.IsSdxl ? SeededNormal.Sample(2, 2, unetConfig.ProjectionClassEmbeddingsInputDim!.Value - 6 * unetConfig.AdditionTimeEmbedDim!.Value).Keep() : null,
                unetConfig.IsSdxl ? Tensor.FromArray(new float[] { h, w, 0, 0, h, w, h, w, 0, 0, h, w }, 2, 6).Keep() : null);


            var table = new Table().AddColumns("setup", "mode", "s/step after warmup (median)", "speed-up vs 1 rank × 1 thread", "total s", "sent/rank/step");
            var breakdowns = new List<(string Setup, double[] Seconds)>();
            double? baseline = null;
            var modeNames = parse.GetValue(modes)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var setups = new List<(int Ranks, int Threads, string Mode)>();
            var mpi = Runtime.Communication.MpiWorld.Current;
            if (mpi is null or { Rank: 0 })
                AnsiConsole.MarkupLine($"{Markup.Escape(name)} at {w}×{h} (latent {w / scale}×{h / scale}), batch {(request.GuidanceScale > 1 ? 2 : 1)}, {stepCount} steps of which {warm} synchronous warmup (not timed), {Markup.Escape(ComputeBackends.Select(parse.GetValue(backend)!).Name)}");
            if (mpi is not null)
            {
                // Under mpirun every process is one rank of each timed run; the single-rank baseline is a separate run without mpirun.
                foreach (var mode in modeNames) setups.Add((mpi.Size, Math.Max(1, total), mode));
            }
            else
            {
                if (parse.GetValue(withBaseline))
                {
                    setups.Add((1, 1, "single"));
                    setups.Add((1, total, "single"));
                }
                foreach (var mode in modeNames)
                {
                    setups.Add((n, 1, mode));
                    if (total / n > 1) setups.Add((n, total / n, mode));
                }
            }
            foreach (var (r, t, mode) in setups.Distinct())
            {
                // Each setup starts from the same memory: the previous one's pooled tensors go back.
                TensorMemory.Trim();
                GC.Collect();
                var modeParts = mode.Split('@');
                var options = new PatchParallelOptions { Mode = mode == "single" ? ParallelMode.Exact : ModelOptions.ParseMode(modeParts[0]), WarmupSteps = warm };
                if (modeParts.Length > 1) options.PcppRatio = double.Parse(modeParts[1], System.Globalization.CultureInfo.InvariantCulture);
                // The breakdown starts when the warmup steps are done, like the timing.
                var progress = new StepClock(warm, OpProfiler.Reset);
                var times = progress.Times;
                OpProfiler.Enabled = parse.GetValue(breakdown);
                var (_, report) = new ParallelSetup(r, t, options, parse.GetValue(backend)!).Generate(model, request, conditioning, progress);
                OpProfiler.Enabled = false;
                // The median step is the steady state: the first asynchronous step lays out (and first touches) the exchange buffers, the second the receiving ones.
                var stepSeconds = times.Skip(warm + 1).Zip(times.Skip(warm), (b, a) => Stopwatch.GetElapsedTime(a, b).TotalSeconds).Order().ToArray();
                // Only the reporting rank records steps; under mpirun the others have none.
                double perStep = stepSeconds.Length > 0 ? stepSeconds[stepSeconds.Length / 2] : double.NaN, runSeconds = Stopwatch.GetElapsedTime(times[0], times[^1]).TotalSeconds;
                if (r == 1 && t == 1) baseline = perStep;
                if (mpi is { Rank: not 0 }) continue;
                if (parse.GetValue(breakdown) && stepSeconds.Length > 0)
                {
                    // Summed over the process's ranks, so per rank and step: divide by the ranks in it.
                    int here = mpi is null ? r : 1;
                    var perRankStep = OpProfiler.Snapshot().Select(o => o.Seconds / here / (stepCount - warm)).ToArray();
                    breakdowns.Add(($"{r}×{t} {mode}", [.. perRankStep, stepSeconds.Average() - perRankStep.Sum()]));
                }
                table.AddRow($"{r} rank{(r > 1 ? "s" : "")} × {t} thread{(t > 1 ? "s" : "")}", r == 1 ? "single device" : mode, $"{perStep:0.000}", baseline is { } b0 ? $"{b0 / perStep:0.00}×" : "", $"{runSeconds:0.0}", report is null ? "0" : CommunicationReport.Bytes(report.LayerBytesPerStep + report.GatherPerStep));
            }
            if (mpi is null or { Rank: 0 })
            {
                AnsiConsole.Write(table);
                if (breakdowns.Count > 0)
                {
                    AnsiConsole.MarkupLine("Seconds per rank per step after warmup, by operation:");
                    var opTable = new Table().AddColumn("operation").AddColumns(breakdowns.Select(b => Markup.Escape(b.Setup)).ToArray());
                    string[] names = [.. Enum.GetNames<OpCategory>(), "other (unmeasured)"];
                    for (int i = 0; i < names.Length; i++)
                        opTable.AddRow([names[i], .. breakdowns.Select(b => $"{b.Seconds[i]:0.000}")]);
                    AnsiConsole.Write(opTable);
                }
            }
            return 0;
        });
        return command;
    }

    /// <summary>Time stamps of step ends (and the start), recorded on the reporting rank's thread; <paramref name="warmupDone"/> runs when the warmup steps end.</summary>
    private sealed class StepClock(int warmupSteps, Action warmupDone) : IProgress<StepProgress>
    {
        public List<long> Times { get; } = [Stopwatch.GetTimestamp()];

        public void Report(StepProgress value)
        {
            Times.Add(Stopwatch.GetTimestamp());
            if (Times.Count == warmupSteps + 1) warmupDone();
        }
    }

    /// <summary>Times <paramref name="run"/> (one warm-up, then the median of <paramref name="repeats"/>) with the per-operation breakdown and memory.</summary>
    private static void Report(Action run, int repeats)
    {
        run();
        TensorMemory.ResetPeak();
        OpProfiler.Reset();
        OpProfiler.Enabled = true;
        var seconds = new List<double>();
        for (int i = 0; i < repeats; i++)
        {
            var start = Stopwatch.GetTimestamp();
            run();
            seconds.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        OpProfiler.Enabled = false;
        double median = seconds.Order().ElementAt(seconds.Count / 2);
        var ops = OpProfiler.Snapshot();
        double flops = ops.Sum(o => (double)o.Flops) / repeats;
        AnsiConsole.MarkupLine($"time per call: [bold]{median:0.000} s[/] (median of {repeats}) · {flops / 1e12:0.000} TFLOP · {flops / median / 1e9:0.0} GFLOP/s · peak tensor memory {CommunicationReport.Bytes(TensorMemory.PeakLiveBytes)} · peak working set {CommunicationReport.Bytes(Process.GetCurrentProcess().PeakWorkingSet64)}");
        var table = new Table().AddColumns("operation", "s/call", "share", "GFLOP/s", "calls/call");
        double total = ops.Sum(o => o.Seconds) / repeats;
        foreach (var (category, secs, f, calls) in ops.Where(o => o.Calls > 0).OrderByDescending(o => o.Seconds))
            table.AddRow(category.ToString(), $"{secs / repeats:0.000}", $"{secs / repeats / median:P0}", f > 0 ? $"{f / secs / 1e9:0.0}" : "", $"{calls / repeats}");
        table.AddRow("other (unmeasured)", $"{Math.Max(0, median - total):0.000}", $"{Math.Max(0, median - total) / median:P0}", "", "");
        AnsiConsole.Write(table);
    }

    private static double Median(Action run, int repeats)
    {
        run();
        var seconds = new List<double>();
        for (int i = 0; i < repeats; i++)
        {
            var start = Stopwatch.GetTimestamp();
            run();
            seconds.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return seconds.Order().ElementAt(seconds.Count / 2);
    }
}

using System.CommandLine;
using System.Diagnostics;
using DistriGen.Models.Pipelines;
using DistriGen.Runtime;
using DistriGen.Tensors;
using DistriGen.Tensors.Compute;
using DistriGen.Tensors.Ops;
using Spectre.Console;

namespace DistriGen.Cli.Commands.Bench;

/// <summary>
/// bench parallel: seconds per step of 1 rank × T threads against N ranks (× 1 and × T/N threads),
/// asynchronous against synchronous, with bytes sent and the per-operation breakdown.
/// </summary>
internal static class ParallelBench
{
    public static Command Create()
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
        var backend = BenchOptions.Backend();
        var device = ModelOptions.DeviceOption();
        var precision = ModelOptions.PrecisionOption();
        var json = BenchOptions.Json();
        var threads = BenchOptions.Threads();
        threads.Description = "Total compute threads (per rank under mpirun).";
        var command = new Command("parallel", "Time per step of 1 rank × T threads against N ranks (× 1 and × T/N threads), asynchronous against synchronous. Under mpirun: the MPI ranks, one per process.") { config, size, ranks, steps, warmup, guidance, modes, withBaseline, breakdown, threads, backend, device, precision, json };
        command.SetAction(parse =>
        {
            var name = parse.GetValue(config)!;
            var unetConfig = ModelPresets.UNet(name);
            int scale = ModelPresets.ImageScale(name);
            var (w, h) = ModelOptions.ParseSize(parse.GetValue(size)!);
            var spec = ModelOptions.ParseDevice(parse, device, precision);
            DiffusionModel model;
            using (Tensors.Devices.Device.Use(ParallelSetup.Single(1, spec).FirstDevice))
                model = DiffusionModel.Random(unetConfig, null, ModelPresets.Scheduler);
            int total = parse.GetValue(threads), n = parse.GetValue(ranks), stepCount = parse.GetValue(steps), warm = parse.GetValue(warmup);
            if (stepCount <= warm) throw new ArgumentException($"--steps ({stepCount}) must exceed --warmup-steps ({warm}) so that some steps are timed.");
            var request = new GenerationRequest { Steps = stepCount, GuidanceScale = parse.GetValue(guidance) ? 5f : 1f, Width = w / scale, Height = h / scale };
            var conditioning = new Conditioning(SeededNormal.Sample(1, 2, 77, unetConfig.CrossAttentionDim[0]).Keep(),
                unetConfig.IsSdxl ? SeededNormal.Sample(2, 2, unetConfig.ProjectionClassEmbeddingsInputDim!.Value - 6 * unetConfig.AdditionTimeEmbedDim!.Value).Keep() : null,
                unetConfig.IsSdxl ? Conditioning.SdxlTimeIds(h, w, 2) : null);


            var table = new Table().AddColumns("setup", "mode", "s/step after warmup (median)", "speed-up vs 1 rank × 1 thread", "total s", "sent/rank/step");
            var rows = new List<object>();
            var breakdowns = new List<(string Setup, double[] Seconds)>();
            double? baseline = null;
            var modeNames = parse.GetValue(modes)!.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
            var setups = new List<(int Ranks, int Threads, string Mode)>();
            var mpi = Runtime.Communication.MpiWorld.Current;
            if (mpi is null or { Rank: 0 })
                AnsiConsole.MarkupLine($"{Markup.Escape(name)} at {w}×{h} (latent {w / scale}×{h / scale}), batch {(request.GuidanceScale > 1 ? 2 : 1)}, {stepCount} steps of which {warm} synchronous warmup (not timed), {Markup.Escape(ComputeBackends.Select(parse.GetValue(backend)!).Name)}");
            if (mpi is not null)
            {
                // Under mpirun every process is one rank of each timed run; the single-rank baseline is a separate run
                // without mpirun.
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
                var (_, report) = new ParallelSetup(r, t, options, parse.GetValue(backend)!) { Device = spec }.Generate(model, request, conditioning, progress);
                OpProfiler.Enabled = false;
                // The median step is the steady state: the first asynchronous step lays out (and first touches) the
                // exchange buffers, the second the receiving ones.
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
                double sentPerStep = report is null ? 0 : report.LayerBytesPerStep + report.GatherPerStep;
                table.AddRow($"{r} rank{(r > 1 ? "s" : "")} × {t} thread{(t > 1 ? "s" : "")}", r == 1 ? "single device" : mode, $"{perStep:0.000}",
                    baseline is { } b0 ? $"{b0 / perStep:0.00}×" : "", $"{runSeconds:0.0}", CommunicationReport.Bytes(sentPerStep));
                rows.Add(new { ranks = r, threads_per_rank = t, mode = r == 1 ? "single" : mode, seconds_per_step = perStep, speedup = baseline is { } b1 ? b1 / perStep : (double?)null,
                    total_seconds = runSeconds, bytes_sent_per_rank_per_step = sentPerStep });
            }
            if (mpi is null or { Rank: 0 })
            {
                BenchJson.Write(parse.GetValue(json), new { config = name, size = $"{w}x{h}", steps = stepCount, warmup_steps = warm, setups = rows });
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

    /// <summary>
    /// Time stamps of step ends (and the start), recorded on the reporting rank's thread; <paramref name="warmupDone"/>
    /// runs when the warmup steps end.
    /// </summary>
    private sealed class StepClock(int warmupSteps, Action warmupDone) : IProgress<StepProgress>
    {
        public List<long> Times { get; } = [Stopwatch.GetTimestamp()];

        public void Report(StepProgress value)
        {
            Times.Add(Stopwatch.GetTimestamp());
            if (Times.Count == warmupSteps + 1) warmupDone();
        }
    }
}

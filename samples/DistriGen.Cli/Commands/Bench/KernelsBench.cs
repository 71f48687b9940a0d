using System.CommandLine;
using DistriGen.Tensors;
using DistriGen.Tensors.Compute;
using DistriGen.Tensors.Devices;
using DistriGen.Tensors.Ops;
using Spectre.Console;

namespace DistriGen.Cli.Commands.Bench;

/// <summary>bench kernels: GFLOP/s (and ms) of the operations that dominate a UNet call, per compute path.</summary>
internal static class KernelsBench
{
    public static Command Create()
    {
        var threads = BenchOptions.Threads();
        var repeat = BenchOptions.Repeat();
        var device = BenchDevices.Device();
        var precision = BenchDevices.Precision();
        var json = BenchOptions.Json();
        var command = new Command("kernels",
            "GFLOP/s of conv 3×3 and 1×1 (320→320, 64×64), a 2048³ matrix product and linear layer, " +
            "attention (4096 tokens, 8 heads × 40) " +
            "and GroupNorm (+SiLU) on (2, 320, 64, 64), per host backend and per LibTorch device.") { threads, repeat, device, precision, json };
        command.SetAction(parse =>
        {
            using var budget = ComputeThreads.Use(parse.GetValue(threads));
            int runs = parse.GetValue(repeat);
            // A column is a host backend (every one, whatever --precision says: bf16 is one of them) or a LibTorch
            // device.
            var columns = new List<(string Name, Device Device, IComputeBackend? Backend)>();
            var specs = BenchDevices.Parse(parse, device, precision).ToList();
            if (specs.Any(s => s.IsHost))
            {
                columns.Add((ManagedBackend.Instance.Name, Device.Host, ManagedBackend.Instance));
                if (OpenBlasBackend.TryLoad(out var why) is { } blas) columns.Add((blas.Name, Device.Host, blas));
                else AnsiConsole.MarkupLine($"[grey]OpenBLAS not measured: {Markup.Escape(why)}[/]");
                if (DnnlBackend.TryLoad(out var dnnlWhy) is { } dnnl)
                {
                    var winograd = DnnlBackend.TryLoad(out _, winograd: true)!;
                    var bf16 = DnnlBackend.TryLoad(out _, bfloat16: true)!;
                    columns.AddRange([(dnnl.Name, Device.Host, dnnl), (winograd.Name, Device.Host, winograd),
                        (bf16.Name, Device.Host, bf16)]);
                }
                else AnsiConsole.MarkupLine($"[grey]oneDNN not measured: {Markup.Escape(dnnlWhy)}[/]");
            }
            foreach (var spec in specs.Where(s => !s.IsHost))
            {
                var on = BenchDevices.Get(spec);
                columns.Add((on.Name, on, null));
            }
            var seconds = new Dictionary<(string Kernel, string Column), double>();
            var names = new List<(string Name, double Flops)>();
            var results = new List<object>();
            var previous = ComputeBackends.Current;
            try
            {
                foreach (var column in columns)
                {
                    if (column.Backend is not null) ComputeBackends.Current = column.Backend;
                    using var onDevice = Device.Use(column.Device);
                    foreach (var (name, flops, run) in Cases())
                    {
                        double s = BenchTiming.Median(() =>
                        {
                            run();
                            column.Device.Synchronize();
                        }, runs);
                        seconds[(name, column.Name)] = s;
                        if (!names.Contains((name, flops))) names.Add((name, flops));
                        results.Add(new { kernel = name, backend = column.Name, seconds = s, gflops_per_second = flops / s / 1e9 });
                    }
                }
            }
            finally
            {
                ComputeBackends.Current = previous;
            }
            var table = new Table().AddColumn("kernel");
            foreach (var column in columns) table.AddColumn($"{column.Name} GFLOP/s (ms)");
            foreach (var (name, flops) in names)
                table.AddRow([name, .. columns.Select(c => $"{flops / seconds[(name, c.Name)] / 1e9:0.0} ({seconds[(name, c.Name)] * 1e3:0.00})")]);
            AnsiConsole.MarkupLine($"{ComputeThreads.Current} thread(s)");
            AnsiConsole.Write(table);
            BenchJson.Write(parse.GetValue(json), new { threads = ComputeThreads.Current, kernels = results });
            return 0;
        });
        return command;
    }

    /// <summary>
    /// Seeded values in a parameter of the current device, so a LibTorch device holds them in its precision.
    /// </summary>
    private static Tensor Input(long seed, params int[] shape)
    {
        var values = new float[shape.Aggregate(1, (a, b) => a * b)];
        new SeededNormal(seed).Fill(values);
        var t = Tensor.Parameter(shape);
        Ops.CopyFromHost(values, t);
        return t;
    }

    private static List<(string Name, double Flops, Action Run)> Cases()
    {
        var cases = new List<(string, double, Action)>();
        var w3 = Input(1, 320, 320, 3, 3);
        var w1 = Input(2, 320, 320, 1, 1);
        foreach (var batch in new[] { 1, 2 })
        {
            var x = Input(3, batch, 320, 64, 64);
            cases.Add(($"conv 3×3 320→320 64×64 batch {batch}", 2.0 * batch * 320 * 4096 * 2880, () => Ops.Conv2d(x, w3, null, 1, Padding2d.Same(1)).Dispose()));
            if (batch == 2) cases.Add(("conv 1×1 320→320 64×64 batch 2", 2.0 * batch * 320 * 4096 * 320, () => Ops.Conv2d(x, w1, null, 1, default).Dispose()));
        }
        var a = Input(4, 2048, 2048);
        var b = Input(5, 2048, 2048);
        cases.Add(("matmul 2048³", 2.0 * 2048 * 2048 * 2048, () => Ops.MatMul(a, b).Dispose()));
        // A layer's product, x · Wᵀ with W as stored: the one the models run, in bf16 on the bf16 backend.
        var tokens = Input(12, 2048, 2048);
        cases.Add(("linear 2048 tokens, 2048→2048", 2.0 * 2048 * 2048 * 2048, () =>
        {
            var native = ComputeBackends.Current as ITransposedGemmBackend;
            var y = native is not null || !a.Device.IsHost
                ? Ops.LinearTransposed(tokens, a, null, native)
                : Ops.MatMul(tokens, b);
            y.Dispose();
        }));
        var q = Input(6, 1, 4096, 320);
        var k = Input(7, 1, 4096, 320);
        var v = Input(8, 1, 4096, 320);
        cases.Add(("attention 4096 tokens, 8×40", 4.0 * 4096 * 4096 * 320, () => Ops.Attention(q, k, v, 8).Dispose()));
        var norm = Input(9, 2, 320, 64, 64);
        var gamma = Input(10, 320);
        var beta = Input(11, 320);
        // Counted as 5 operations per element (two sums, subtract, scale, shift), as PyTorch's profiler would.
        cases.Add(("group norm (2, 320, 64, 64), 32 groups", 5.0 * norm.Length, () => Ops.GroupNorm(norm, 32, gamma, beta, 1e-5f).Dispose()));
        cases.Add(("group norm + SiLU, same", 9.0 * norm.Length, () => Ops.GroupNorm(norm, 32, gamma, beta, 1e-5f, Activation.Silu).Dispose()));
        return cases;
    }
}

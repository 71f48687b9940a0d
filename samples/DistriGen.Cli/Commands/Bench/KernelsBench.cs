using System.CommandLine;
using DistriGen.Tensors;
using DistriGen.Tensors.Compute;
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
        var json = BenchOptions.Json();
        var command = new Command("kernels", "GFLOP/s of conv 3×3 and 1×1 (320→320, 64×64), a 2048³ matrix product, attention (4096 tokens, 8 heads × 40) " +
            "and GroupNorm (+SiLU) on (2, 320, 64, 64), per backend.") { threads, repeat, json };
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
            foreach (var b in backends) table.AddColumn($"{b.Name} GFLOP/s (ms)");
            var results = new List<object>();
            var previous = ComputeBackends.Current;
            try
            {
                foreach (var (name, flops, run) in Cases())
                {
                    var row = new List<string> { name };
                    foreach (var backend in backends)
                    {
                        ComputeBackends.Current = backend;
                        double seconds = BenchTiming.Median(run, runs);
                        row.Add($"{flops / seconds / 1e9:0.0} ({seconds * 1e3:0.00})");
                        results.Add(new { kernel = name, backend = backend.Name, seconds, gflops_per_second = flops / seconds / 1e9 });
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
            BenchJson.Write(parse.GetValue(json), new { threads = ComputeThreads.Current, kernels = results });
            return 0;
        });
        return command;
    }

    private static List<(string Name, double Flops, Action Run)> Cases()
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
        var norm = SeededNormal.Sample(9, 2, 320, 64, 64).Keep();
        var gamma = Tensor.Full(1f, 320).Keep();
        var beta = Tensor.Zeros(320).Keep();
        // Counted as 5 operations per element (two sums, subtract, scale, shift), as PyTorch's profiler would.
        cases.Add(("group norm (2, 320, 64, 64), 32 groups", 5.0 * norm.Length, () => Ops.GroupNorm(norm, 32, gamma, beta, 1e-5f).Dispose()));
        cases.Add(("group norm + SiLU, same", 9.0 * norm.Length, () => Ops.GroupNorm(norm, 32, gamma, beta, 1e-5f, Activation.Silu).Dispose()));
        return cases;
    }
}

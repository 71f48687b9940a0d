using System.Diagnostics;
using DistriGen.Models.Pipelines;
using DistriGen.Tensors;
using DistriGen.Tensors.Ops;
using Spectre.Console;

namespace DistriGen.Cli.Commands.Bench;

/// <summary>What one timed model call measured: the median time, the work and where the time went.</summary>
internal sealed record CallTiming(double Seconds, double Flops, long PeakTensorBytes, long PeakWorkingSetBytes,
    IReadOnlyList<(OpCategory Category, double Seconds, double Flops, double Calls)> Operations)
{
    public object ToJson() => new
    {
        seconds = Seconds,
        tflop = Flops / 1e12,
        gflops_per_second = Flops / Seconds / 1e9,
        peak_tensor_bytes = PeakTensorBytes,
        peak_working_set_bytes = PeakWorkingSetBytes,
        operations = Operations.Select(o => new { operation = o.Category.ToString(), seconds = o.Seconds, gflops_per_second = o.Flops > 0 ? o.Flops / o.Seconds / 1e9 : 0, calls = o.Calls }),
    };
}

/// <summary>Timing helpers: one warm-up run, then the median of the measured runs.</summary>
internal static class BenchTiming
{
    public static double Median(Action run, int repeats)
    {
        run();
        return MedianOf(Times(run, repeats));
    }

    /// <summary>
    /// Times <paramref name="run"/> (after one warm-up) with the per-operation breakdown and memory, and prints it.
    /// </summary>
    public static CallTiming Report(Action run, int repeats)
    {
        run();
        TensorMemory.ResetPeak();
        OpProfiler.Reset();
        OpProfiler.Enabled = true;
        List<double> seconds;
        try
        {
            seconds = Times(run, repeats);
        }
        finally
        {
            OpProfiler.Enabled = false;
        }
        double median = MedianOf(seconds);
        var perCall = OpProfiler.Snapshot().Where(o => o.Calls > 0)
            .Select(o => (o.Category, o.Seconds / repeats, (double)o.Flops / repeats, (double)o.Calls / repeats)).ToList();
        var timing = new CallTiming(median, perCall.Sum(o => o.Item3), TensorMemory.PeakLiveBytes, Process.GetCurrentProcess().PeakWorkingSet64, perCall);
        AnsiConsole.MarkupLine($"time per call: [bold]{median:0.000} s[/] (median of {repeats}) · {timing.Flops / 1e12:0.000} TFLOP · {timing.Flops / median / 1e9:0.0} GFLOP/s · " +
            $"peak tensor memory {CommunicationReport.Bytes(timing.PeakTensorBytes)} · peak working set {CommunicationReport.Bytes(timing.PeakWorkingSetBytes)}");
        var table = new Table().AddColumns("operation", "s/call", "share", "GFLOP/s", "calls/call");
        foreach (var (category, secs, flops, calls) in perCall.OrderByDescending(o => o.Item2))
            table.AddRow(category.ToString(), $"{secs:0.000}", $"{secs / median:P0}", flops > 0 ? $"{flops / secs / 1e9:0.0}" : "", $"{calls:0}");
        double measured = perCall.Sum(o => o.Item2);
        table.AddRow("other (unmeasured)", $"{Math.Max(0, median - measured):0.000}", $"{Math.Max(0, median - measured) / median:P0}", "", "");
        AnsiConsole.Write(table);
        return timing;
    }

    private static List<double> Times(Action run, int repeats)
    {
        var seconds = new List<double>();
        for (int i = 0; i < repeats; i++)
        {
            var start = Stopwatch.GetTimestamp();
            run();
            seconds.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        return seconds;
    }

    public static double MedianOf(IEnumerable<double> values)
    {
        var sorted = values.Order().ToList();
        return sorted.Count == 0 ? double.NaN : sorted[sorted.Count / 2];
    }
}

using System.Diagnostics;

namespace DistriGen.Tensors.Ops;

/// <summary>What kind of work an operation is, for the per-operation breakdown of a benchmark.</summary>
public enum OpCategory
{
    Conv,
    MatMul,
    Attention,
    Norm,
    Elementwise,
    Layout,
    Communication,
}

/// <summary>
/// Time and floating-point operations per <see cref="OpCategory"/>, summed over all threads, while
/// <see cref="Enabled"/> is set. Off by default: then a measurement costs one branch.
/// </summary>
public static class OpProfiler
{
    private static readonly long[] Ticks = new long[Enum.GetValues<OpCategory>().Length];
    private static readonly long[] Flops = new long[Ticks.Length];
    private static readonly long[] Calls = new long[Ticks.Length];

    public static bool Enabled { get; set; }

    public static void Reset()
    {
        Array.Clear(Ticks);
        Array.Clear(Flops);
        Array.Clear(Calls);
    }

    public static Measurement Measure(OpCategory category, long flops = 0) => Enabled ? new Measurement(category, flops, Stopwatch.GetTimestamp()) : default;

    /// <summary>A snapshot: (category, seconds, flops, calls).</summary>
    public static IReadOnlyList<(OpCategory Category, double Seconds, long Flops, long Calls)> Snapshot() =>
        Enum.GetValues<OpCategory>().Select(c => (c, Interlocked.Read(ref Ticks[(int)c]) / (double)Stopwatch.Frequency, Interlocked.Read(ref Flops[(int)c]), Interlocked.Read(ref Calls[(int)c]))).ToArray();

    public readonly struct Measurement(OpCategory category, long flops, long start) : IDisposable
    {
        public void Dispose()
        {
            if (start == 0) return;
            Interlocked.Add(ref Ticks[(int)category], Stopwatch.GetTimestamp() - start);
            Interlocked.Add(ref Flops[(int)category], flops);
            Interlocked.Increment(ref Calls[(int)category]);
        }
    }
}

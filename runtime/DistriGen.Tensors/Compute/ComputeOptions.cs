namespace DistriGen.Tensors.Compute;

/// <summary>
/// The thread budget kernels may use on the calling thread. Each rank of an in-process run is a
/// thread with its own budget, so one rank's kernels never take another's cores.
/// </summary>
public static class ComputeThreads
{
    [ThreadStatic] private static int _threadBudget;
    private static int _defaultThreads = Environment.ProcessorCount;

    /// <summary>Threads used by kernels started on threads that set no budget of their own.</summary>
    public static int Default
    {
        get => _defaultThreads;
        set => _defaultThreads = value >= 1 ? value : throw new ArgumentOutOfRangeException(nameof(value), value, "A thread budget is at least 1.");
    }

    /// <summary>The budget for kernels started on this thread.</summary>
    public static int Current => _threadBudget > 0 ? _threadBudget : _defaultThreads;

    /// <summary>Sets this thread's budget until the returned object is disposed.</summary>
    public static IDisposable Use(int threads)
    {
        if (threads < 1) throw new ArgumentOutOfRangeException(nameof(threads), threads, "A thread budget is at least 1.");
        var previous = _threadBudget;
        _threadBudget = threads;
        return new Restore(previous);
    }

    /// <summary>Runs <paramref name="body"/> for 0..count-1 on at most <paramref name="threads"/> threads.</summary>
    public static void For(int count, int threads, Action<int> body)
    {
        if (count <= 0) return;
        if (threads <= 1 || count == 1)
        {
            for (int i = 0; i < count; i++) body(i);
            return;
        }
        Parallel.For(0, count, new ParallelOptions { MaxDegreeOfParallelism = Math.Min(threads, count) }, body);
    }

    private sealed class Restore(int previous) : IDisposable
    {
        public void Dispose() => _threadBudget = previous;
    }
}

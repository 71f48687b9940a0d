using System.Collections.Concurrent;

namespace DistriGen.Tensors;

/// <summary>
/// A pool of float arrays by exact length. A diffusion loop asks for the same sizes every step, so
/// after the first step no new memory is taken; the pool keeps at most <see cref="MaxPooledBytes"/>.
/// </summary>
public static class TensorMemory
{
    private static readonly ConcurrentDictionary<int, ConcurrentBag<float[]>> Free = new();
    /// <summary>For each pooled length, the epoch it was last rented in (see <see cref="TrimUnused"/>).</summary>
    private static readonly ConcurrentDictionary<int, long> LastRented = new();
    private static long _epoch;
    [ThreadStatic] private static MemoryMeter? _meter;
    private static long _pooledBytes;
    private static long _liveBytes;
    private static long _peakLiveBytes;

    /// <summary>The most bytes kept for reuse: a quarter of the memory available to the process, at most 8 GiB.</summary>
    public static long MaxPooledBytes { get; set; } = Math.Min(8L << 30, GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / 4);

    /// <summary>Bytes held by live tensors now.</summary>
    public static long LiveBytes => Interlocked.Read(ref _liveBytes);

    /// <summary>The most bytes live tensors held at once since the last <see cref="ResetPeak"/>.</summary>
    public static long PeakLiveBytes => Interlocked.Read(ref _peakLiveBytes);

    public static void ResetPeak() => Interlocked.Exchange(ref _peakLiveBytes, LiveBytes);

    internal static float[] Rent(int length)
    {
        float[]? array = null;
        if (length > 0 && Free.TryGetValue(length, out var bag) && bag.TryTake(out array))
            Interlocked.Add(ref _pooledBytes, -4L * length);
        if (length > 0) LastRented[length] = Interlocked.Read(ref _epoch);
        array ??= length == 0 ? [] : GC.AllocateUninitializedArray<float>(length);
        _meter?.Add(4L * length);
        long live = Interlocked.Add(ref _liveBytes, 4L * length);
        long peak;
        while (live > (peak = Interlocked.Read(ref _peakLiveBytes)) && Interlocked.CompareExchange(ref _peakLiveBytes, live, peak) != peak) { }
        return array;
    }

    internal static void Return(float[] array)
    {
        _meter?.Add(-4L * array.Length);
        Interlocked.Add(ref _liveBytes, -4L * array.Length);
        if (array.Length == 0 || Interlocked.Read(ref _pooledBytes) + 4L * array.Length > MaxPooledBytes) return;
        Free.GetOrAdd(array.Length, _ => new ConcurrentBag<float[]>()).Add(array);
        Interlocked.Add(ref _pooledBytes, 4L * array.Length);
    }

    /// <summary>
    /// Counts the tensor memory this thread takes and gives back until disposed: the peak is what one
    /// rank of an in-process run holds at most (the ranks share the pool, so its own peak cannot say).
    /// </summary>
    public static MemoryMeter MeterThisThread() => _meter = new MemoryMeter(_meter);

    /// <summary>Tensor bytes taken on one thread: live now and at most.</summary>
    public sealed class MemoryMeter : IDisposable
    {
        private readonly MemoryMeter? _outer;

        internal MemoryMeter(MemoryMeter? outer) => _outer = outer;

        public long LiveBytes { get; private set; }
        public long PeakBytes { get; private set; }

        internal void Add(long bytes)
        {
            LiveBytes += bytes;
            if (LiveBytes > PeakBytes) PeakBytes = LiveBytes;
            _outer?.Add(bytes);
        }

        public void Dispose()
        {
            if (_meter == this) _meter = _outer;
        }
    }

    /// <summary>Bytes kept in the pool for reuse now.</summary>
    public static long PooledBytes => Interlocked.Read(ref _pooledBytes);

    /// <summary>
    /// Ends an epoch (e.g. a generation): pooled arrays of lengths not asked for since the previous call
    /// go back to the garbage collector, so a host that generates at many sizes keeps only what the
    /// current size needs.
    /// </summary>
    public static void TrimUnused()
    {
        long epoch = Interlocked.Increment(ref _epoch) - 1, released = 0;
        foreach (var (length, bag) in Free)
        {
            if (LastRented.TryGetValue(length, out var last) && last >= epoch) continue;
            while (bag.TryTake(out _))
            {
                Interlocked.Add(ref _pooledBytes, -4L * length);
                released += 4L * length;
            }
            LastRented.TryRemove(length, out _);
        }
        // Large arrays live on the large-object heap, which the runtime neither compacts nor gives back
        // on its own soon: after letting go of much, give the memory back to the system now.
        if (released > 64L << 20)
        {
            System.Runtime.GCSettings.LargeObjectHeapCompactionMode = System.Runtime.GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect();
        }
    }

    /// <summary>Gives pooled arrays back to the garbage collector.</summary>
    public static void Trim()
    {
        Free.Clear();
        Interlocked.Exchange(ref _pooledBytes, 0);
    }
}

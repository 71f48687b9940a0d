using DistriGen.Tensors;
using DistriGen.Tensors.Ops;
using System.Runtime.InteropServices;

namespace DistriGen.Runtime;

/// <summary>The kind of a communication point, for byte accounting.</summary>
public enum CommKind
{
    Halo,
    Attention,
    GroupNorm,
}

/// <summary>When a communication point exchanges.</summary>
public enum SlotSchedule
{
    /// <summary>Synchronously in warmup steps, asynchronously (bucketed, one step stale) after.</summary>
    WarmupSyncThenAsync,
    /// <summary>Synchronously at every step (e.g. GroupNorm in its Exact mode).</summary>
    EveryStepSync,
    /// <summary>Only in warmup steps (e.g. GroupNorm in Separate mode, PCPP's full attention).</summary>
    WarmupOnly,
    /// <summary>Only after warmup, asynchronously (PCPP's attention window).</summary>
    AsyncOnly,
}

/// <summary>Writes a point's fresh values for <paramref name="peer"/> into <paramref name="destination"/>, which holds exactly the registered count.</summary>
public delegate void PointWriter(int peer, Span<float> destination);

/// <summary>
/// DistriFusion's communication manager. The first step registers every communication point in
/// execution order with how many values it sends to and receives from each peer; then one flat
/// buffer per peer holds every point's data. Synchronous steps exchange point by point. In
/// asynchronous steps a point copies its fresh data into its slot of the send buffers, and when the
/// last point of a bucket of K has done so, the bucket goes to each peer in one message; a point
/// waits for the previous step's bucket only when it next needs the data.
/// </summary>
public sealed class ActivationCache
{
    private readonly Communication.ICommunicator _comm;
    private readonly StepScheduler _scheduler;
    private readonly int _bucketSize;
    private readonly List<Slot> _slots = [];
    private readonly List<Slot> _asyncSlots = [];
    private readonly long[] _bytesByKind = new long[Enum.GetValues<CommKind>().Length];
    private float[][]? _sendBuffers;
    private float[][]? _receiveBuffers;
    private int[] _published = [];
    private bool _sealed;
    private bool _registrationClosed;

    internal ActivationCache(Communication.ICommunicator comm, StepScheduler scheduler, int bucketSize)
    {
        _comm = comm;
        _scheduler = scheduler;
        _bucketSize = bucketSize;
    }

    public int Count => _slots.Count;

    /// <summary>The registered points: path, kind, schedule and values sent to each peer.</summary>
    public IReadOnlyList<(string Path, CommKind Kind, SlotSchedule Schedule, IReadOnlyList<int> SendCounts)> Slots =>
        _slots.Select(s => (s.Path, s.Kind, s.Schedule, (IReadOnlyList<int>)s.SendCounts)).ToList();

    /// <summary>Bytes this rank sends in one step of each kind, from the registered points (the plan's prediction).</summary>
    public (long Sync, long Async) PredictedBytesPerStep(CommKind? kind = null)
    {
        long sync = 0, async = 0;
        foreach (var s in _slots)
        {
            if (kind is not null && s.Kind != kind) continue;
            long bytes = 4L * s.SendCounts.Sum(c => (long)c);
            if (s.Schedule != SlotSchedule.AsyncOnly) sync += bytes;
            if (s.Schedule is not SlotSchedule.WarmupOnly) async += bytes;
        }
        return (sync, async);
    }

    /// <summary>What <paramref name="peer"/> sent for this point in this step's synchronous <see cref="Exchange"/>.</summary>
    public ReadOnlySpan<float> Current(int slotId, int peer)
    {
        var s = _slots[slotId];
        if (s.ReceivedStep[peer] != _scheduler.Step)
            throw new InvalidOperationException($"'{s.Path}' has no data of step {_scheduler.Step} from rank {peer}.");
        return s.Received[peer].Span;
    }

    /// <summary>Bytes sent per kind since <see cref="ResetCounters"/>.</summary>
    public long BytesSent(CommKind kind) => Interlocked.Read(ref _bytesByKind[(int)kind]);

    public long TotalBytesSent => _bytesByKind.Sum();

    public void ResetCounters() => Array.Clear(_bytesByKind);

    /// <summary>
    /// Registers a point at its first use; <paramref name="sendCounts"/>[p] and
    /// <paramref name="receiveCounts"/>[p] are the values exchanged with peer p in asynchronous steps.
    /// </summary>
    public int Register(string path, CommKind kind, int[] sendCounts, int[] receiveCounts, SlotSchedule schedule)
    {
        bool asynchronous = schedule is SlotSchedule.WarmupSyncThenAsync or SlotSchedule.AsyncOnly;
        if (_registrationClosed)
            throw new InvalidOperationException($"Communication point '{path}' appeared after the first step; every rank must run the same layers in the same order every step.");
        var slot = new Slot(_slots.Count, asynchronous ? _asyncSlots.Count : -1, path, kind, schedule, sendCounts, receiveCounts, _comm.Size);
        _slots.Add(slot);
        if (asynchronous) _asyncSlots.Add(slot);
        return slot.Id;
    }

    /// <summary>Called after the first step: every point has registered.</summary>
    internal void CloseRegistration() => _registrationClosed = true;

    /// <summary>Lays out the flat per-peer buffers and the buckets, at the first asynchronous use.</summary>
    private void Seal()
    {
        if (_sealed) return;
        if (!_registrationClosed) throw new InvalidOperationException("Asynchronous exchange before the first (synchronous) step finished.");
        _sealed = true;
        int peers = _comm.Size;
        _sendBuffers = new float[peers][];
        _receiveBuffers = new float[peers][];
        for (int p = 0; p < peers; p++)
        {
            int send = 0, receive = 0;
            foreach (var s in _asyncSlots)
            {
                s.SendOffset[p] = send;
                s.ReceiveOffset[p] = receive;
                send += s.SendCounts[p];
                receive += s.ReceiveCounts[p];
            }
            _sendBuffers[p] = new float[send];
            _receiveBuffers[p] = new float[receive];
            foreach (var s in _asyncSlots)
            {
                // Data received during the registration step moves into the flat buffer.
                s.Received[p].Span.CopyTo(_receiveBuffers[p].AsSpan(s.ReceiveOffset[p], s.ReceiveCounts[p]));
                s.Received[p] = _receiveBuffers[p].AsMemory(s.ReceiveOffset[p], s.ReceiveCounts[p]);
            }
        }
        _published = new int[(_asyncSlots.Count + _bucketSize - 1) / _bucketSize];
    }

    /// <summary>
    /// Synchronous exchange at this step: sends what <paramref name="write"/> writes for each peer p
    /// with a non-zero count and waits for theirs; the received data is also kept for the next step.
    /// </summary>
    public void Exchange(int slotId, PointWriter write)
    {
        _scheduler.Cancellation.ThrowIfCancellationRequested();
        using var _ = OpProfiler.Measure(OpCategory.Communication);
        var s = _slots[slotId];
        long tag = Tag(_scheduler.Step, slotId, bucket: false);
        for (int p = 0; p < _comm.Size; p++)
        {
            int count = s.SendCounts[p];
            if (count == 0) continue;
            var message = TensorMemory.Rent(count);
            try
            {
                write(p, message);
                _comm.Send(p, tag, message);
            }
            finally
            {
                TensorMemory.Return(message);
            }
            Interlocked.Add(ref _bytesByKind[(int)s.Kind], 4L * count);
        }
        for (int p = 0; p < _comm.Size; p++)
        {
            if (s.ReceiveCounts[p] == 0) continue;
            _comm.Receive(p, tag, s.Received[p].Span);
            s.ReceivedStep[p] = _scheduler.Step;
        }
    }

    /// <summary>
    /// What <paramref name="peer"/> sent for this point at the previous step, waiting for its bucket
    /// if it has not arrived yet.
    /// </summary>
    public ReadOnlySpan<float> Previous(int slotId, int peer)
    {
        var s = _slots[slotId];
        int wanted = _scheduler.Step - 1;
        if (s.ReceivedStep[peer] < wanted)
        {
            if (s.AsyncIndex < 0) throw new InvalidOperationException($"'{s.Path}' is exchanged only synchronously; it has no data of step {wanted} from rank {peer}.");
            Seal();
            _scheduler.Cancellation.ThrowIfCancellationRequested();
            using var _ = OpProfiler.Measure(OpCategory.Communication);
            ReceiveBucket(s.AsyncIndex / _bucketSize, peer, wanted);
        }
        if (s.ReceivedStep[peer] != wanted)
            throw new InvalidOperationException($"'{s.Path}' has data of step {s.ReceivedStep[peer]} from rank {peer}, not of step {wanted}.");
        return s.Received[peer].Span;
    }

    /// <summary>
    /// Has this point's fresh data for each peer written straight into its slot of the send buffers;
    /// when the bucket is complete it is sent (asynchronously: the send returns once the data is copied).
    /// </summary>
    public void Publish(int slotId, PointWriter write)
    {
        Seal();
        using var _ = OpProfiler.Measure(OpCategory.Communication);
        var s = _slots[slotId];
        if (s.AsyncIndex < 0) throw new InvalidOperationException($"'{s.Path}' was registered as synchronous only.");
        for (int p = 0; p < _comm.Size; p++)
        {
            if (s.SendCounts[p] == 0) continue;
            write(p, _sendBuffers![p].AsSpan(s.SendOffset[p], s.SendCounts[p]));
        }
        int bucket = s.AsyncIndex / _bucketSize;
        int size = Math.Min(_bucketSize, _asyncSlots.Count - bucket * _bucketSize);
        if (++_published[bucket] < size) return;
        _published[bucket] = 0;
        var (first, last) = (_asyncSlots[bucket * _bucketSize], _asyncSlots[bucket * _bucketSize + size - 1]);
        long tag = Tag(_scheduler.Step, bucket, bucket: true);
        for (int p = 0; p < _comm.Size; p++)
        {
            int start = first.SendOffset[p], end = last.SendOffset[p] + last.SendCounts[p];
            if (end == start) continue;
            _comm.Send(p, tag, _sendBuffers![p].AsSpan(start, end - start));
            for (int i = bucket * _bucketSize; i < bucket * _bucketSize + size; i++)
                Interlocked.Add(ref _bytesByKind[(int)_asyncSlots[i].Kind], 4L * _asyncSlots[i].SendCounts[p]);
        }
    }

    private void ReceiveBucket(int bucket, int peer, int step)
    {
        int size = Math.Min(_bucketSize, _asyncSlots.Count - bucket * _bucketSize);
        var (first, last) = (_asyncSlots[bucket * _bucketSize], _asyncSlots[bucket * _bucketSize + size - 1]);
        int start = first.ReceiveOffset[peer], end = last.ReceiveOffset[peer] + last.ReceiveCounts[peer];
        if (end > start) _comm.Receive(peer, Tag(step, bucket, bucket: true), _receiveBuffers![peer].AsSpan(start, end - start));
        for (int i = bucket * _bucketSize; i < bucket * _bucketSize + size; i++)
            if (_asyncSlots[i].ReceiveCounts[peer] > 0) _asyncSlots[i].ReceivedStep[peer] = step;
    }

    /// <summary>Forgets what was received, for a new generation.</summary>
    internal void ResetReceived()
    {
        foreach (var s in _slots) Array.Fill(s.ReceivedStep, int.MinValue);
        Array.Clear(_published);
    }

    /// <summary>Message tags: generation, step, and point or bucket, never negative (collectives use negative tags).</summary>
    private long Tag(int step, int id, bool bucket) =>
        ((long)_scheduler.Generation << 44) | ((long)step << 24) | (bucket ? 1L << 23 : 0) | (uint)id;

    private sealed class Slot(int id, int asyncIndex, string path, CommKind kind, SlotSchedule schedule, int[] sendCounts, int[] receiveCounts, int peers)
    {
        public int Id { get; } = id;
        /// <summary>Position among the asynchronous points (buckets are formed over these), or -1.</summary>
        public int AsyncIndex { get; } = asyncIndex;
        public string Path { get; } = path;
        public CommKind Kind { get; } = kind;
        public SlotSchedule Schedule { get; } = schedule;
        public int[] SendCounts { get; } = sendCounts;
        public int[] ReceiveCounts { get; } = receiveCounts;
        public int[] SendOffset { get; } = new int[peers];
        public int[] ReceiveOffset { get; } = new int[peers];
        public int[] ReceivedStep { get; } = Enumerable.Repeat(int.MinValue, peers).ToArray();
        public Memory<float>[] Received { get; } = receiveCounts.Select(c => new Memory<float>(new float[c])).ToArray();
    }
}

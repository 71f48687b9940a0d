using DistriGen.Runtime.Communication;
using DistriGen.Tensors;
using DistriGen.Tensors.Ops;

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

/// <summary>What <see cref="ActivationCache.Step"/> gives a point for this step: the peers' data and the step it is from.</summary>
public readonly struct PeerData
{
    private readonly ActivationCache _cache;
    private readonly int _slot;

    internal PeerData(ActivationCache cache, int slot, bool fresh, int step)
    {
        _cache = cache;
        _slot = slot;
        IsFresh = fresh;
        Step = step;
    }

    /// <summary>True when the data was exchanged in this step; false when it is the previous step's.</summary>
    public bool IsFresh { get; }

    /// <summary>The step the peers' data belongs to.</summary>
    public int Step { get; }

    /// <summary>What <paramref name="peer"/> sent (waiting for its bucket if it has not arrived); valid until the point's next step.</summary>
    public ReadOnlyMemory<float> From(int peer) => _cache.Received(_slot, peer, Step);
}

/// <summary>
/// The exchange (DistriFusion's communication manager). Points register at their first use in the
/// first step with what they send to and receive from each peer, and a <see cref="SlotSchedule"/>.
/// Each step a point calls <see cref="Step"/> with its fresh data; the exchange decides, from the
/// schedule and the step, whether to exchange now (synchronous steps: the peers' fresh data) or to hand
/// back the previous step's data and send the fresh data for the next step (asynchronous steps, in
/// buckets of K points, nothing on the last step). Asynchronous data lives in one flat buffer per peer,
/// laid out at the first asynchronous step. Message keys are made here; transports see them opaque.
/// </summary>
public sealed class ActivationCache
{
    private readonly ICommunicator _comm;
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

    internal ActivationCache(ICommunicator comm, StepScheduler scheduler, int bucketSize)
    {
        _comm = comm;
        _scheduler = scheduler;
        _bucketSize = bucketSize;
    }

    public int Count => _slots.Count;

    internal ICommunicator Communicator => _comm;
    internal StepScheduler Scheduler => _scheduler;

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
            if (s.Schedule != SlotSchedule.WarmupOnly) async += bytes;
        }
        return (sync, async);
    }

    /// <summary>Bytes sent per kind since <see cref="ResetCounters"/>.</summary>
    public long BytesSent(CommKind kind) => Interlocked.Read(ref _bytesByKind[(int)kind]);

    public long TotalBytesSent => _bytesByKind.Sum();

    public void ResetCounters() => Array.Clear(_bytesByKind);

    /// <summary>
    /// Registers a point at its first use; <paramref name="sendCounts"/>[p] and
    /// <paramref name="receiveCounts"/>[p] are the values exchanged with peer p.
    /// </summary>
    public int Register(string path, CommKind kind, int[] sendCounts, int[] receiveCounts, SlotSchedule schedule)
    {
        if (_registrationClosed)
            throw new InvalidOperationException($"Communication point '{path}' appeared after the first step; every rank must run the same layers in the same order every step.");
        bool asynchronous = schedule is SlotSchedule.WarmupSyncThenAsync or SlotSchedule.AsyncOnly;
        var slot = new Slot(_slots.Count, asynchronous ? _asyncSlots.Count : -1, path, kind, schedule, sendCounts, receiveCounts, _comm.Size);
        _slots.Add(slot);
        if (asynchronous) _asyncSlots.Add(slot);
        return slot.Id;
    }

    /// <summary>Called after the first step: every point has registered.</summary>
    internal void CloseRegistration() => _registrationClosed = true;

    /// <summary>Whether the point exchanges in this step at all (e.g. GroupNorm's Separate mode stops after warmup).</summary>
    public bool IsActive(int slotId) => _slots[slotId].Schedule switch
    {
        SlotSchedule.WarmupOnly => _scheduler.IsSync,
        SlotSchedule.AsyncOnly => !_scheduler.IsSync,
        _ => true,
    };

    /// <summary>
    /// This step's exchange for one point: in a synchronous step <paramref name="fresh"/>'s data goes to
    /// every peer now and theirs is waited for; in an asynchronous step the previous step's data is handed
    /// back and the fresh data goes into the point's slot of this step's bucket (not on the last step).
    /// </summary>
    public PeerData Step(int slotId, PointWriter fresh)
    {
        _scheduler.Cancellation.ThrowIfCancellationRequested();
        var s = _slots[slotId];
        bool sync = s.Schedule == SlotSchedule.EveryStepSync || (s.Schedule != SlotSchedule.AsyncOnly && _scheduler.IsSync);
        if (sync)
        {
            ExchangeNow(s, fresh);
            return new PeerData(this, slotId, fresh: true, _scheduler.Step);
        }
        if (s.AsyncIndex < 0) throw new InvalidOperationException($"'{s.Path}' is exchanged only in warmup steps.");
        Seal();
        if (!_scheduler.IsLastStep) Publish(s, fresh);
        return new PeerData(this, slotId, fresh: false, _scheduler.Step - 1);
    }

    /// <summary>
    /// The previous step's data of another point (PCPP's first asynchronous step takes its window from the
    /// last synchronous full exchange).
    /// </summary>
    public PeerData LastExchange(int slotId) => new(this, slotId, fresh: false, _scheduler.Step - 1);

    internal ReadOnlyMemory<float> Received(int slotId, int peer, int step)
    {
        var s = _slots[slotId];
        if (s.ReceivedStep[peer] < step && s.AsyncIndex >= 0 && _sealed)
        {
            _scheduler.Cancellation.ThrowIfCancellationRequested();
            using var _ = OpProfiler.Measure(OpCategory.Communication);
            ReceiveBucket(s.AsyncIndex / _bucketSize, peer, step);
        }
        if (s.ReceivedStep[peer] != step)
            throw new InvalidOperationException($"'{s.Path}' has data of step {s.ReceivedStep[peer]} from rank {peer}, not of step {step}.");
        return s.Received[peer];
    }

    private void ExchangeNow(Slot s, PointWriter write)
    {
        using var _ = OpProfiler.Measure(OpCategory.Communication);
        var key = Key(_scheduler.Step, s.Id, bucket: false);
        for (int p = 0; p < _comm.Size; p++)
        {
            int count = s.SendCounts[p];
            if (count == 0) continue;
            var message = TensorMemory.Rent(count);
            try
            {
                write(p, message.AsSpan(0, count));
                _comm.Send(p, key, message.AsSpan(0, count));
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
            _comm.Receive(p, key, s.Received[p].Span);
            s.ReceivedStep[p] = _scheduler.Step;
        }
    }

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
                // Data received during the synchronous steps moves into the flat buffer.
                s.Received[p].Span.CopyTo(_receiveBuffers[p].AsSpan(s.ReceiveOffset[p], s.ReceiveCounts[p]));
                s.Received[p] = _receiveBuffers[p].AsMemory(s.ReceiveOffset[p], s.ReceiveCounts[p]);
            }
        }
        _published = new int[(_asyncSlots.Count + _bucketSize - 1) / _bucketSize];
    }

    /// <summary>Writes the point's fresh data into its slot of the send buffers; sends the bucket when its last point has written.</summary>
    private void Publish(Slot s, PointWriter write)
    {
        using var _ = OpProfiler.Measure(OpCategory.Communication);
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
        var key = Key(_scheduler.Step, bucket, bucket: true);
        for (int p = 0; p < _comm.Size; p++)
        {
            int start = first.SendOffset[p], end = last.SendOffset[p] + last.SendCounts[p];
            if (end == start) continue;
            _comm.Send(p, key, _sendBuffers![p].AsSpan(start, end - start));
            for (int i = bucket * _bucketSize; i < bucket * _bucketSize + size; i++)
                Interlocked.Add(ref _bytesByKind[(int)_asyncSlots[i].Kind], 4L * _asyncSlots[i].SendCounts[p]);
        }
    }

    private void ReceiveBucket(int bucket, int peer, int step)
    {
        int size = Math.Min(_bucketSize, _asyncSlots.Count - bucket * _bucketSize);
        var (first, last) = (_asyncSlots[bucket * _bucketSize], _asyncSlots[bucket * _bucketSize + size - 1]);
        int start = first.ReceiveOffset[peer], end = last.ReceiveOffset[peer] + last.ReceiveCounts[peer];
        if (end > start) _comm.Receive(peer, Key(step, bucket, bucket: true), _receiveBuffers![peer].AsSpan(start, end - start));
        for (int i = bucket * _bucketSize; i < bucket * _bucketSize + size; i++)
            if (_asyncSlots[i].ReceiveCounts[peer] > 0) _asyncSlots[i].ReceivedStep[peer] = step;
    }

    /// <summary>Forgets what was received, for a new generation.</summary>
    internal void ResetReceived()
    {
        foreach (var s in _slots) Array.Fill(s.ReceivedStep, int.MinValue);
        Array.Clear(_published);
    }

    /// <summary>
    /// A message's key: the step's parity, whether it is a bucket, and the point or bucket. Messages of
    /// one pair of ranks with one key arrive in order, and ranks are never two steps apart, so the parity
    /// keeps a step's messages apart from the next one's.
    /// </summary>
    private static MessageKey Key(int step, int id, bool bucket)
    {
        if (id >= 1 << 20) throw new InvalidOperationException($"More than {1 << 20} communication points.");
        return new MessageKey(((step & 1) << 21) | (bucket ? 1 << 20 : 0) | id);
    }

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

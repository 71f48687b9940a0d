namespace DistriGen.Runtime.Communication;

/// <summary>
/// The shared mailboxes of ranks that are threads of one process. A message is copied on send and
/// waits in a queue keyed by (group, sender, receiver, tag) until it is received.
/// </summary>
public sealed class InProcessWorld
{
    private readonly object _gate = new();
    private readonly Dictionary<(string Group, int From, int To, MessageKey Key), Queue<float[]>> _mailboxes = new();
    private readonly Dictionary<(string Parent, int Color), List<(int Key, int WorldRank)>> _splits = new();
    private (int Rank, string Reason)? _failure;
    private long _bytesSent;

    public InProcessWorld(int size, TimeSpan? timeout = null)
    {
        if (size < 1) throw new ArgumentOutOfRangeException(nameof(size), size, "A world has at least one rank.");
        Size = size;
        Timeout = timeout ?? TimeSpan.FromSeconds(60);
    }

    public int Size { get; }
    public TimeSpan Timeout { get; }

    /// <summary>When the first rank failed (null while none has).</summary>
    public DateTime? FailedAt { get; private set; }
    public long TotalBytesSent => Interlocked.Read(ref _bytesSent);

    /// <summary>The communicator of one rank, over all ranks of this world.</summary>
    public InProcessCommunicator Communicator(int rank) =>
        new(this, "world", rank, Enumerable.Range(0, Size).ToArray());

    internal void Post(string group, int from, int to, MessageKey key, ReadOnlySpan<float> data)
    {
        // Pooled: the receiver gives the message back once it has copied it out.
        var copy = MessageBuffers.Rent(data.Length);
        data.CopyTo(copy);
        Interlocked.Add(ref _bytesSent, 4L * copy.Length);
        lock (_gate)
        {
            var mailbox = (group, from, to, key);
            if (!_mailboxes.TryGetValue(mailbox, out var queue)) _mailboxes[mailbox] = queue = new Queue<float[]>();
            queue.Enqueue(copy);
            Monitor.PulseAll(_gate);
        }
    }

    internal float[] Take(string group, int from, int to, MessageKey messageKey, int receiverWorldRank, int senderWorldRank)
    {
        var key = (group, from, to, messageKey);
        var deadline = DateTime.UtcNow + Timeout;
        lock (_gate)
        {
            while (true)
            {
                if (_mailboxes.TryGetValue(key, out var queue) && queue.Count > 0)
                {
                    var message = queue.Dequeue();
                    if (queue.Count == 0) _mailboxes.Remove(key);
                    return message;
                }
                if (_failure is { } f && f.Rank != receiverWorldRank) throw new PeerFailedException(f.Rank, f.Reason);
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !Monitor.Wait(_gate, left) && DateTime.UtcNow >= deadline)
                {
                    if (_mailboxes.TryGetValue(key, out var q) && q.Count > 0) continue;
                    throw new CommunicationTimeoutException($"Rank {receiverWorldRank} waited {Timeout.TotalSeconds:0.#} s for rank {senderWorldRank} (message {messageKey} in group '{group}'); the peer is dead, hung or out of step.");
                }
            }
        }
    }

    internal void Fail(int worldRank, Exception reason)
    {
        lock (_gate)
        {
            if (_failure is null)
            {
                _failure = (worldRank, reason.GetType().Name + ": " + reason.Message);
                FailedAt = DateTime.UtcNow;
            }
            Monitor.PulseAll(_gate);
        }
    }

    /// <summary>Waits until every member of <paramref name="parent"/> has announced its color, then returns the world ranks of this color, ordered by key.</summary>
    internal int[] Split(string parent, int parentSize, int color, int key, int worldRank)
    {
        var deadline = DateTime.UtcNow + Timeout;
        lock (_gate)
        {
            var id = (parent, color);
            if (!_splits.TryGetValue(id, out var members)) _splits[id] = members = [];
            members.Add((key, worldRank));
            Monitor.PulseAll(_gate);
            while (_splits.Where(s => s.Key.Parent == parent).Sum(s => s.Value.Count) % parentSize != 0)
            {
                if (_failure is { } f) throw new PeerFailedException(f.Rank, f.Reason);
                var left = deadline - DateTime.UtcNow;
                if (left <= TimeSpan.Zero || !Monitor.Wait(_gate, left) && DateTime.UtcNow >= deadline)
                    throw new CommunicationTimeoutException($"Rank {worldRank} waited {Timeout.TotalSeconds:0.#} s for all ranks of '{parent}' to split.");
            }
            return members.OrderBy(m => m.Key).ThenBy(m => m.WorldRank).Select(m => m.WorldRank).ToArray();
        }
    }
}

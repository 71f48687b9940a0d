using System.Runtime.InteropServices;

namespace DistriGen.Runtime.Communication;

/// <summary>
/// Collectives built from buffered, size-checked point-to-point messages. Collective messages have keys
/// of their own (<see cref="MessageKey.Collective"/>) numbered by a per-communicator sequence, so they
/// never meet the layers' messages; every rank calls collectives in the same order, so the numbers agree.
/// </summary>
public abstract class CommunicatorBase : ICommunicator
{
    private long _collectiveSequence;

    public abstract int Rank { get; }
    public abstract int Size { get; }
    public abstract TimeSpan Timeout { get; }
    public abstract string Kind { get; }
    public abstract long BytesSent { get; }
    public abstract void Send(int peer, MessageKey key, ReadOnlySpan<float> data);
    public abstract void Receive(int peer, MessageKey key, Span<float> destination);
    public abstract ICommunicator Split(int color, int key);
    public abstract void Abort(Exception reason);
    public virtual void Dispose() { }

    private MessageKey NextCollectiveKey() => MessageKey.Collective(Interlocked.Increment(ref _collectiveSequence));

    public virtual void AllGather(ReadOnlySpan<float> mine, ReadOnlySpan<int> counts, Span<float> all)
    {
        if (counts.Length != Size) throw new ArgumentException($"AllGather needs one count per rank ({Size}), got {counts.Length}.");
        if (mine.Length != counts[Rank]) throw new ArgumentException($"Rank {Rank} contributes {mine.Length} values but counts say {counts[Rank]}.");
        var key = NextCollectiveKey();
        for (int p = 0; p < Size; p++)
            if (p != Rank) Send(p, key, mine);
        int offset = 0;
        for (int p = 0; p < Size; p++)
        {
            var slot = all.Slice(offset, counts[p]);
            if (p == Rank) mine.CopyTo(slot);
            else Receive(p, key, slot);
            offset += counts[p];
        }
    }

    public virtual void AllReduceSum(Span<double> values)
    {
        var asFloats = MemoryMarshal.Cast<double, float>(values);
        var gathered = new float[asFloats.Length * Size];
        var counts = Enumerable.Repeat(asFloats.Length, Size).ToArray();
        AllGather(asFloats, counts, gathered);
        var all = MemoryMarshal.Cast<float, double>(gathered.AsSpan());
        for (int i = 0; i < values.Length; i++)
        {
            double sum = 0;
            for (int p = 0; p < Size; p++) sum += all[p * values.Length + i];
            values[i] = sum;
        }
    }

    public virtual void Barrier()
    {
        Span<double> token = stackalloc double[1];
        AllReduceSum(token);
    }
}

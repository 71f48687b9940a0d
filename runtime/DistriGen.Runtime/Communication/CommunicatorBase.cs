using System.Runtime.InteropServices;

namespace DistriGen.Runtime.Communication;

/// <summary>
/// Collectives built from buffered point-to-point messages. Collective messages use negative tags
/// numbered by a per-communicator sequence, so they never meet the layers' own (non-negative) tags;
/// every rank calls collectives in the same order, so the sequence numbers agree.
/// </summary>
public abstract class CommunicatorBase : ICommunicator
{
    private long _collectiveSequence;

    public abstract int Rank { get; }
    public abstract int Size { get; }
    public abstract TimeSpan Timeout { get; }
    public abstract string Kind { get; }
    public abstract long BytesSent { get; }
    public abstract void Send(int peer, long tag, ReadOnlySpan<float> data);
    public abstract void Receive(int peer, long tag, Span<float> destination);
    public abstract ICommunicator Split(int color, int key);
    public abstract void Abort(Exception reason);
    public virtual void Dispose() { }

    private long NextCollectiveTag() => -1 - Interlocked.Increment(ref _collectiveSequence);

    public virtual void AllGather(ReadOnlySpan<float> mine, ReadOnlySpan<int> counts, Span<float> all)
    {
        if (counts.Length != Size) throw new ArgumentException($"AllGather needs one count per rank ({Size}), got {counts.Length}.");
        if (mine.Length != counts[Rank]) throw new ArgumentException($"Rank {Rank} contributes {mine.Length} values but counts say {counts[Rank]}.");
        long tag = NextCollectiveTag();
        for (int p = 0; p < Size; p++)
            if (p != Rank) Send(p, tag, mine);
        int offset = 0;
        for (int p = 0; p < Size; p++)
        {
            var slot = all.Slice(offset, counts[p]);
            if (p == Rank) mine.CopyTo(slot);
            else Receive(p, tag, slot);
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

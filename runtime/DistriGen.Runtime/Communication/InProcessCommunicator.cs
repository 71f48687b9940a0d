namespace DistriGen.Runtime.Communication;

/// <summary>One rank of an <see cref="InProcessWorld"/>: ranks are threads of one process.</summary>
public sealed class InProcessCommunicator : CommunicatorBase
{
    private readonly InProcessWorld _world;
    private readonly string _group;
    private readonly int[] _worldRanks;
    private long _bytesSent;
    private int _splits;

    internal InProcessCommunicator(InProcessWorld world, string group, int rank, int[] worldRanks)
    {
        _world = world;
        _group = group;
        Rank = rank;
        _worldRanks = worldRanks;
    }

    public override int Rank { get; }
    public override int Size => _worldRanks.Length;
    public override TimeSpan Timeout => _world.Timeout;
    public override string Kind => $"in-process ({Size} ranks)";
    public override long BytesSent => Interlocked.Read(ref _bytesSent);

    public override void Send(int peer, MessageKey key, ReadOnlySpan<float> data)
    {
        CheckPeer(peer);
        Interlocked.Add(ref _bytesSent, 4L * data.Length);
        _world.Post(_group, Rank, peer, key, data);
    }

    public override void Receive(int peer, MessageKey key, Span<float> destination)
    {
        CheckPeer(peer);
        var message = _world.Take(_group, peer, Rank, key, _worldRanks[Rank], _worldRanks[peer]);
        try
        {
            if (message.Length != destination.Length)
                throw new InvalidOperationException($"Rank {Rank} expected {destination.Length} values from rank {peer} (message {key}) but got {message.Length}: the ranks are out of step.");
            message.CopyTo(destination);
        }
        finally
        {
            MessageBuffers.Return(message);
        }
    }

    public override ICommunicator Split(int color, int key)
    {
        // Every rank splits in the same order, so the n-th split of a group is the same event on all of them.
        var round = $"{_group}#{++_splits}";
        var members = _world.Split(round, Size, color, key, _worldRanks[Rank]);
        return new InProcessCommunicator(_world, $"{round}/{color}", Array.IndexOf(members, _worldRanks[Rank]), members);
    }

    public override void Abort(Exception reason) => _world.Fail(_worldRanks[Rank], reason);

    private void CheckPeer(int peer)
    {
        if ((uint)peer >= (uint)Size || peer == Rank)
            throw new ArgumentOutOfRangeException(nameof(peer), peer, $"Rank {Rank} of {Size} cannot exchange with rank {peer}.");
    }
}

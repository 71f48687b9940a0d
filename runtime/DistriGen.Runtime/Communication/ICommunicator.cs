namespace DistriGen.Runtime.Communication;

/// <summary>
/// The ranks of one patch-parallel run and the messages between them. Sends are buffered (they return
/// once the data is copied, never waiting for the receiver), so exchanging with neighbours cannot
/// deadlock; every wait has <see cref="Timeout"/>, after which a dead or hung peer is an error
/// rather than a hang.
/// </summary>
public interface ICommunicator : IDisposable
{
    int Rank { get; }

    int Size { get; }

    /// <summary>The longest any receive or collective waits for a peer.</summary>
    TimeSpan Timeout { get; }

    /// <summary>A name for messages, e.g. "in-process (4 ranks)" or "Open MPI".</summary>
    string Kind { get; }

    /// <summary>Bytes this rank has sent since it was created.</summary>
    long BytesSent { get; }

    /// <summary>Sends <paramref name="data"/> to <paramref name="peer"/> under <paramref name="key"/>; returns once the data is copied.</summary>
    void Send(int peer, MessageKey key, ReadOnlySpan<float> data);

    /// <summary>
    /// Waits for the message from <paramref name="peer"/> under <paramref name="key"/> and copies it into
    /// <paramref name="destination"/>; a message of another length is an error before anything is copied.
    /// </summary>
    void Receive(int peer, MessageKey key, Span<float> destination);

    /// <summary>Concatenates every rank's contribution in rank order into <paramref name="all"/>; <paramref name="counts"/> gives each rank's length.</summary>
    void AllGather(ReadOnlySpan<float> mine, ReadOnlySpan<int> counts, Span<float> all);

    /// <summary>Sums <paramref name="values"/> over all ranks, in rank order, so every rank gets bit-identical results.</summary>
    void AllReduceSum(Span<double> values);

    void Barrier();

    /// <summary>The ranks that passed the same <paramref name="color"/>, ordered by <paramref name="key"/>, as a new communicator. Every rank must call it.</summary>
    ICommunicator Split(int color, int key);

    /// <summary>Tells the other ranks that this rank failed, so they stop waiting for it.</summary>
    void Abort(Exception reason);
}

namespace DistriGen.Runtime.Communication;

/// <summary>A peer did not answer within the communicator's timeout.</summary>
public sealed class CommunicationTimeoutException(string message) : TimeoutException(message);

/// <summary>Another rank failed; this rank stops instead of waiting for it.</summary>
public sealed class PeerFailedException(int rank, string reason)
    : Exception($"Rank {rank} failed: {reason}")
{
    public int FailedRank { get; } = rank;
}

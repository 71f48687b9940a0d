using DistriGen.Tensors.Compute;

namespace DistriGen.Runtime.Communication;

/// <summary>Runs one function per rank, each rank a dedicated thread with its own compute-thread budget.</summary>
public static class InProcessLauncher
{
    /// <summary>
    /// Runs <paramref name="body"/> on <paramref name="ranks"/> threads and returns their results in rank
    /// order. If a rank throws, the others are told and stop within the timeout; the first failure is
    /// rethrown (not the "a peer failed" errors it caused).
    /// </summary>
    public static T[] Run<T>(int ranks, int threadsPerRank, Func<ICommunicator, T> body, TimeSpan? timeout = null)
    {
        var world = new InProcessWorld(ranks, timeout);
        var results = new T[ranks];
        var errors = new Exception?[ranks];
        var threads = new Thread[ranks];
        for (int r = 0; r < ranks; r++)
        {
            int rank = r;
            threads[r] = new Thread(() =>
            {
                using var comm = world.Communicator(rank);
                try
                {
                    using var budget = ComputeThreads.Use(threadsPerRank);
                    results[rank] = body(comm);
                }
                catch (Exception e)
                {
                    errors[rank] = e;
                    comm.Abort(e);
                }
            }, maxStackSize: 16 << 20)
            { Name = $"distrigen-rank-{rank}", IsBackground = true };
            threads[r].Start();
        }
        foreach (var t in threads) t.Join();
        var root = errors.Select((e, r) => (e, r)).FirstOrDefault(x => x.e is not null and not PeerFailedException);
        if (root.e is null) root = errors.Select((e, r) => (e, r)).FirstOrDefault(x => x.e is not null);
        if (root.e is not null)
            throw new RankFailedException(root.r, root.e);
        return results;
    }
}

/// <summary>A rank of a run failed; <see cref="Exception.InnerException"/> is what it threw.</summary>
public sealed class RankFailedException(int rank, Exception inner) : Exception($"Rank {rank} failed: {inner.Message}", inner)
{
    public int Rank { get; } = rank;
}

using DistriGen.Tensors.Compute;

namespace DistriGen.Runtime.Communication;

/// <summary>
/// Runs one function per rank, each rank on a dedicated thread (kept between runs) with its own compute-thread budget.
/// </summary>
public static class InProcessLauncher
{
    /// <summary>
    /// Runs <paramref name="body"/> on <paramref name="ranks"/> threads and returns their results in rank
    /// order. If a rank throws, the others are told and stop within the timeout; the first failure is
    /// rethrown (not the "a peer failed" errors it caused). A rank that does not stop within the timeout
    /// after a failure is left behind (its thread is a background thread): the launcher never hangs.
    /// </summary>
    public static T[] Run<T>(int ranks, int threadsPerRank, Func<ICommunicator, T> body, TimeSpan? timeout = null)
    {
        var world = new InProcessWorld(ranks, timeout);
        var results = new T[ranks];
        var errors = new Exception?[ranks];
        var done = new Task[ranks];
        for (int r = 0; r < ranks; r++)
        {
            int rank = r;
            done[r] = RankThreads.Start(() =>
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
            });
        }
        WaitWithDeadline(world, done);
        var root = errors.Select((e, r) => (e, r)).FirstOrDefault(x => x.e is not null and not PeerFailedException);
        if (root.e is null) root = errors.Select((e, r) => (e, r)).FirstOrDefault(x => x.e is not null);
        if (root.e is not null)
            throw new RankFailedException(root.r, root.e);
        return results;
    }

    /// <summary>
    /// Waits for every rank; once one has failed, the others get the timeout (and a little more) to stop,
    /// after which the launcher stops waiting and reports the failure.
    /// </summary>
    private static void WaitWithDeadline(InProcessWorld world, Task[] ranks)
    {
        var grace = world.Timeout + TimeSpan.FromSeconds(5);
        foreach (var rank in ranks)
            while (!rank.Wait(TimeSpan.FromMilliseconds(200)))
                if (world.FailedAt is { } failedAt && DateTime.UtcNow - failedAt > grace) return;
    }
}

/// <summary>A rank of a run failed; <see cref="Exception.InnerException"/> is what it threw.</summary>
public sealed class RankFailedException(int rank, Exception inner) : Exception($"Rank {rank} failed: {inner.Message}", inner)
{
    public int Rank { get; } = rank;
}

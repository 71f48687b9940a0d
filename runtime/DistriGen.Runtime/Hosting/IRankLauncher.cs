using DistriGen.Runtime.Communication;
using DistriGen.Tensors.Compute;
using Microsoft.Extensions.Options;

namespace DistriGen.Runtime;

/// <summary>Runs one function per rank of this process's run and returns rank 0's result.</summary>
public interface IRankLauncher
{
    /// <summary>Ranks of the run (1 for single-device inference).</summary>
    int Ranks { get; }

    /// <summary>Whether this process reports results (rank 0, or the only process).</summary>
    bool IsRoot { get; }

    T Run<T>(Func<ICommunicator, T> perRank);
}

/// <summary>Ranks as threads of this process, each with its own compute-thread budget.</summary>
public sealed class InProcessRankLauncher(IOptions<DistriGenOptions> options) : IRankLauncher
{
    public int Ranks => options.Value.Ranks;
    public bool IsRoot => true;

    public T Run<T>(Func<ICommunicator, T> perRank) =>
        InProcessLauncher.Run(Ranks, options.Value.ThreadsPerRank, perRank, options.Value.Parallel.Timeout)[0];
}

/// <summary>This process is one rank of an Open MPI job; every process runs the same function.</summary>
public sealed class MpiRankLauncher(IOptions<DistriGenOptions> options) : IRankLauncher
{
    private readonly MpiCommunicator _world = MpiWorld.Current ?? throw new InvalidOperationException("This process was not started by mpirun.");

    public int Ranks => _world.Size;
    public bool IsRoot => _world.Rank == 0;

    public T Run<T>(Func<ICommunicator, T> perRank)
    {
        using var budget = ComputeThreads.Use(options.Value.ThreadsPerRank);
        _world.SetTimeout(options.Value.Parallel.Timeout);
        try
        {
            return perRank(_world);
        }
        catch (Exception e)
        {
            _world.Abort(e);
            throw;
        }
    }
}

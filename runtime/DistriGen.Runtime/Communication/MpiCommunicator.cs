using System.Runtime.InteropServices;

namespace DistriGen.Runtime.Communication;

/// <summary>
/// Ranks as processes of an Open MPI job (mpirun -n N …), through P/Invoke to libmpi.so.40.
/// Sends copy into native memory and go out with MPI_Isend, so they return at once. A receive first
/// probes for the message and checks its size, so a message of the wrong size is an error before any
/// memory is touched, then receives it; every wait is polled against the timeout (yielding at first,
/// then sleeping), so a hung peer becomes an error naming it. Collectives are built from these
/// point-to-point messages (CommunicatorBase), never from MPI collectives that could not be abandoned.
/// Errors come back as codes (MPI_ERRORS_RETURN), so DistriGen reports them itself.
/// </summary>
public sealed unsafe class MpiCommunicator : CommunicatorBase
{
    private readonly MpiLibrary _mpi;
    private readonly nint _comm;
    private readonly List<(nint Request, nint Buffer, int Floats)> _pendingSends = [];
    // Native buffers by size in floats, reused: every step sends and receives the same sizes, and a
    // fresh allocation of that size is a fresh mapping whose pages the kernel zeroes again.
    private readonly Dictionary<int, Stack<nint>> _freeBuffers = [];
    private long _freeBytes;
    /// <summary>The most bytes of native message buffers kept for reuse; beyond it they are freed.</summary>
    private const long MaxFreeBytes = 1L << 30;
    private long _bytesSent;

    internal MpiCommunicator(MpiLibrary mpi, nint comm, TimeSpan timeout)
    {
        _mpi = mpi;
        _comm = comm;
        _timeout = timeout;
        int value;
        Check(_mpi.CommRank(comm, &value), "MPI_Comm_rank");
        Rank = value;
        Check(_mpi.CommSize(comm, &value), "MPI_Comm_size");
        Size = value;
    }

    public override int Rank { get; }
    public override int Size { get; }

    /// <summary>The longest a receive waits; set from the run's options (--comm-timeout) before it starts.</summary>
    public override TimeSpan Timeout => _timeout;

    private TimeSpan _timeout;

    public void SetTimeout(TimeSpan timeout) => _timeout = timeout > TimeSpan.Zero ? timeout : throw new ArgumentOutOfRangeException(nameof(timeout));
    public override string Kind => $"Open MPI ({Size} processes)";
    public override long BytesSent => Interlocked.Read(ref _bytesSent);

    public override void Send(int peer, MessageKey key, ReadOnlySpan<float> data)
    {
        CheckPeer(peer);
        CompleteSends(wait: false);
        nint buffer = RentBuffer(data.Length);
        data.CopyTo(new Span<float>((void*)buffer, data.Length));
        nint request;
        Check(_mpi.Isend((void*)buffer, data.Length, _mpi.Float, peer, key.Value, _comm, &request), "MPI_Isend");
        _pendingSends.Add((request, buffer, data.Length));
        Interlocked.Add(ref _bytesSent, 4L * data.Length);
    }

    public override void Receive(int peer, MessageKey key, Span<float> destination)
    {
        CheckPeer(peer);
        int mpiTag = key.Value;
        string waited = $"Rank {Rank} waited {Timeout.TotalSeconds:0.#} s for rank {peer} (message {key}); the peer is dead, stopped, hung or out of step";
        var deadline = DateTime.UtcNow + Timeout;
        var status = stackalloc byte[StatusBytes];
        // The size is known before anything is received: a message of another size is an error that touches no memory.
        Poll(() =>
        {
            int found;
            Check(_mpi.Iprobe(peer, mpiTag, _comm, &found, status), "MPI_Iprobe");
            return found != 0;
        }, deadline, waited);
        int count;
        Check(_mpi.GetCount(status, _mpi.Float, &count), "MPI_Get_count");
        if (count != destination.Length)
            throw new InvalidOperationException($"Rank {Rank} expected {destination.Length} values from rank {peer} (message {key}) but the message holds {count}: " +
                "the ranks are out of step or were started with different arguments.");
        // Into native memory: if the transfer times out, the pending receive never writes into the managed heap.
        nint buffer = RentBuffer(count);
        try
        {
            nint request;
            Check(_mpi.Irecv((void*)buffer, count, _mpi.Float, peer, mpiTag, _comm, &request), "MPI_Irecv");
            Wait(&request, deadline, waited);
            new ReadOnlySpan<float>((void*)buffer, count).CopyTo(destination);
        }
        catch
        {
            // A timed-out receive may still be pending on the buffer: it is never reused.
            NativeMemory.Free((void*)buffer);
            throw;
        }
        ReturnBuffer(buffer, count);
        CompleteSends(wait: false);
    }

    private void CheckPeer(int peer)
    {
        if ((uint)peer >= (uint)Size || peer == Rank)
            throw new ArgumentOutOfRangeException(nameof(peer), peer, $"Rank {Rank} of {Size} cannot exchange with rank {peer}.");
    }

    public override ICommunicator Split(int color, int key)
    {
        nint child;
        Check(_mpi.CommSplit(_comm, color, key, &child), "MPI_Comm_split");
        return new MpiCommunicator(_mpi, child, Timeout);
    }

    public override void Abort(Exception reason)
    {
        Console.Error.WriteLine($"rank {Rank}: {reason.Message}; aborting the MPI job.");
        _mpi.Abort(_comm, 1);
    }

    public override void Dispose()
    {
        CompleteSends(wait: true);
        foreach (var buffers in _freeBuffers.Values)
            foreach (var buffer in buffers) NativeMemory.Free((void*)buffer);
        _freeBuffers.Clear();
        _freeBytes = 0;
        if (_comm != _mpi.World)
        {
            nint comm = _comm;
            _mpi.CommFree(&comm);
        }
    }

    /// <summary>Frees finished sends; with <paramref name="wait"/>, waits for all of them.</summary>
    private void CompleteSends(bool wait)
    {
        for (int i = _pendingSends.Count - 1; i >= 0; i--)
        {
            var (request, buffer, floats) = _pendingSends[i];
            if (wait) Wait(&request, DateTime.UtcNow + Timeout, $"Rank {Rank}: a send did not complete within {Timeout.TotalSeconds:0.#} s");
            else
            {
                int done;
                Check(_mpi.Test(&request, &done, null), "MPI_Test");
                if (done == 0) continue;
            }
            ReturnBuffer(buffer, floats);
            _pendingSends.RemoveAt(i);
        }
    }

    private nint RentBuffer(int floats)
    {
        if (!_freeBuffers.TryGetValue(floats, out var free) || !free.TryPop(out var buffer))
            return (nint)NativeMemory.Alloc((nuint)Math.Max(4, 4L * floats));
        _freeBytes -= 4L * floats;
        return buffer;
    }

    private void ReturnBuffer(nint buffer, int floats)
    {
        if (_freeBytes + 4L * floats > MaxFreeBytes)
        {
            NativeMemory.Free((void*)buffer);
            return;
        }
        if (!_freeBuffers.TryGetValue(floats, out var free)) _freeBuffers[floats] = free = new Stack<nint>();
        free.Push(buffer);
        _freeBytes += 4L * floats;
    }

    /// <summary>Polls a point-to-point request until it completes or the deadline passes (then it is cancelled).</summary>
    private void Wait(nint* request, DateTime deadline, string timeoutMessage)
    {
        nint pending = (nint)request;
        try
        {
            Poll(() =>
            {
                int done;
                Check(_mpi.Test((nint*)pending, &done, null), "MPI_Test");
                return done != 0;
            }, deadline, timeoutMessage);
        }
        catch (CommunicationTimeoutException)
        {
            _mpi.Cancel(request);
            throw;
        }
    }

    /// <summary>
    /// Calls <paramref name="ready"/> until it is true or the deadline passes. Large messages move in
    /// fragments, each only while a rank is inside MPI, so the first milliseconds poll with yields; a
    /// longer wait (a slow or hung peer) sleeps between polls instead of keeping a core busy.
    /// </summary>
    private static void Poll(Func<bool> ready, DateTime deadline, string timeoutMessage)
    {
        var spinner = new SpinWait();
        var started = DateTime.UtcNow;
        while (!ready())
        {
            var now = DateTime.UtcNow;
            if (now > deadline) throw new CommunicationTimeoutException(timeoutMessage + ".");
            if (now - started < TimeSpan.FromMilliseconds(20)) spinner.SpinOnce(sleep1Threshold: -1);
            else Thread.Sleep(1);
        }
    }

    /// <summary>Open MPI's MPI_Status (source, tag, error, cancelled, count) with room to spare.</summary>
    private const int StatusBytes = 64;

    private static void Check(int code, string call)
    {
        if (code != 0) throw new InvalidOperationException($"{call} failed with MPI error code {code}.");
    }
}

/// <summary>The process's Open MPI world, when this process was started by mpirun.</summary>
public static class MpiWorld
{
    private static MpiCommunicator? _world;
    private static bool _probed;

    /// <summary>True when mpirun started this process (OMPI_COMM_WORLD_SIZE is set).</summary>
    public static bool LaunchedByMpirun => Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_SIZE") is { } size && int.TryParse(size, out var n) && n > 1;

    /// <summary>The world communicator (initialising MPI on first use), or null when not under mpirun.</summary>
    public static MpiCommunicator? Current
    {
        get
        {
            if (_probed) return _world;
            _probed = true;
            if (!LaunchedByMpirun) return null;
            var mpi = MpiLibrary.Load();
    _world = mpi.InitWorld(PatchParallelOptions.DefaultTimeout);
            AppDomain.CurrentDomain.ProcessExit += (_, _) => mpi.Shutdown();
            // The ranks on this machine share its memory: each keeps its share of the tensor pool.
            if (int.TryParse(Environment.GetEnvironmentVariable("OMPI_COMM_WORLD_LOCAL_SIZE"), out int local) && local > 1)
                Tensors.TensorMemory.MaxPooledBytes /= local;
            return _world;
        }
    }
}

/// <summary>The entry points of libmpi.so.40 (Open MPI 4) and its predefined handles.</summary>
internal sealed unsafe class MpiLibrary
{
    private const int RtldNow = 2, RtldGlobal = 0x100;

    [DllImport("libc", EntryPoint = "dlopen")]
    private static extern nint DlOpen(string file, int mode);

    private readonly nint _lib;
    private bool _finalized;

    private MpiLibrary(nint lib)
    {
        _lib = lib;
        World = Export("ompi_mpi_comm_world");
        Float = Export("ompi_mpi_float");
        InitThread = (delegate* unmanaged<int*, nint*, int, int*, int>)Export("MPI_Init_thread");
        CommRank = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<nint, int*, int>)Export("MPI_Comm_size");
        Isend = (delegate* unmanaged<void*, int, nint, int, int, nint, nint*, int>)Export("MPI_Isend");
        Irecv = (delegate* unmanaged<void*, int, nint, int, int, nint, nint*, int>)Export("MPI_Irecv");
        Test = (delegate* unmanaged<nint*, int*, void*, int>)Export("MPI_Test");
        Iprobe = (delegate* unmanaged<int, int, nint, int*, void*, int>)Export("MPI_Iprobe");
        CommSetErrhandler = (delegate* unmanaged<nint, nint, int>)Export("MPI_Comm_set_errhandler");
        ErrorsReturn = Export("ompi_mpi_errors_return");
        GetCount = (delegate* unmanaged<void*, nint, int*, int>)Export("MPI_Get_count");
        Cancel = (delegate* unmanaged<nint*, int>)Export("MPI_Cancel");
        CommFree = (delegate* unmanaged<nint*, int>)Export("MPI_Comm_free");
        CommSplit = (delegate* unmanaged<nint, int, int, nint*, int>)Export("MPI_Comm_split");
        Abort = (delegate* unmanaged<nint, int, int>)Export("MPI_Abort");
        FinalizeMpi = (delegate* unmanaged<int>)Export("MPI_Finalize");
    }

    public nint World { get; }
    public nint Float { get; }
    public delegate* unmanaged<int*, nint*, int, int*, int> InitThread { get; }
    public delegate* unmanaged<nint, int*, int> CommRank { get; }
    public delegate* unmanaged<nint, int*, int> CommSize { get; }
    public delegate* unmanaged<void*, int, nint, int, int, nint, nint*, int> Isend { get; }
    public delegate* unmanaged<void*, int, nint, int, int, nint, nint*, int> Irecv { get; }
    public delegate* unmanaged<nint*, int*, void*, int> Test { get; }
    public delegate* unmanaged<int, int, nint, int*, void*, int> Iprobe { get; }
    public delegate* unmanaged<nint, nint, int> CommSetErrhandler { get; }
    public nint ErrorsReturn { get; }
    public delegate* unmanaged<void*, nint, int*, int> GetCount { get; }
    public delegate* unmanaged<nint*, int> Cancel { get; }
    public delegate* unmanaged<nint*, int> CommFree { get; }
    public delegate* unmanaged<nint, int, int, nint*, int> CommSplit { get; }
    public delegate* unmanaged<nint, int, int> Abort { get; }
    private delegate* unmanaged<int> FinalizeMpi { get; }

    public static MpiLibrary Load()
    {
        // Open MPI's plugins need libmpi's symbols globally visible, which NativeLibrary.Load does not do.
        nint lib = DlOpen("libmpi.so.40", RtldNow | RtldGlobal);
        if (lib == 0)
            throw new DllNotFoundException("This process was started by mpirun but libmpi.so.40 (Open MPI 4) cannot be loaded; install openmpi-bin and libopenmpi-dev.");
        return new MpiLibrary(lib);
    }

    public MpiCommunicator InitWorld(TimeSpan timeout)
    {
        int provided;
        const int ThreadFunneled = 1;
        int code = InitThread(null, null, ThreadFunneled, &provided);
        if (code != 0) throw new InvalidOperationException($"MPI_Init_thread failed with code {code}.");
        if (provided < ThreadFunneled) throw new InvalidOperationException($"Open MPI gives thread level {provided}; DistriGen needs MPI_THREAD_FUNNELED ({ThreadFunneled}).");
        // Errors come back as codes, so DistriGen reports them (communicators made by splitting inherit this).
        code = CommSetErrhandler(World, ErrorsReturn);
        if (code != 0) throw new InvalidOperationException($"MPI_Comm_set_errhandler failed with code {code}.");
        return new MpiCommunicator(this, World, timeout);
    }

    public void Shutdown()
    {
        if (_finalized) return;
        _finalized = true;
        FinalizeMpi();
    }

    private nint Export(string name) =>
        NativeLibrary.TryGetExport(_lib, name, out var address) ? address : throw new EntryPointNotFoundException($"libmpi.so.40 has no '{name}'; is it Open MPI 4?");
}

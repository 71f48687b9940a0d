using System.Runtime.InteropServices;

namespace DistriGen.Runtime.Communication;

/// <summary>
/// Ranks as processes of an Open MPI job (mpirun -n N …), through P/Invoke to libmpi.so.40.
/// Sends copy into native memory and go out with MPI_Isend, so they return at once; receives post
/// MPI_Irecv and poll it against the timeout, so a hung peer becomes an error. Collectives gather with
/// MPI_Allgatherv and sum in rank order, so every rank gets identical numbers.
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
        Timeout = timeout;
        int value;
        Check(_mpi.CommRank(comm, &value), "MPI_Comm_rank");
        Rank = value;
        Check(_mpi.CommSize(comm, &value), "MPI_Comm_size");
        Size = value;
    }

    public override int Rank { get; }
    public override int Size { get; }
    public override TimeSpan Timeout { get; }
    public override string Kind => $"Open MPI ({Size} processes)";
    public override long BytesSent => Interlocked.Read(ref _bytesSent);

    public override void Send(int peer, long tag, ReadOnlySpan<float> data)
    {
        CompleteSends(wait: false);
        nint buffer = RentBuffer(data.Length);
        data.CopyTo(new Span<float>((void*)buffer, data.Length));
        nint request;
        Check(_mpi.Isend((void*)buffer, data.Length, _mpi.Float, peer, MpiTag(tag), _comm, &request), "MPI_Isend");
        _pendingSends.Add((request, buffer, data.Length));
        Interlocked.Add(ref _bytesSent, 4L * data.Length);
    }

    public override void Receive(int peer, long tag, Span<float> destination)
    {
        // Receive into native memory: if the wait times out, the pending MPI_Irecv never writes into the managed heap.
        // One element more than expected, so a longer message shows up as a count mismatch instead of an MPI error.
        nint buffer = RentBuffer(destination.Length + 1);
        try
        {
            nint request;
            Check(_mpi.Irecv((void*)buffer, destination.Length + 1, _mpi.Float, peer, MpiTag(tag), _comm, &request), "MPI_Irecv");
            var status = stackalloc byte[StatusBytes];
            Wait(&request, status, $"rank {Rank} waited {Timeout.TotalSeconds:0.#} s for rank {peer} (message tag {tag}); the peer is dead, hung or out of step");
            int count;
            Check(_mpi.GetCount(status, _mpi.Float, &count), "MPI_Get_count");
            if (count != destination.Length)
                throw new InvalidOperationException($"Rank {Rank} expected {destination.Length} values from rank {peer} (tag {tag}) but got {count}: the ranks are out of step.");
            new ReadOnlySpan<float>((void*)buffer, count).CopyTo(destination);
        }
        catch
        {
            // A timed-out receive may still be pending on the buffer: it is never reused.
            NativeMemory.Free((void*)buffer);
            throw;
        }
        ReturnBuffer(buffer, destination.Length + 1);
        CompleteSends(wait: false);
    }

    public override void AllGather(ReadOnlySpan<float> mine, ReadOnlySpan<int> counts, Span<float> all)
    {
        var displacements = new int[Size];
        for (int r = 1; r < Size; r++) displacements[r] = displacements[r - 1] + counts[r - 1];
        fixed (float* send = mine, receive = all)
        fixed (int* c = counts, d = displacements)
        {
            nint request;
            Check(_mpi.Iallgatherv(send, mine.Length, _mpi.Float, receive, c, d, _mpi.Float, _comm, &request), "MPI_Iallgatherv");
            Wait(&request, null, $"rank {Rank} waited {Timeout.TotalSeconds:0.#} s in an all-gather; a peer is dead, hung or out of step");
        }
        Interlocked.Add(ref _bytesSent, 4L * mine.Length * (Size - 1));
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
            if (wait) Wait(&request, null, $"rank {Rank}: a send did not complete within {Timeout.TotalSeconds:0.#} s");
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

    /// <summary>Polls a request until it completes (filling <paramref name="status"/> when given) or the timeout passes.</summary>
    private void Wait(nint* request, byte* status, string timeoutMessage)
    {
        var deadline = DateTime.UtcNow + Timeout;
        var spinner = new SpinWait();
        while (true)
        {
            int done;
            Check(_mpi.Test(request, &done, status), "MPI_Test");
            if (done != 0) return;
            if (DateTime.UtcNow > deadline)
            {
                _mpi.Cancel(request);
                throw new CommunicationTimeoutException(timeoutMessage + ".");
            }
            // Large messages move in fragments, each only when a rank calls into MPI, so keep polling;
            // yield (never sleep) so a thread that has work still gets the core.
            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Open MPI's MPI_Status (source, tag, error, cancelled, count) with room to spare.</summary>
    private const int StatusBytes = 64;

    /// <summary>
    /// Tags fit in 23 bits, the smallest tag range Open MPI's transports give (UCX): the step's parity,
    /// the bucket flag and the point or bucket id. Messages of one pair of ranks with one tag arrive in
    /// order and ranks are never a step apart, so that is enough.
    /// </summary>
    private static int MpiTag(long tag) => (int)((((tag >> 24) & 1) << 22) | ((tag >> 2) & (1 << 21)) | (tag & ((1 << 21) - 1)));

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
            _world = mpi.InitWorld(TimeSpan.FromSeconds(120));
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
        Iallgatherv = (delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, nint*, int>)Export("MPI_Iallgatherv");
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
    public delegate* unmanaged<void*, int, nint, void*, int*, int*, nint, nint, nint*, int> Iallgatherv { get; }
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

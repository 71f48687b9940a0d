using System.Runtime.InteropServices;

namespace DistriGen.Torch.Nccl;

/// <summary>
/// NCCL (libnccl.so.2) and the CUDA runtime's cudaSetDevice, loaded with <see cref="NativeLibrary"/>.
/// Untested on hardware in this repository (no GPU here); everything around it is tested through
/// <see cref="INcclApi"/>.
/// </summary>
internal sealed unsafe class NativeNccl : INcclApi
{
    private const int UniqueIdBytes = 128;

    private readonly delegate* unmanaged<byte*, int> _getUniqueId;
    private readonly delegate* unmanaged<IntPtr*, int, byte*, int, int> _commInitRank;
    private readonly delegate* unmanaged<int> _groupStart;
    private readonly delegate* unmanaged<int> _groupEnd;
    private readonly delegate* unmanaged<IntPtr, nuint, int, int, IntPtr, IntPtr, int> _send;
    private readonly delegate* unmanaged<IntPtr, nuint, int, int, IntPtr, IntPtr, int> _recv;
    private readonly delegate* unmanaged<IntPtr, int> _commDestroy;
    private readonly delegate* unmanaged<int, IntPtr> _errorString;
    private readonly delegate* unmanaged<int, int> _setDevice;

    private NativeNccl(IntPtr nccl, IntPtr cudart)
    {
        _getUniqueId = (delegate* unmanaged<byte*, int>)NativeLibrary.GetExport(nccl, "ncclGetUniqueId");
        _commInitRank = (delegate* unmanaged<IntPtr*, int, byte*, int, int>)NativeLibrary.GetExport(nccl, "ncclCommInitRank");
        _groupStart = (delegate* unmanaged<int>)NativeLibrary.GetExport(nccl, "ncclGroupStart");
        _groupEnd = (delegate* unmanaged<int>)NativeLibrary.GetExport(nccl, "ncclGroupEnd");
        _send = (delegate* unmanaged<IntPtr, nuint, int, int, IntPtr, IntPtr, int>)NativeLibrary.GetExport(nccl, "ncclSend");
        _recv = (delegate* unmanaged<IntPtr, nuint, int, int, IntPtr, IntPtr, int>)NativeLibrary.GetExport(nccl, "ncclRecv");
        _commDestroy = (delegate* unmanaged<IntPtr, int>)NativeLibrary.GetExport(nccl, "ncclCommDestroy");
        _errorString = (delegate* unmanaged<int, IntPtr>)NativeLibrary.GetExport(nccl, "ncclGetErrorString");
        _setDevice = (delegate* unmanaged<int, int>)NativeLibrary.GetExport(cudart, "cudaSetDevice");
        var getVersion = (delegate* unmanaged<int*, int>)NativeLibrary.GetExport(nccl, "ncclGetVersion");
        int code;
        Check(getVersion(&code), "ncclGetVersion");
        Version = $"{code / 10000}.{code / 100 % 100}.{code % 100}";
    }

    public string Version { get; }

    /// <summary>
    /// NCCL and the CUDA runtime, or null with the reason (then messages are staged through the host).
    /// </summary>
    public static NativeNccl? TryLoad(out string why)
    {
        if (!NativeLibrary.TryLoad("libnccl.so.2", out var nccl))
        {
            why = "libnccl.so.2 is not installed";
            return null;
        }
        // LibTorch's CUDA build ships the runtime under a hashed name next to the application.
        var cudart = new[] { "libcudart.so.12", "libcudart.so.11.0", "libcudart.so" }
            .Concat(Directory.EnumerateFiles(AppContext.BaseDirectory, "libcudart*.so*", SearchOption.AllDirectories))
            .Select(name => NativeLibrary.TryLoad(name, out var handle) ? handle : IntPtr.Zero)
            .FirstOrDefault(h => h != IntPtr.Zero);
        if (cudart == IntPtr.Zero)
        {
            why = "the CUDA runtime (libcudart) is not found";
            return null;
        }
        why = "";
        return new NativeNccl(nccl, cudart);
    }

    public byte[] UniqueId()
    {
        var id = new byte[UniqueIdBytes];
        fixed (byte* p = id) Check(_getUniqueId(p), "ncclGetUniqueId");
        return id;
    }

    public IntPtr InitRank(int ranks, byte[] uniqueId, int rank, int gpu)
    {
        int cuda = _setDevice(gpu);
        if (cuda != 0) throw new InvalidOperationException($"cudaSetDevice({gpu}) failed with CUDA error {cuda}.");
        IntPtr comm;
        fixed (byte* id = uniqueId) Check(_commInitRank(&comm, ranks, id, rank), "ncclCommInitRank");
        return comm;
    }

    public void GroupStart() => Check(_groupStart(), "ncclGroupStart");
    public void GroupEnd() => Check(_groupEnd(), "ncclGroupEnd");

    public void Send(IntPtr data, long count, NcclType type, int peer, IntPtr comm) =>
        Check(_send(data, (nuint)count, (int)type, peer, comm, IntPtr.Zero), "ncclSend");

    public void Receive(IntPtr data, long count, NcclType type, int peer, IntPtr comm) =>
        Check(_recv(data, (nuint)count, (int)type, peer, comm, IntPtr.Zero), "ncclRecv");

    public void Destroy(IntPtr comm) => _commDestroy(comm);

    private void Check(int result, string call)
    {
        if (result != 0)
            throw new InvalidOperationException($"{call} failed: {Marshal.PtrToStringAnsi(_errorString(result))} (NCCL error {result}).");
    }
}

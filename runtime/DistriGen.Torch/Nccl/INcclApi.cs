namespace DistriGen.Torch.Nccl;

/// <summary>NCCL's element types DistriGen's tensors use.</summary>
internal enum NcclType
{
    Float16 = 6,
    Float32 = 7,
    BFloat16 = 9,
}

/// <summary>
/// The part of NCCL's C API DistriGen calls (an interface, so everything around it is tested without GPUs).
/// </summary>
internal interface INcclApi
{
    /// <summary>The library's version, e.g. "2.21.5".</summary>
    string Version { get; }

    /// <summary>ncclGetUniqueId: the 128 bytes every rank of one communicator must be given.</summary>
    byte[] UniqueId();

    /// <summary>cudaSetDevice then ncclCommInitRank: this rank's communicator on GPU <paramref name="gpu"/>.</summary>
    IntPtr InitRank(int ranks, byte[] uniqueId, int rank, int gpu);

    void GroupStart();

    void GroupEnd();

    /// <summary>ncclSend on the default stream, ordered after the kernels that wrote <paramref name="data"/>.</summary>
    void Send(IntPtr data, long count, NcclType type, int peer, IntPtr comm);

    /// <summary>ncclRecv on the default stream.</summary>
    void Receive(IntPtr data, long count, NcclType type, int peer, IntPtr comm);

    void Destroy(IntPtr comm);
}

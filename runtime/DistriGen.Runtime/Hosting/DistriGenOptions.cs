using DistriGen.Tensors.Devices;

namespace DistriGen.Runtime;

/// <summary>How a host runs DistriGen: ranks, threads, backend, device and the patch-parallel options.</summary>
public sealed class DistriGenOptions
{
    /// <summary>Ranks as threads of this process (ignored under mpirun, where the MPI job decides).</summary>
    public int Ranks { get; set; } = 1;

    /// <summary>Compute threads per rank.</summary>
    public int ThreadsPerRank { get; set; } = Environment.ProcessorCount;

    /// <summary>"auto" (a native library when installed), "managed" or "openblas".</summary>
    public string Backend { get; set; } = "auto";

    /// <summary>
    /// Where ranks compute: the host (default), LibTorch's CPU or CUDA devices (see <see cref="DevicePlacement"/>).
    /// </summary>
    public DeviceSpec Device { get; set; } = DeviceSpec.Host;

    public PatchParallelOptions Parallel { get; set; } = new();
}

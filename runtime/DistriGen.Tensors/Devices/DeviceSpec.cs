namespace DistriGen.Tensors.Devices;

/// <summary>
/// A device as the user names it (<c>--device</c>): "host" (DistriGen's own kernels), "torch-cpu"
/// (LibTorch on the CPU) or "cuda" / "cuda:i" (LibTorch on NVIDIA GPUs), with the precision of the
/// weights and computation on it ("fp32", "bf16", "fp16"; on the host bf16 means oneDNN's bf16 kernels
/// for convolutions and linear layers, and fp16 is not offered).
/// </summary>
public sealed record DeviceSpec(string Kind, int? Index = null, string Precision = "fp32")
{
    public const string HostKind = "host";
    public const string TorchCpuKind = "torch-cpu";
    /// <summary>
    /// LibTorch on the CPU with 4-D tensors in channels-last (NHWC) memory, which its oneDNN convolutions
    /// prefer.
    /// </summary>
    public const string TorchCpuChannelsLastKind = "torch-cpu-nhwc";
    public const string CudaKind = "cuda";

    public static DeviceSpec Host { get; } = new(HostKind);

    public static IReadOnlyList<string> Precisions { get; } = ["fp32", "bf16", "fp16"];

    /// <summary>
    /// Parses "host", "torch-cpu", "cuda" or "cuda:i"; a wrong name or precision is an error naming the option.
    /// </summary>
    public static DeviceSpec Parse(string text, string precision = "fp32")
    {
        var name = text.Trim().ToLowerInvariant();
        if (!Precisions.Contains(precision))
            throw new ArgumentException($"--precision must be one of {string.Join(", ", Precisions)}; got '{precision}'.");
        DeviceSpec spec;
        if (name is HostKind or TorchCpuKind or TorchCpuChannelsLastKind or CudaKind)
            spec = new DeviceSpec(name, null, precision);
        else if (name.StartsWith(CudaKind + ":", StringComparison.Ordinal) && int.TryParse(name.AsSpan(CudaKind.Length + 1), out int index) && index >= 0)
            spec = new DeviceSpec(CudaKind, index, precision);
        else
            throw new ArgumentException($"--device must be host, torch-cpu, torch-cpu-nhwc, cuda or cuda:N (N a GPU index); got '{text}'.");
        if (spec.Kind == HostKind && precision == "fp16")
            throw new ArgumentException("--precision fp16 needs a LibTorch device (--device torch-cpu or cuda): the host computes in fp32 or bf16.");
        return spec;
    }

    public bool IsHost => Kind == HostKind;

    /// <summary>
    /// The GPU a rank uses, as torchrun's LOCAL_RANK: "cuda" gives local rank r GPU (r mod
    /// <paramref name="gpus"/>); "cuda:i" pins every rank to GPU i. Null for devices without an index.
    /// </summary>
    public int? IndexFor(int localRank, int gpus)
    {
        if (Kind != CudaKind) return null;
        if (gpus < 1) throw new InvalidOperationException("--device cuda: no CUDA device is visible (LibTorch reports 0 GPUs).");
        if (Index is { } fixedIndex)
        {
            if (fixedIndex >= gpus)
                throw new InvalidOperationException($"--device cuda:{fixedIndex}: only {gpus} GPU(s) are visible (indices 0 to {gpus - 1}).");
            return fixedIndex;
        }
        return localRank % gpus;
    }

    public override string ToString() =>
        (Index is { } i ? $"{Kind}:{i}" : Kind) + (Precision == "fp32" ? "" : $" ({Precision})");
}

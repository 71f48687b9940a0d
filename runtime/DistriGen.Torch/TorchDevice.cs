using System.Collections.Concurrent;
using DistriGen.Tensors.Devices;
using TorchSharp;

namespace DistriGen.Torch;

/// <summary>
/// A LibTorch device: the CPU ("torch-cpu") or one CUDA GPU ("cuda:i"), with the precision its weights
/// are stored and computed in. Inputs from the host (noise, embeddings, received messages) arrive in
/// float32; each layer computes in its weights' precision and LibTorch accumulates as it does for that
/// type (float32 accumulation for bf16/fp16 matrix products). One instance per (device, precision).
/// </summary>
public sealed class TorchDevice : Device
{
    private static readonly ConcurrentDictionary<(DeviceType Type, int Index, torch.ScalarType Precision,
        bool ChannelsLast), TorchDevice> Devices = new();

    private TorchDevice(DeviceType type, int index, torch.ScalarType precision, bool channelsLast)
    {
        Target = type == DeviceType.CUDA ? new torch.Device(type, index) : new torch.Device(type);
        Precision = precision;
        ChannelsLast = channelsLast;
        string where = type == DeviceType.CUDA ? $"cuda:{index}" : channelsLast ? "torch-cpu-nhwc" : "torch-cpu";
        Name = precision == torch.ScalarType.Float32 ? where : $"{where} ({PrecisionName(precision)})";
        Kernels = new TorchKernels(this);
    }

    /// <summary>Whether 4-D tensors are kept in channels-last (NHWC) memory, with NCHW shapes.</summary>
    public bool ChannelsLast { get; }

    public override string Name { get; }
    public override IDeviceKernels Kernels { get; }

    /// <summary>The LibTorch device tensors are made on.</summary>
    public torch.Device Target { get; }

    /// <summary>The type weights are stored and layers compute in.</summary>
    public torch.ScalarType Precision { get; }

    public override void Synchronize()
    {
        if (Target.type == DeviceType.CUDA) torch.cuda.synchronize(Target);
    }

    /// <summary>LibTorch on the CPU (with <paramref name="channelsLast"/>, 4-D tensors in NHWC memory).</summary>
    public static TorchDevice Cpu(string precision = "fp32", bool channelsLast = false) =>
        Get(DeviceType.CPU, 0, precision, channelsLast);

    /// <summary>CUDA GPU <paramref name="index"/>; an error naming the count when there is no such GPU.</summary>
    public static TorchDevice Cuda(int index, string precision = "fp32")
    {
        TorchLibrary.EnsureLoaded();
        int count = CudaCount;
        if (index < 0 || index >= count)
            throw new TorchUnavailableException(count == 0
                ? "--device cuda: LibTorch sees no CUDA GPU (the CPU build of LibTorch is referenced, or no driver is installed)."
                : $"--device cuda:{index}: LibTorch sees {count} GPU(s), indices 0 to {count - 1}.");
        return Get(DeviceType.CUDA, index, precision, channelsLast: false);
    }

    /// <summary>GPUs LibTorch can use (0 with the CPU build).</summary>
    public static int CudaCount
    {
        get
        {
            TorchLibrary.EnsureLoaded();
            return torch.cuda.is_available() ? torch.cuda.device_count() : 0;
        }
    }

    public static torch.ScalarType ParsePrecision(string precision) => precision switch
    {
        "fp32" => torch.ScalarType.Float32,
        "bf16" => torch.ScalarType.BFloat16,
        "fp16" => torch.ScalarType.Float16,
        _ => throw new ArgumentException($"--precision must be fp32, bf16 or fp16; got '{precision}'."),
    };

    private static string PrecisionName(torch.ScalarType type) => type switch
    {
        torch.ScalarType.BFloat16 => "bf16",
        torch.ScalarType.Float16 => "fp16",
        _ => "fp32",
    };

    private static TorchDevice Get(DeviceType type, int index, string precision, bool channelsLast)
    {
        var scalar = ParsePrecision(precision);
        TorchLibrary.EnsureLoaded();
        return Devices.GetOrAdd((type, index, scalar, channelsLast),
            key => new TorchDevice(key.Type, key.Index, key.Precision, key.ChannelsLast));
    }
}

using DistriGen.Tensors.Devices;

namespace DistriGen.Torch;

/// <summary>Makes "torch-cpu" and "cuda[:i]" devices for <see cref="DeviceSpec"/>s.</summary>
public sealed class TorchDeviceProvider : IDeviceProvider
{
    public bool Provides(string kind) => kind is DeviceSpec.TorchCpuKind or DeviceSpec.TorchCpuChannelsLastKind or DeviceSpec.CudaKind;

    public int Count(string kind) => kind == DeviceSpec.CudaKind ? TorchDevice.CudaCount : 1;

    public Device Get(DeviceSpec spec, int? index) => spec.Kind == DeviceSpec.CudaKind
        ? TorchDevice.Cuda(index ?? 0, spec.Precision)
        : TorchDevice.Cpu(spec.Precision, channelsLast: spec.Kind == DeviceSpec.TorchCpuChannelsLastKind);
}

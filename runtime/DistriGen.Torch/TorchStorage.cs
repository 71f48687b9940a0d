using DistriGen.Tensors.Devices;
using TorchSharp;

namespace DistriGen.Torch;

/// <summary>A LibTorch tensor holding a DistriGen tensor's values; disposed with it.</summary>
internal sealed class TorchStorage(torch.Tensor value) : DeviceStorage
{
    public torch.Tensor Value { get; } = value;

    public override void Dispose() => Value.Dispose();
}

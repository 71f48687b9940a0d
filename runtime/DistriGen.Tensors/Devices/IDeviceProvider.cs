namespace DistriGen.Tensors.Devices;

/// <summary>
/// Makes the devices of one kind (e.g. DistriGen.Torch's "torch-cpu" and "cuda") for a <see cref="DeviceSpec"/>.
/// </summary>
public interface IDeviceProvider
{
    /// <summary>Whether this provider makes devices of <paramref name="kind"/>.</summary>
    bool Provides(string kind);

    /// <summary>Devices of <paramref name="kind"/> this machine has (GPUs for "cuda"; 1 for a CPU device).</summary>
    int Count(string kind);

    /// <summary>
    /// The device for <paramref name="spec"/> and a resolved <paramref name="index"/> (null where there is none).
    /// </summary>
    Device Get(DeviceSpec spec, int? index);
}

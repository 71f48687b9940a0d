namespace DistriGen.Tensors.Devices;

/// <summary>
/// Where a tensor's values live and what runs the operations on them. The host (managed, OpenBLAS and
/// oneDNN kernels on float32 arrays) is the default; other devices (DistriGen.Torch: LibTorch on CPU
/// or CUDA) implement <see cref="IDeviceKernels"/>. New tensors are made on <see cref="Current"/>, the
/// device a thread is working on; an operation's output is on its inputs' device.
/// </summary>
public abstract class Device
{
    [ThreadStatic] private static Device? _current;

    /// <summary>Host memory, with DistriGen's own kernels.</summary>
    public static Device Host { get; } = new HostDevice();

    /// <summary>The device new tensors (parameters, noise, embeddings) are made on, on this thread.</summary>
    public static Device Current => _current ?? Host;

    /// <summary>
    /// Makes <paramref name="device"/> this thread's current device until the returned object is disposed.
    /// </summary>
    public static IDisposable Use(Device device)
    {
        var previous = _current;
        _current = device;
        return new Restore(previous);
    }

    /// <summary>
    /// A name for messages and reports: "host", "torch-cpu", "cuda:0", with the precision when it is not float32.
    /// </summary>
    public abstract string Name { get; }

    public bool IsHost => ReferenceEquals(this, Host);

    /// <summary>
    /// The device's operations; the host has none (its operations are <see cref="Ops.Ops"/>' own code).
    /// </summary>
    public abstract IDeviceKernels? Kernels { get; }

    /// <summary>
    /// Waits until the device has finished the work queued so far (for timing; the host and LibTorch's CPU are
    /// synchronous).
    /// </summary>
    public virtual void Synchronize() { }

    public override string ToString() => Name;

    private sealed class HostDevice : Device
    {
        public override string Name => "host";
        public override IDeviceKernels? Kernels => null;
    }

    private sealed class Restore(Device? previous) : IDisposable
    {
        public void Dispose() => _current = previous;
    }
}

/// <summary>A device tensor's values, owned by the device that made them; disposed with the tensor.</summary>
public abstract class DeviceStorage : IDisposable
{
    public abstract void Dispose();
}

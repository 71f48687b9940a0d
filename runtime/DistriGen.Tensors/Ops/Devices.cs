using DistriGen.Tensors.Devices;

namespace DistriGen.Tensors.Ops;

public static partial class Ops
{
    /// <summary>
    /// The kernels of the device all of an operation's tensors are on (null for the host, whose
    /// kernels are Ops' own code); tensors on different devices are an error naming both.
    /// </summary>
    private static IDeviceKernels? KernelsOf(string op, Tensor a, Tensor? b = null, Tensor? c = null, Tensor? d = null)
    {
        var device = a.Device;
        SameDevice(op, a, b);
        SameDevice(op, a, c);
        SameDevice(op, a, d);
        return device.Kernels;
    }

    private static void SameDevice(string op, Tensor a, Tensor? other)
    {
        if (other is not null && !ReferenceEquals(other.Device, a.Device))
            throw new ArgumentException(
                $"{op}: {a} is on {a.Device.Name} but {other} is on {other.Device.Name}; move them to one device (Ops.To).");
    }

    private static IDeviceKernels? KernelsOf(string op, IReadOnlyList<Tensor> parts)
    {
        foreach (var p in parts) SameDevice(op, parts[0], p);
        return parts[0].Device.Kernels;
    }

    /// <summary>
    /// A copy of <paramref name="x"/> on <paramref name="device"/> (staged through the host between devices).
    /// </summary>
    public static Tensor To(Tensor x, Device device)
    {
        if (x.IsMeta) return Tensor.Meta(x.Shape);
        if (ReferenceEquals(x.Device, device)) return x.Clone();
        var host = x.Device.IsHost ? x.Buffer : x.ToArray();
        using var use = Device.Use(device);
        return Tensor.FromArray(host.AsSpan(0, x.Length), x.Shape);
    }

    /// <summary>
    /// Overwrites <paramref name="destination"/>'s values with host values (e.g. weights read from a file).
    /// </summary>
    public static void CopyFromHost(ReadOnlySpan<float> values, Tensor destination)
    {
        int length = values.Length;
        Shapes.Check(length == destination.Length, "copy_from_host",
            () => $"{length} host values cannot fill {Tensor.Format(destination.Shape)}.");
        if (destination.IsMeta) return;
        if (destination.Device.Kernels is { } k) k.CopyFromHost(values, destination);
        else values.CopyTo(destination.Span);
    }

    /// <summary>Sets every value of <paramref name="x"/> to <paramref name="value"/>.</summary>
    public static void Fill(Tensor x, float value)
    {
        if (x.IsMeta) return;
        if (x.Device.Kernels is { } k) k.Fill(x, value);
        else x.Span.Fill(value);
    }
}

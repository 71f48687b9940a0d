using System.Runtime.CompilerServices;
using DistriGen.Tensors.Devices;

namespace DistriGen.Tensors;

/// <summary>
/// A dense float32 tensor in row-major order (NCHW for images, (B, N, C) for tokens) on a
/// <see cref="Devices.Device"/>. On the host its memory comes from <see cref="TensorMemory"/> and goes
/// back on <see cref="Dispose"/>; on another device the device owns it (<see cref="Storage"/>). A tensor
/// made while a <see cref="TensorScope"/> is open is disposed with that scope unless it is kept.
/// A meta tensor has a shape and no data: operations on meta tensors compute shapes only, which is how
/// plans and FLOP counts are made for models too large to run.
/// </summary>
public sealed class Tensor : IDisposable
{
    private float[]? _buffer;
    private DeviceStorage? _storage;
    private readonly bool _owns;

    public int[] Shape { get; }
    public int Length { get; }
    public bool IsMeta { get; }
    public bool IsDisposed { get; private set; }

    /// <summary>Where the values live and which implementation computes with them.</summary>
    public Device Device { get; }

    private Tensor(int[] shape, Device device, float[]? buffer, DeviceStorage? storage, bool owns, bool isMeta, bool tracked)
    {
        Shape = shape;
        Length = ElementCount(shape);
        Device = device;
        _buffer = buffer;
        _storage = storage;
        _owns = owns;
        IsMeta = isMeta;
        if (tracked) TensorScope.Track(this);
    }

    /// <summary>A tensor with uninitialised contents on the current device.</summary>
    public static Tensor Empty(params int[] shape)
    {
        var device = Device.Current;
        if (TensorScope.MetaActive) return new Tensor((int[])shape.Clone(), device, null, null, owns: true, isMeta: true, tracked: true);
        return device.IsHost ? HostEmpty(shape) : device.Kernels!.Empty((int[])shape.Clone());
    }

    /// <summary>
    /// A host tensor with uninitialised contents, whatever the current device (the host kernels' outputs).
    /// </summary>
    internal static Tensor HostEmpty(params int[] shape)
    {
        var copy = (int[])shape.Clone();
        if (TensorScope.MetaActive) return new Tensor(copy, Device.Host, null, null, owns: true, isMeta: true, tracked: true);
        return new Tensor(copy, Device.Host, TensorMemory.Rent(ElementCount(copy)), null, owns: true, isMeta: false, tracked: true);
    }

    /// <summary>
    /// A tensor of another device wrapping <paramref name="storage"/> (for device implementations). It is
    /// tracked by the open scope unless <paramref name="tracked"/> is false (parameters).
    /// </summary>
    public static Tensor OnDevice(Device device, DeviceStorage storage, int[] shape, bool tracked = true) =>
        new((int[])shape.Clone(), device, null, storage, owns: true, isMeta: false, tracked);

    /// <summary>
    /// A zero-filled parameter on the current device: it belongs to its module, not to any open scope;
    /// in meta mode it has no data, so models too large for memory can be planned.
    /// </summary>
    public static Tensor Parameter(params int[] shape)
    {
        var copy = (int[])shape.Clone();
        var device = Device.Current;
        if (TensorScope.MetaActive || TensorScope.PlaceholdersActive)
            return new Tensor(copy, device, null, null, owns: false, isMeta: true, tracked: false);
        if (!device.IsHost) return device.Kernels!.Parameter(copy);
        var t = new Tensor(copy, device, TensorMemory.Rent(ElementCount(copy)), null, owns: false, isMeta: false, tracked: false);
        t.Span.Clear();
        return t;
    }

    /// <summary>
    /// Data derived from a real host parameter (e.g. a transposed weight): real and untracked even in meta mode.
    /// </summary>
    internal static Tensor Derived(params int[] shape)
    {
        var copy = (int[])shape.Clone();
        return new Tensor(copy, Device.Host, TensorMemory.Rent(ElementCount(copy)), null, owns: false, isMeta: false, tracked: false);
    }

    public static Tensor Zeros(params int[] shape) => Full(0f, shape);

    public static Tensor Full(float value, params int[] shape)
    {
        var t = Empty(shape);
        if (t.IsMeta) return t;
        if (t.Device.IsHost) t.Span.Fill(value);
        else t.Device.Kernels!.Fill(t, value);
        return t;
    }

    /// <summary>A tensor with no data: only its shape takes part in computation.</summary>
    public static Tensor Meta(params int[] shape) => new((int[])shape.Clone(), Device.Current, null, null, owns: true, isMeta: true, tracked: true);

    /// <summary>Copies <paramref name="data"/> into a new tensor on the current device.</summary>
    public static Tensor FromArray(ReadOnlySpan<float> data, params int[] shape)
    {
        if (data.Length != ElementCount(shape))
            throw new ArgumentException($"{data.Length} values cannot fill a tensor of shape {Format(shape)} ({ElementCount(shape)} elements).");
        var device = Device.Current;
        if (!device.IsHost && !TensorScope.MetaActive) return device.Kernels!.FromHost(data, (int[])shape.Clone());
        var t = HostEmpty(shape);
        if (!t.IsMeta) data.CopyTo(t.Span);
        return t;
    }

    public int Rank => Shape.Length;

    public int Dim(int axis) => Shape[axis < 0 ? Shape.Length + axis : axis];

    /// <summary>
    /// The values of a host tensor. A device tensor's values are copied with <see cref="ToArray"/> or <see
    /// cref="Ops.Ops.CopyToHost"/>.
    /// </summary>
    public Span<float> Span
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            if (IsMeta) throw new InvalidOperationException($"Tensor {Format(Shape)} is a meta tensor and has no data.");
            if (_buffer is null) throw new InvalidOperationException($"Tensor {Format(Shape)} is on {Device.Name}; copy its values to the host first (ToArray, Ops.CopyToHost).");
            return _buffer.AsSpan(0, Length);
        }
    }

    internal float[] Buffer
    {
        get
        {
            _ = Span;
            return _buffer!;
        }
    }

    /// <summary>The device's own representation of a device tensor's values.</summary>
    public DeviceStorage Storage
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            return _storage ?? throw new InvalidOperationException($"Tensor {Format(Shape)} is {(IsMeta ? "a meta tensor" : "on the host")}: it has no device storage.");
        }
    }

    public float this[params int[] index]
    {
        get => Span[Offset(index)];
        set => Span[Offset(index)] = value;
    }

    private int Offset(int[] index)
    {
        if (index.Length != Rank) throw new ArgumentException($"Index of rank {index.Length} for a tensor of rank {Rank}.");
        int offset = 0;
        for (int i = 0; i < index.Length; i++)
        {
            if ((uint)index[i] >= (uint)Shape[i]) throw new IndexOutOfRangeException($"Index {index[i]} on axis {i} of a tensor of shape {Format(Shape)}.");
            offset = offset * Shape[i] + index[i];
        }
        return offset;
    }

    /// <summary>A view with another shape over the same data; it is valid while this tensor is.</summary>
    public Tensor Reshape(params int[] shape)
    {
        var resolved = (int[])shape.Clone();
        int infer = Array.IndexOf(resolved, -1);
        if (infer >= 0)
        {
            int known = 1;
            for (int i = 0; i < resolved.Length; i++) if (i != infer) known *= resolved[i];
            resolved[infer] = known == 0 ? 0 : Length / known;
        }
        if (resolved.Count(d => d == -1) > 0 || resolved.Any(d => d < -1) || resolved.Aggregate(1L, (a, d) => a * d) != Length)
            throw new ArgumentException($"Cannot reshape a tensor of shape {Format(Shape)} ({Length} elements) to {Format(shape)}.");
        if (_storage is not null) return Device.Kernels!.Reshape(this, resolved);
        return new Tensor(resolved, Device, _buffer, null, owns: false, isMeta: IsMeta, tracked: false);
    }

    public Tensor Clone()
    {
        if (IsMeta) return Meta(Shape);
        if (_storage is not null) return Device.Kernels!.Clone(this);
        var t = HostEmpty(Shape);
        Span.CopyTo(t.Span);
        return t;
    }

    /// <summary>The values, copied to a new host array (from any device).</summary>
    public float[] ToArray()
    {
        if (_storage is null) return Span.ToArray();
        var values = new float[Length];
        Device.Kernels!.CopyToHost(this, values);
        return values;
    }

    /// <summary>Removes this tensor from the open scope so that it outlives it.</summary>
    public Tensor Keep()
    {
        TensorScope.Untrack(this);
        return this;
    }

    public void Dispose()
    {
        if (IsDisposed) return;
        IsDisposed = true;
        if (_owns && _buffer is not null) TensorMemory.Return(_buffer);
        if (_owns) _storage?.Dispose();
        _buffer = null;
        _storage = null;
    }

    public override string ToString() => Device.IsHost ? $"Tensor{Format(Shape)}" : $"Tensor{Format(Shape)} on {Device.Name}";

    public static string Format(ReadOnlySpan<int> shape) => "(" + string.Join(", ", shape.ToArray()) + ")";

    public static int ElementCount(ReadOnlySpan<int> shape)
    {
        long n = 1;
        foreach (var d in shape)
        {
            if (d < 0) throw new ArgumentException($"Negative dimension in shape {Format(shape)}.");
            n *= d;
        }
        if (n > int.MaxValue) throw new ArgumentException($"Shape {Format(shape)} has {n} elements, more than one tensor can hold.");
        return (int)n;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static bool AnyMeta(Tensor a, Tensor? b = null, Tensor? c = null) => a.IsMeta || (b?.IsMeta ?? false) || (c?.IsMeta ?? false);
}

using System.Runtime.CompilerServices;

namespace DistriGen.Tensors;

/// <summary>
/// A dense float32 tensor in row-major order (NCHW for images, (B, N, C) for tokens).
/// Memory comes from <see cref="TensorMemory"/> and goes back on <see cref="Dispose"/>; a tensor made
/// while a <see cref="TensorScope"/> is open is disposed with that scope unless it is kept.
/// A meta tensor has a shape and no data: operations on meta tensors compute shapes only, which is how
/// plans and FLOP counts are made for models too large to run.
/// </summary>
public sealed class Tensor : IDisposable
{
    private float[]? _buffer;
    private readonly bool _ownsBuffer;

    public int[] Shape { get; }
    public int Length { get; }
    public bool IsMeta { get; }
    public bool IsDisposed { get; private set; }

    private Tensor(int[] shape, float[]? buffer, bool ownsBuffer, bool isMeta)
    {
        Shape = shape;
        Length = ElementCount(shape);
        _buffer = buffer;
        _ownsBuffer = ownsBuffer;
        IsMeta = isMeta;
        if (ownsBuffer) TensorScope.Track(this);
    }

    /// <summary>A tensor with uninitialised contents.</summary>
    public static Tensor Empty(params int[] shape)
    {
        var copy = (int[])shape.Clone();
        if (TensorScope.MetaActive) return new Tensor(copy, null, ownsBuffer: true, isMeta: true);
        return new Tensor(copy, TensorMemory.Rent(ElementCount(copy)), ownsBuffer: true, isMeta: false);
    }

    /// <summary>
    /// A zero-filled parameter: it belongs to its module, not to any open scope; in meta mode it has
    /// no data, so models too large for memory can be planned.
    /// </summary>
    public static Tensor Parameter(params int[] shape)
    {
        var copy = (int[])shape.Clone();
        if (TensorScope.MetaActive) return new Tensor(copy, null, ownsBuffer: false, isMeta: true);
        var t = new Tensor(copy, TensorMemory.Rent(ElementCount(copy)), ownsBuffer: false, isMeta: false);
        t.Span.Clear();
        return t;
    }

    /// <summary>Data derived from a real parameter (e.g. a transposed weight): real and untracked even in meta mode.</summary>
    internal static Tensor Derived(params int[] shape)
    {
        var copy = (int[])shape.Clone();
        return new Tensor(copy, TensorMemory.Rent(ElementCount(copy)), ownsBuffer: false, isMeta: false);
    }

    public static Tensor Zeros(params int[] shape)
    {
        var t = Empty(shape);
        if (!t.IsMeta) t.Span.Clear();
        return t;
    }

    public static Tensor Full(float value, params int[] shape)
    {
        var t = Empty(shape);
        if (!t.IsMeta) t.Span.Fill(value);
        return t;
    }

    /// <summary>A tensor with no data: only its shape takes part in computation.</summary>
    public static Tensor Meta(params int[] shape) => new((int[])shape.Clone(), null, ownsBuffer: true, isMeta: true);

    /// <summary>Copies <paramref name="data"/> into a new tensor.</summary>
    public static Tensor FromArray(ReadOnlySpan<float> data, params int[] shape)
    {
        var t = Empty(shape);
        if (data.Length != t.Length)
            throw new ArgumentException($"{data.Length} values cannot fill a tensor of shape {Format(shape)} ({t.Length} elements).");
        data.CopyTo(t.Span);
        return t;
    }

    public int Rank => Shape.Length;

    public int Dim(int axis) => Shape[axis < 0 ? Shape.Length + axis : axis];

    public Span<float> Span
    {
        get
        {
            ObjectDisposedException.ThrowIf(IsDisposed, this);
            if (IsMeta) throw new InvalidOperationException($"Tensor {Format(Shape)} is a meta tensor and has no data.");
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
        return new Tensor(resolved, _buffer, ownsBuffer: false, isMeta: IsMeta);
    }

    public Tensor Clone()
    {
        if (IsMeta) return Meta(Shape);
        var t = Empty(Shape);
        Span.CopyTo(t.Span);
        return t;
    }

    public float[] ToArray() => Span.ToArray();

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
        if (_ownsBuffer && _buffer is not null) TensorMemory.Return(_buffer);
        _buffer = null;
    }

    public override string ToString() => $"Tensor{Format(Shape)}";

    public static string Format(ReadOnlySpan<int> shape) => "(" + string.Join(", ", shape.ToArray()) + ")";

    internal static int ElementCount(ReadOnlySpan<int> shape)
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

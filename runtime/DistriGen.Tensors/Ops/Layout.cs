using System.Runtime.Intrinsics.X86;
using DistriGen.Tensors.Compute;

namespace DistriGen.Tensors.Ops;

public static partial class Ops
{
    /// <summary>Concatenates NCHW tensors along channels.</summary>
    public static Tensor ConcatChannels(Tensor a, Tensor b)
    {
        const string op = "concat_channels";
        Shapes.Rank(a, 4, op, "first input");
        Shapes.Rank(b, 4, op, "second input");
        Shapes.Check(a.Dim(0) == b.Dim(0) && a.Dim(2) == b.Dim(2) && a.Dim(3) == b.Dim(3), op, () => $"{Tensor.Format(a.Shape)} and {Tensor.Format(b.Shape)} differ outside the channel axis.");
        int batch = a.Dim(0), ca = a.Dim(1), cb = b.Dim(1), hw = a.Dim(2) * a.Dim(3);
        if (Tensor.AnyMeta(a, b)) return Tensor.Meta(batch, ca + cb, a.Dim(2), a.Dim(3));
        if (KernelsOf(op, a, b) is { } device) return device.ConcatChannels(a, b);
        var y = Tensor.HostEmpty(batch, ca + cb, a.Dim(2), a.Dim(3));
        using var _ = OpProfiler.Measure(OpCategory.Layout);
        for (int i = 0; i < batch; i++)
        {
            a.Span.Slice(i * ca * hw, ca * hw).CopyTo(y.Span.Slice(i * (ca + cb) * hw));
            b.Span.Slice(i * cb * hw, cb * hw).CopyTo(y.Span.Slice((i * (ca + cb) + ca) * hw));
        }
        return y;
    }

    /// <summary>Rows [start, end) of an NCHW tensor.</summary>
    public static Tensor SliceRows(Tensor x, int start, int end)
    {
        const string op = "slice_rows";
        Shapes.Rank(x, 4, op, "input");
        Shapes.Check(0 <= start && start <= end && end <= x.Dim(2), op, () => $"rows [{start}, {end}) are outside a tensor of shape {Tensor.Format(x.Shape)}.");
        int bc = x.Dim(0) * x.Dim(1), h = x.Dim(2), w = x.Dim(3), rows = end - start;
        if (x.IsMeta) return Tensor.Meta(x.Dim(0), x.Dim(1), rows, w);
        if (KernelsOf(op, x) is { } device) return device.SliceRows(x, start, end);
        var y = Tensor.HostEmpty(x.Dim(0), x.Dim(1), rows, w);
        using var _ = OpProfiler.Measure(OpCategory.Layout);
        var xs = x.Span;
        var ys = y.Span;
        for (int p = 0; p < bc; p++) xs.Slice((p * h + start) * w, rows * w).CopyTo(ys.Slice(p * rows * w));
        return y;
    }

    /// <summary>Concatenates NCHW tensors along rows (height).</summary>
    public static Tensor ConcatRows(IReadOnlyList<Tensor> parts)
    {
        const string op = "concat_rows";
        Shapes.Check(parts.Count > 0, op, () => "no tensors to concatenate.");
        var first = parts[0];
        int n = first.Dim(0), c = first.Dim(1), w = first.Dim(3);
        int total = 0;
        foreach (var p in parts)
        {
            Shapes.Check(p.Rank == 4 && p.Dim(0) == n && p.Dim(1) == c && p.Dim(3) == w, op, () => $"{Tensor.Format(p.Shape)} does not match {Tensor.Format(first.Shape)} outside the row axis.");
            total += p.Dim(2);
        }
        if (parts.Any(p => p.IsMeta)) return Tensor.Meta(n, c, total, w);
        if (KernelsOf(op, parts) is { } device) return device.ConcatRows(parts);
        var y = Tensor.HostEmpty(n, c, total, w);
        using var _ = OpProfiler.Measure(OpCategory.Layout);
        var ys = y.Span;
        for (int plane = 0; plane < n * c; plane++)
        {
            int row = 0;
            foreach (var p in parts)
            {
                int h = p.Dim(2);
                p.Span.Slice(plane * h * w, h * w).CopyTo(ys.Slice((plane * total + row) * w));
                row += h;
            }
        }
        return y;
    }

    /// <summary>Rows [start, end) of the batch axis.</summary>
    public static Tensor SliceBatch(Tensor x, int start, int end)
    {
        Shapes.Check(0 <= start && start <= end && end <= x.Dim(0), "slice_batch", () => $"[{start}, {end}) is outside the batch of {Tensor.Format(x.Shape)}.");
        var shape = (int[])x.Shape.Clone();
        shape[0] = end - start;
        if (x.IsMeta) return Tensor.Meta(shape);
        if (KernelsOf("slice_batch", x) is { } device) return device.SliceBatch(x, start, end);
        var y = Tensor.HostEmpty(shape);
        int per = x.Length / Math.Max(1, x.Dim(0));
        x.Span.Slice(start * per, (end - start) * per).CopyTo(y.Span);
        return y;
    }

    /// <summary>Concatenates tensors along the batch axis.</summary>
    public static Tensor ConcatBatch(IReadOnlyList<Tensor> parts)
    {
        var shape = (int[])parts[0].Shape.Clone();
        shape[0] = parts.Sum(p => p.Dim(0));
        foreach (var p in parts)
            Shapes.Check(p.Shape.AsSpan(1).SequenceEqual(parts[0].Shape.AsSpan(1)), "concat_batch", () => $"{Tensor.Format(p.Shape)} does not match {Tensor.Format(parts[0].Shape)}.");
        if (parts.Any(p => p.IsMeta)) return Tensor.Meta(shape);
        if (KernelsOf("concat_batch", parts) is { } device) return device.ConcatBatch(parts);
        var y = Tensor.HostEmpty(shape);
        int offset = 0;
        foreach (var p in parts)
        {
            p.Span.CopyTo(y.Span.Slice(offset));
            offset += p.Length;
        }
        return y;
    }

    /// <summary>Nearest-neighbour resize of an NCHW tensor to (outH, outW), as torch's 'nearest': source = floor(dst · in / out).</summary>
    public static Tensor UpsampleNearest(Tensor x, int outH, int outW)
    {
        Shapes.Rank(x, 4, "upsample_nearest", "input");
        int planes = x.Dim(0) * x.Dim(1), h = x.Dim(2), w = x.Dim(3);
        if (x.IsMeta) return Tensor.Meta(x.Dim(0), x.Dim(1), outH, outW);
        if (KernelsOf("upsample_nearest", x) is { } device) return device.UpsampleNearest(x, outH, outW);
        var y = Tensor.HostEmpty(x.Dim(0), x.Dim(1), outH, outW);
        using var _ = OpProfiler.Measure(OpCategory.Layout);
        float sy = (float)h / outH, sx = (float)w / outW;
        var srcX = new int[outW];
        for (int j = 0; j < outW; j++) srcX[j] = Math.Min(w - 1, (int)MathF.Floor(j * sx));
        var xd = x.Buffer;
        var yd = y.Buffer;
        ComputeThreads.For(planes, ComputeThreads.Current, p =>
        {
            for (int i = 0; i < outH; i++)
            {
                int si = Math.Min(h - 1, (int)MathF.Floor(i * sy));
                var src = new ReadOnlySpan<float>(xd, (p * h + si) * w, w);
                var dst = new Span<float>(yd, (p * outH + i) * outW, outW);
                for (int j = 0; j < outW; j++) dst[j] = src[srcX[j]];
            }
        });
        return y;
    }

    /// <summary>(B, C, H, W) → (B, H·W, C).</summary>
    public static Tensor ToTokens(Tensor x)
    {
        Shapes.Rank(x, 4, "to_tokens", "input");
        int batch = x.Dim(0), c = x.Dim(1), hw = x.Dim(2) * x.Dim(3);
        if (x.IsMeta) return Tensor.Meta(batch, hw, c);
        if (KernelsOf("to_tokens", x) is { } device) return device.ToTokens(x);
        var y = Tensor.HostEmpty(batch, hw, c);
        using var _ = OpProfiler.Measure(OpCategory.Layout);
        Transpose(x.Buffer, y.Buffer, batch, c, hw);
        return y;
    }

    /// <summary>(B, H·W, C) → (B, C, H, W).</summary>
    public static Tensor FromTokens(Tensor x, int h, int w)
    {
        Shapes.Check(x.Rank == 3 && x.Dim(1) == h * w, "from_tokens", () => $"{Tensor.Format(x.Shape)} does not hold {h}×{w} tokens.");
        int batch = x.Dim(0), c = x.Dim(2);
        if (x.IsMeta) return Tensor.Meta(batch, c, h, w);
        if (KernelsOf("from_tokens", x) is { } device) return device.FromTokens(x, h, w);
        var y = Tensor.HostEmpty(batch, c, h, w);
        using var _ = OpProfiler.Measure(OpCategory.Layout);
        Transpose(x.Buffer, y.Buffer, batch, h * w, c);
        return y;
    }

    /// <summary>Per batch item, dst (cols × rows) = srcᵀ, with src (rows × cols): a band of 32 rows per job.</summary>
    private static unsafe void Transpose(float[] src, float[] dst, int batch, int rows, int cols)
    {
        const int T = 32;
        int rowTiles = (rows + T - 1) / T;
        fixed (float* ps = src, pd = dst)
        {
            nint from = (nint)ps, to = (nint)pd;
            ComputeThreads.For(batch * rowTiles, ComputeThreads.Current, job =>
            {
                int b = job / rowTiles, r0 = job % rowTiles * T, r1 = Math.Min(rows, r0 + T);
                long item = (long)b * rows * cols;
                TransposeBlock((float*)from + item + (long)r0 * cols, cols, (float*)to + item + r0, rows, r1 - r0, cols);
            });
        }
    }

    /// <summary>
    /// A rows × cols block whose rows lie <paramref name="ls"/> floats apart, written transposed (cols × rows)
    /// in rows <paramref name="ld"/> apart: 8×8 pieces in registers (AVX), the edges element by element.
    /// </summary>
    internal static unsafe void TransposeBlock(float* s, int ls, float* d, int ld, int rows, int cols)
    {
        int r = 0;
        if (Avx.IsSupported)
        {
            for (; r + 8 <= rows; r += 8)
            {
                int c = 0;
                for (; c + 8 <= cols; c += 8) Transpose8x8(s + (long)r * ls + c, ls, d + (long)c * ld + r, ld);
                for (; c < cols; c++)
                    for (int i = r; i < r + 8; i++) d[(long)c * ld + i] = s[(long)i * ls + c];
            }
        }
        for (; r < rows; r++)
            for (int c = 0; c < cols; c++) d[(long)c * ld + r] = s[(long)r * ls + c];
    }

    /// <summary>
    /// An 8×8 block from rows <paramref name="ls"/> apart to its transpose in rows <paramref name="ld"/>
    /// apart.
    /// </summary>
    private static unsafe void Transpose8x8(float* s, int ls, float* d, int ld)
    {
        var t0 = Avx.UnpackLow(Avx.LoadVector256(s), Avx.LoadVector256(s + ls));
        var t1 = Avx.UnpackHigh(Avx.LoadVector256(s), Avx.LoadVector256(s + ls));
        var t2 = Avx.UnpackLow(Avx.LoadVector256(s + 2 * ls), Avx.LoadVector256(s + 3 * ls));
        var t3 = Avx.UnpackHigh(Avx.LoadVector256(s + 2 * ls), Avx.LoadVector256(s + 3 * ls));
        var t4 = Avx.UnpackLow(Avx.LoadVector256(s + 4 * ls), Avx.LoadVector256(s + 5 * ls));
        var t5 = Avx.UnpackHigh(Avx.LoadVector256(s + 4 * ls), Avx.LoadVector256(s + 5 * ls));
        var t6 = Avx.UnpackLow(Avx.LoadVector256(s + 6 * ls), Avx.LoadVector256(s + 7 * ls));
        var t7 = Avx.UnpackHigh(Avx.LoadVector256(s + 6 * ls), Avx.LoadVector256(s + 7 * ls));
        var u0 = Avx.Shuffle(t0, t2, 0x44);
        var u1 = Avx.Shuffle(t0, t2, 0xEE);
        var u2 = Avx.Shuffle(t1, t3, 0x44);
        var u3 = Avx.Shuffle(t1, t3, 0xEE);
        var u4 = Avx.Shuffle(t4, t6, 0x44);
        var u5 = Avx.Shuffle(t4, t6, 0xEE);
        var u6 = Avx.Shuffle(t5, t7, 0x44);
        var u7 = Avx.Shuffle(t5, t7, 0xEE);
        Avx.Store(d, Avx.Permute2x128(u0, u4, 0x20));
        Avx.Store(d + ld, Avx.Permute2x128(u1, u5, 0x20));
        Avx.Store(d + 2 * ld, Avx.Permute2x128(u2, u6, 0x20));
        Avx.Store(d + 3 * ld, Avx.Permute2x128(u3, u7, 0x20));
        Avx.Store(d + 4 * ld, Avx.Permute2x128(u0, u4, 0x31));
        Avx.Store(d + 5 * ld, Avx.Permute2x128(u1, u5, 0x31));
        Avx.Store(d + 6 * ld, Avx.Permute2x128(u2, u6, 0x31));
        Avx.Store(d + 7 * ld, Avx.Permute2x128(u3, u7, 0x31));
    }
}

public static partial class Ops
{
    /// <summary>Concatenates (…, p) and (…, q) along the last axis into (…, p + q); the leading axes must agree.</summary>
    public static Tensor ConcatColumns(Tensor a, Tensor b)
    {
        Shapes.Check(a.Rank == b.Rank && a.Rank >= 1 && a.Shape.AsSpan(0, a.Rank - 1).SequenceEqual(b.Shape.AsSpan(0, b.Rank - 1)),
            "concat_columns", () => $"{Tensor.Format(a.Shape)} and {Tensor.Format(b.Shape)} cannot be joined along the last axis.");
        int p = a.Dim(-1), q = b.Dim(-1), rows = Tensor.ElementCount(a.Shape.AsSpan(0, a.Rank - 1));
        var shape = (int[])a.Shape.Clone();
        shape[^1] = p + q;
        if (Tensor.AnyMeta(a, b)) return Tensor.Meta(shape);
        if (KernelsOf("concat_columns", a, b) is { } device) return device.ConcatColumns(a, b);
        var y = Tensor.HostEmpty(shape);
        using var _ = OpProfiler.Measure(OpCategory.Layout);
        for (int i = 0; i < rows; i++)
        {
            a.Span.Slice(i * p, p).CopyTo(y.Span.Slice(i * (p + q)));
            b.Span.Slice(i * q, q).CopyTo(y.Span.Slice(i * (p + q) + p));
        }
        return y;
    }
}

public static partial class Ops
{
    /// <summary>Tokens [start, end) of a (B, N, C) tensor.</summary>
    public static Tensor SliceTokens(Tensor x, int start, int end)
    {
        const string op = "slice_tokens";
        Shapes.Rank(x, 3, op, "input");
        Shapes.Check(0 <= start && start <= end && end <= x.Dim(1), op, () => $"tokens [{start}, {end}) are outside a tensor of shape {Tensor.Format(x.Shape)}.");
        int batch = x.Dim(0), n = x.Dim(1), c = x.Dim(2), count = end - start;
        if (x.IsMeta) return Tensor.Meta(batch, count, c);
        if (KernelsOf(op, x) is { } device) return device.SliceTokens(x, start, end);
        var y = Tensor.HostEmpty(batch, count, c);
        using var _ = OpProfiler.Measure(OpCategory.Layout);
        for (int b = 0; b < batch; b++) x.Span.Slice((b * n + start) * c, count * c).CopyTo(y.Span.Slice(b * count * c));
        return y;
    }

    /// <summary>Concatenates (B, Nᵢ, C) tensors along the token axis.</summary>
    public static Tensor ConcatTokens(IReadOnlyList<Tensor> parts)
    {
        const string op = "concat_tokens";
        Shapes.Check(parts.Count > 0, op, () => "no tensors to concatenate.");
        var first = parts[0];
        int batch = first.Dim(0), c = first.Dim(2);
        foreach (var p in parts)
            Shapes.Check(p.Rank == 3 && p.Dim(0) == batch && p.Dim(2) == c, op, () => $"{Tensor.Format(p.Shape)} does not match {Tensor.Format(first.Shape)} outside the token axis.");
        int total = parts.Sum(p => p.Dim(1));
        if (parts.Any(p => p.IsMeta)) return Tensor.Meta(batch, total, c);
        if (KernelsOf(op, parts) is { } device) return device.ConcatTokens(parts);
        var y = Tensor.HostEmpty(batch, total, c);
        using var _ = OpProfiler.Measure(OpCategory.Layout);
        for (int b = 0; b < batch; b++)
        {
            int position = 0;
            foreach (var p in parts)
            {
                int n = p.Dim(1);
                p.Span.Slice(b * n * c, n * c).CopyTo(y.Span.Slice((b * total + position) * c));
                position += n;
            }
        }
        return y;
    }

    /// <summary>Copies every value of <paramref name="x"/>, in row-major order, into host memory (a message, a file).</summary>
    public static void CopyToHost(Tensor x, Span<float> destination)
    {
        int length = destination.Length;
        Shapes.Check(length == x.Length, "copy_to_host", () => $"{length} values of host memory cannot hold {Tensor.Format(x.Shape)}.");
        if (x.IsMeta) return;
        if (KernelsOf("copy_to_host", x) is { } device) device.CopyToHost(x, destination);
        else x.Span.CopyTo(destination);
    }

    /// <summary>
    /// A tensor of <paramref name="shape"/> on <paramref name="device"/> holding a copy of host values (a received
    /// message).
    /// </summary>
    public static Tensor FromHost(ReadOnlySpan<float> values, Devices.Device device, params int[] shape)
    {
        using var on = Devices.Device.Use(device);
        return Tensor.FromArray(values, shape);
    }
}

public static partial class Ops
{
    /// <summary>
    /// Overwrites rows [start, start + rows of <paramref name="source"/>) of an NCHW tensor with <paramref
    /// name="source"/>'s rows.
    /// </summary>
    public static void WriteRows(Tensor destination, int start, Tensor source)
    {
        const string op = "write_rows";
        Shapes.Rank(destination, 4, op, "destination");
        Shapes.Rank(source, 4, op, "source");
        int planes = destination.Dim(0) * destination.Dim(1), h = destination.Dim(2), w = destination.Dim(3), rows = source.Dim(2);
        Shapes.Check(source.Dim(0) == destination.Dim(0) && source.Dim(1) == destination.Dim(1) && source.Dim(3) == w && 0 <= start && start + rows <= h, op,
            () => $"{Tensor.Format(source.Shape)} does not fit rows [{start}, {start + rows}) of {Tensor.Format(destination.Shape)}.");
        if (Tensor.AnyMeta(destination, source)) return;
        if (KernelsOf(op, destination, source) is { } device)
        {
            device.WriteRows(destination, start, source);
            return;
        }
        using var _ = OpProfiler.Measure(OpCategory.Layout);
        var src = source.Span;
        var dst = destination.Span;
        for (int p = 0; p < planes; p++) src.Slice(p * rows * w, rows * w).CopyTo(dst.Slice((p * h + start) * w));
    }
}

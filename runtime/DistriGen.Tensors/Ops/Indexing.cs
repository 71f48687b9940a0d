namespace DistriGen.Tensors.Ops;

public static partial class Ops
{
    /// <summary>
    /// Rows of a lookup table: y[b, i] = table[ids[b · length + i]] for ids of <paramref name="batch"/>
    /// sequences of <paramref name="length"/>, giving (batch, length, dim).
    /// </summary>
    public static Tensor Embedding(Tensor table, ReadOnlySpan<int> ids, int batch, int length)
    {
        const string op = "embedding";
        Shapes.Rank(table, 2, op, "table");
        int count = ids.Length;
        Shapes.Check(count == batch * length, op, () => $"{count} ids are not {batch} sequences of {length}.");
        int rows = table.Dim(0), dim = table.Dim(1);
        foreach (int id in ids)
            Shapes.Check((uint)id < (uint)rows, op, () => $"id {id} is outside the table of {rows} rows.");
        if (table.IsMeta) return Tensor.Meta(batch, length, dim);
        if (KernelsOf(op, table) is { } device) return device.Embedding(table, ids, batch, length);
        var y = Tensor.HostEmpty(batch, length, dim);
        var src = table.Span;
        var dst = y.Span;
        for (int i = 0; i < ids.Length; i++) src.Slice(ids[i] * dim, dim).CopyTo(dst.Slice(i * dim, dim));
        return y;
    }

    /// <summary>One token per sequence: y[b] = x[b, positions[b]] for x (B, N, D), giving (B, D).</summary>
    public static Tensor SelectTokens(Tensor x, ReadOnlySpan<int> positions)
    {
        const string op = "select_tokens";
        Shapes.Rank(x, 3, op, "input");
        int batch = x.Dim(0), n = x.Dim(1), d = x.Dim(2);
        int count = positions.Length;
        Shapes.Check(count == batch, op, () => $"{count} positions for a batch of {batch}.");
        foreach (int p in positions)
            Shapes.Check((uint)p < (uint)n, op, () => $"position {p} is outside the {n} tokens of {Tensor.Format(x.Shape)}.");
        if (x.IsMeta) return Tensor.Meta(batch, d);
        if (KernelsOf(op, x) is { } device) return device.SelectTokens(x, positions);
        var y = Tensor.HostEmpty(batch, d);
        for (int b = 0; b < batch; b++) x.Span.Slice((b * n + positions[b]) * d, d).CopyTo(y.Span.Slice(b * d, d));
        return y;
    }

    /// <summary>x += y where y's shape is the trailing part of x's (y repeats over x's leading axes).</summary>
    public static Tensor AddTrailingInPlace(Tensor x, Tensor y)
    {
        const string op = "add";
        Shapes.Check(y.Rank <= x.Rank && x.Shape.AsSpan(x.Rank - y.Rank).SequenceEqual(y.Shape), op,
            () => $"{Tensor.Format(y.Shape)} does not broadcast over {Tensor.Format(x.Shape)}.");
        if (Tensor.AnyMeta(x, y)) return x;
        if (KernelsOf(op, x, y) is { } device)
        {
            device.AddTrailingInPlace(x, y);
            return x;
        }
        using var _ = OpProfiler.Measure(OpCategory.Elementwise, x.Length);
        var xs = x.Span;
        var ys = y.Span;
        for (int offset = 0; offset < xs.Length; offset += ys.Length)
            System.Numerics.Tensors.TensorPrimitives.Add(xs.Slice(offset, ys.Length), ys, xs.Slice(offset, ys.Length));
        return x;
    }
}

namespace DistriGen.Tensors.Ops;

/// <summary>Shape checks that fail with a message naming the operation and the shapes it got.</summary>
internal static class Shapes
{
    public static void Rank(Tensor t, int rank, string op, string what)
    {
        if (t.Rank != rank)
            throw new ArgumentException($"{op}: {what} must have rank {rank}, got shape {Tensor.Format(t.Shape)}.");
    }

    public static void Equal(Tensor a, Tensor b, string op)
    {
        if (!a.Shape.AsSpan().SequenceEqual(b.Shape))
            throw new ArgumentException($"{op}: shapes {Tensor.Format(a.Shape)} and {Tensor.Format(b.Shape)} differ.");
    }

    public static void Check(bool ok, string op, Func<string> message)
    {
        if (!ok) throw new ArgumentException($"{op}: {message()}");
    }
}

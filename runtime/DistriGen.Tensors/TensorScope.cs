namespace DistriGen.Tensors;

/// <summary>
/// Collects the tensors made on this thread while it is open and disposes them when it closes, so a
/// forward pass gives all its intermediates back to the pool. Scopes nest; <see cref="Tensor.Keep"/>
/// moves a tensor out of the innermost scope into the one around it (or out of all scopes).
/// </summary>
public sealed class TensorScope : IDisposable
{
    [ThreadStatic] private static TensorScope? _current;
    [ThreadStatic] private static int _metaDepth;
    [ThreadStatic] private static int _placeholderDepth;

    private readonly TensorScope? _parent;
    private readonly List<Tensor> _tensors = [];
    private bool _closed;

    public TensorScope()
    {
        _parent = _current;
        _current = this;
    }

    /// <summary>While the returned object lives, new tensors on this thread are meta tensors (shapes only).</summary>
    public static IDisposable MetaMode()
    {
        _metaDepth++;
        return new Exit(() => _metaDepth--);
    }

    internal static bool MetaActive => _metaDepth > 0;

    /// <summary>
    /// While the returned object lives, <see cref="Tensor.Parameter"/> on this thread gives shape-only
    /// placeholders. Generated patch-parallel constructors build under it: C# runs a class's member
    /// initialisers in every constructor, and the variant replaces what they make with the source's
    /// shared layers, so nothing is allocated for them.
    /// </summary>
    public static IDisposable ParameterPlaceholders()
    {
        _placeholderDepth++;
        return new Exit(() => _placeholderDepth--);
    }

    internal static bool PlaceholdersActive => _placeholderDepth > 0;

    internal static void Track(Tensor t) => _current?._tensors.Add(t);

    internal static void Untrack(Tensor t)
    {
        var scope = _current;
        if (scope is null) return;
        int i = scope._tensors.LastIndexOf(t);
        if (i < 0) return;
        scope._tensors.RemoveAt(i);
        scope._parent?._tensors.Add(t);
    }

    public void Dispose()
    {
        if (_closed) return;
        _closed = true;
        if (_current != this) throw new InvalidOperationException("Tensor scopes must be closed in the reverse order of opening.");
        _current = _parent;
        foreach (var t in _tensors) t.Dispose();
        _tensors.Clear();
    }

    private sealed class Exit(Action leave) : IDisposable
    {
        private bool _done;

        public void Dispose()
        {
            if (_done) return;
            _done = true;
            leave();
        }
    }
}

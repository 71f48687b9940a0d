namespace DistriGen.Tensors.Nn;

/// <summary>
/// Finds the first layer whose output is NaN or infinite. Off by default (then each layer pays one
/// branch); a run that went non-finite is repeated once inside <see cref="Begin"/> to name the layer.
/// </summary>
public static class NonFiniteTrace
{
    [ThreadStatic] private static Tracer? _active;

    /// <summary>Traces the layers under <paramref name="root"/> (paths prefixed by <paramref name="prefix"/>) on this thread until disposed.</summary>
    public static Tracer Begin(Module root, string prefix = "")
    {
        var paths = new Dictionary<Module, string>(ReferenceEqualityComparer.Instance);
        foreach (var (path, module) in root.NamedModules(prefix)) paths.TryAdd(module, path);
        var tracer = new Tracer(paths);
        _active = tracer;
        return tracer;
    }

    /// <summary>Called by layers with their output; records the first non-finite one while a trace is active.</summary>
    internal static Tensor After(Module layer, Tensor output)
    {
        var tracer = _active;
        if (tracer is not null && tracer.FirstLayer is null && !Ops.Ops.AllFinite(output))
            tracer.FirstLayer = $"{(tracer.Paths.TryGetValue(layer, out var path) ? path : "?")} ({layer.GetType().Name})";
        return output;
    }

    public sealed class Tracer : IDisposable
    {
        internal Tracer(Dictionary<Module, string> paths) => Paths = paths;

        internal Dictionary<Module, string> Paths { get; }

        /// <summary>"path (Type)" of the first layer whose output was not finite, or null.</summary>
        public string? FirstLayer { get; internal set; }

        public void Dispose()
        {
            if (_active == this) _active = null;
        }
    }
}

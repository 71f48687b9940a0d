namespace DistriGen.Tensors.Compute;

/// <summary>Which backend runs the products, and why. Set DISTRIGEN_BACKEND=managed to force the managed path.</summary>
public static class ComputeBackends
{
    private static IComputeBackend? _current;
    private static string _reason = "";

    /// <summary>The backend in use: a native library when present and allowed, else managed.</summary>
    public static IComputeBackend Current
    {
        get
        {
            if (_current is not null) return _current;
            lock (typeof(ComputeBackends))
            {
                if (_current is not null) return _current;
                var forced = Environment.GetEnvironmentVariable("DISTRIGEN_BACKEND");
                _current = Select(forced ?? "auto");
                return _current;
            }
        }
        set
        {
            _current = value ?? throw new ArgumentNullException(nameof(value));
            _reason = "set by the host";
        }
    }

    /// <summary>Why the current backend was chosen (e.g. "OpenBLAS is not installed").</summary>
    public static string Reason
    {
        get
        {
            _ = Current;
            return _reason;
        }
    }

    /// <summary>
    /// Selects by name: "auto" (oneDNN, else OpenBLAS, else managed), "managed", "openblas", "onednn" or
    /// "onednn-winograd" (oneDNN with Winograd 3×3 convolutions: faster, slightly less exact).
    /// </summary>
    public static IComputeBackend Select(string name)
    {
        var key = name.Trim().ToLowerInvariant();
        switch (key)
        {
            case "managed":
                _reason = "managed path requested";
                return _current = ManagedBackend.Instance;
            case "openblas":
                var requested = OpenBlasBackend.TryLoad(out var why) ?? throw new InvalidOperationException($"The OpenBLAS backend was requested but {why}.");
                _reason = $"OpenBLAS requested ({requested.LibraryPath})";
                return _current = requested;
            case "onednn" or "onednn-winograd" or "onednn-bf16":
                var dnnl = DnnlBackend.TryLoad(out var dnnlWhy, winograd: key == "onednn-winograd",
                    bfloat16: key == "onednn-bf16")
                    ?? throw new InvalidOperationException($"The oneDNN backend was requested but {dnnlWhy}.");
                _reason = $"{dnnl.Name} requested ({dnnl.LibraryPath})";
                return _current = dnnl;
            case "auto":
                if (DnnlBackend.TryLoad(out var noDnnl) is { } found)
                {
                    _reason = $"found {found.LibraryPath}";
                    return _current = found;
                }
                var blas = OpenBlasBackend.TryLoad(out var noBlas);
                _reason = blas is null ? $"{noDnnl}; {noBlas}; using the managed kernels" : $"{noDnnl}; found {blas.LibraryPath}";
                return _current = blas is null ? ManagedBackend.Instance : blas;
            default:
                throw new ArgumentException($"Unknown compute backend '{name}'. Use auto, managed, openblas, onednn, onednn-winograd or onednn-bf16.", nameof(name));
        }
    }
}

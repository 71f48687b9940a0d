namespace DistriGen.Tensors.Nn;

/// <summary>
/// A model part with named parameters and named submodules. Names are exactly the state-dict names
/// diffusers writes ("down_blocks.0.resnets.1.conv1.weight"); a child named "" lends its parameters
/// to its parent's prefix.
/// </summary>
public abstract class Module
{
    /// <summary>Direct submodules in a fixed order, by name. Null children are skipped.</summary>
    public virtual IEnumerable<(string Name, Module? Module)> Children() => [];

    /// <summary>This module's own parameters, by name.</summary>
    public virtual IEnumerable<(string Name, Tensor Tensor)> OwnParameters() => [];

    /// <summary>Called after new parameter values were loaded, so derived data (e.g. a transposed weight) follows.</summary>
    protected internal virtual void OnParametersLoaded() { }

    /// <summary>Every module below and including this one, with its path.</summary>
    public IEnumerable<(string Path, Module Module)> NamedModules(string prefix = "")
    {
        yield return (prefix, this);
        foreach (var (name, child) in Children())
        {
            if (child is null) continue;
            foreach (var item in child.NamedModules(JoinPath(prefix, name))) yield return item;
        }
    }

    /// <summary>Every parameter below this module, with its state-dict name.</summary>
    public IEnumerable<(string Name, Tensor Tensor)> NamedParameters(string prefix = "")
    {
        foreach (var (path, module) in NamedModules(prefix))
            foreach (var (name, tensor) in module.OwnParameters())
                yield return (JoinPath(path, name), tensor);
    }

    public long ParameterCount() => NamedParameters().Sum(p => (long)p.Tensor.Length);

    /// <summary>The device the parameters are on (made on the device current when the module was built).</summary>
    public Devices.Device Device => NamedParameters().Select(p => p.Tensor.Device).FirstOrDefault() ?? Devices.Device.Host;

    /// <summary>
    /// Loads every parameter by exact name from <paramref name="source"/>. Missing keys, keys the model
    /// does not have (except under <paramref name="ignoredPrefixes"/>) and shape mismatches are one
    /// error that lists them all.
    /// </summary>
    public void LoadStateDict(ITensorSource source, params string[] ignoredPrefixes)
    {
        var parameters = NamedParameters().ToList();
        var known = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (name, _) in parameters)
            if (!known.Add(name))
                throw new InvalidOperationException($"{GetType().Name} has two parameters named '{name}': both would load the same weights.");
        var missing = new List<string>();
        var mismatched = new List<string>();
        foreach (var (name, tensor) in parameters)
        {
            if (!source.Contains(name))
            {
                missing.Add(name);
                continue;
            }
            var shape = source.ShapeOf(name);
            if (!shape.SequenceEqual(tensor.Shape))
            {
                mismatched.Add($"{name}: the file has {Tensor.Format(shape)}, the model expects {Tensor.Format(tensor.Shape)}");
                continue;
            }
            WriteValues(tensor, (span, key) => source.ReadInto(key, span), name);
        }
        var unexpected = source.Keys.Where(k => !known.Contains(k) && !ignoredPrefixes.Any(p => k.StartsWith(p, StringComparison.Ordinal))).OrderBy(k => k, StringComparer.Ordinal).ToList();
        if (missing.Count + mismatched.Count + unexpected.Count > 0)
            throw new StateDictException(source.Description, missing, unexpected, mismatched);
        foreach (var (_, module) in NamedModules()) module.OnParametersLoaded();
    }

    /// <summary>
    /// Tells every module below this one that parameter values were changed in place (e.g. a LoRA merged
    /// into them), so derived data (a transposed weight, a backend's reordered copy) is made again.
    /// </summary>
    public void ParametersChanged()
    {
        foreach (var (_, module) in NamedModules()) module.OnParametersLoaded();
    }

    /// <summary>
    /// Fills every parameter with seeded random values of a sensible scale (weights ~ N(0, 1/fan_in),
    /// norm scales near 1, small biases): for benchmarks and tests at real sizes without real weights.
    /// </summary>
    public void InitializeRandom(long seed)
    {
        var rng = new Ops.SeededNormal(seed);
        foreach (var (name, tensor) in NamedParameters())
        {
            bool isNormScale = tensor.Rank == 1 && name.EndsWith("weight", StringComparison.Ordinal);
            float std = tensor.Rank >= 2 ? 1f / MathF.Sqrt(tensor.Length / tensor.Dim(0)) : 0.05f;
            WriteValues(tensor, (span, _) =>
            {
                rng.Fill(span);
                for (int i = 0; i < span.Length; i++) span[i] = (isNormScale ? 1f : 0f) + std * span[i];
            }, name);
        }
        foreach (var (_, module) in NamedModules()) module.OnParametersLoaded();
    }

    /// <summary>
    /// Sets a parameter's values from host values <paramref name="fill"/> writes: in place on the host,
    /// through one pooled host buffer for a parameter on another device.
    /// </summary>
    private static void WriteValues(Tensor parameter, System.Buffers.SpanAction<float, string> fill, string name)
    {
        if (parameter.IsMeta) return;
        if (parameter.Device.IsHost)
        {
            fill(parameter.Span, name);
            return;
        }
        var staging = TensorMemory.Rent(parameter.Length);
        try
        {
            var values = staging.AsSpan(0, parameter.Length);
            fill(values, name);
            Ops.Ops.CopyFromHost(values, parameter);
        }
        finally
        {
            TensorMemory.Return(staging);
        }
    }

    /// <summary>A state-dict path: "down_blocks.0" + "resnets" → "down_blocks.0.resnets"; an empty part adds nothing.</summary>
    public static string JoinPath(string prefix, string name) => prefix.Length == 0 ? name : name.Length == 0 ? prefix : prefix + "." + name;
}

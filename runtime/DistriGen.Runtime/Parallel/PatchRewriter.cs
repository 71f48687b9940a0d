using DistriGen.Runtime.Layers;
using DistriGen.Tensors.Nn;

namespace DistriGen.Runtime;

/// <summary>A communication point of a rewritten model: where it is, what it does, and the layer's size.</summary>
public sealed record PatchPoint(string Path, PatchMemberKind Kind, string Detail);

/// <summary>
/// What the generated rewriting constructors call to build one rank's variant: it keeps the path of the
/// member being rewritten, makes the patch layers (each with its typed point in the rank's exchange)
/// and records every communication point with its diffusers-style path. It is used only while a
/// variant is built; at run time the layers talk to the exchange alone.
/// </summary>
public sealed class PatchRewriter
{
    private readonly PatchContext _context;
    private readonly List<PatchPoint> _points = [];
    private string _path = "";

    internal PatchRewriter(PatchContext context) => _context = context;

    public IReadOnlyList<PatchPoint> Points => _points;

    /// <summary>A convolution: halo exchange for kernels larger than 1, shared as is otherwise.</summary>
    public Conv2d Conv(Conv2d conv, string name)
    {
        var path = Module.JoinPath(_path, name);
        if (conv.KernelSize == 1 && conv.Padding == 0) return conv;
        if (conv.Padding * 2 != conv.KernelSize - 1)
            throw new NotSupportedException($"'{path}': a {conv.KernelSize}×{conv.KernelSize} convolution with padding {conv.Padding} changes the number of rows, so bands would not add up to the image; patch parallelism needs 'same' padding ((kernel − 1) / 2).");
        _points.Add(new PatchPoint(path, PatchMemberKind.HaloConv, $"{conv.KernelSize}×{conv.KernelSize} conv {conv.InChannels}→{conv.OutChannels}, stride {conv.Stride}, halo {conv.Padding}"));
        return _context.Mode == ParallelMode.Naive ? conv : new PatchConv2d(conv, new HaloPoint(_context.Cache, path, conv.Padding, _context.Rank, _context.Size));
    }

    /// <summary>The convolution that reads the full input and cuts out this rank's band (no communication).</summary>
    public Conv2d InputConv(Conv2d conv, string name) =>
        new PatchInputConv2d(conv, _context.Layout, _context.Rank, _context.Mode == ParallelMode.Naive, Module.JoinPath(_path, name));

    public Tensors.Nn.GroupNorm GroupNorm(Tensors.Nn.GroupNorm norm, string name)
    {
        var path = Module.JoinPath(_path, name);
        _points.Add(new PatchPoint(path, PatchMemberKind.GroupNorm, $"GroupNorm {norm.Groups} groups × {norm.Channels / norm.Groups} channels"));
        if (_context.Mode == ParallelMode.Naive) return norm;
        var options = _context.Options;
        var schedule = options.GroupNormMode switch
        {
            GroupNormMode.Exact => SlotSchedule.EveryStepSync,
            GroupNormMode.Separate => SlotSchedule.WarmupOnly,
            _ => SlotSchedule.WarmupSyncThenAsync,
        };
        return new PatchGroupNorm(norm, new StatisticsPoint(_context.Cache, path, _context.Rank, _context.Size, schedule), options);
    }

    /// <summary>Self-attention gathers keys and values; cross-attention is local and shared as is.</summary>
    public Tensors.Nn.Attention Attention(Tensors.Nn.Attention attention, string name)
    {
        var path = Module.JoinPath(_path, name);
        if (!attention.IsSelfAttention) return attention;
        _points.Add(new PatchPoint(path, PatchMemberKind.Attention, $"self-attention {attention.Heads} heads × {attention.DimHead}"));
        if (_context.Mode == ParallelMode.Naive) return attention;
        double? pcpp = _context.Mode == ParallelMode.Pcpp ? _context.Options.PcppRatio : null;
        return new PatchSelfAttention(attention, new KeyValuePoint(_context.Cache, path, _context.Layout, _context.Rank, pcpp));
    }

    /// <summary>A [PatchParallel] submodule, rewritten by its generated code under <paramref name="name"/>.</summary>
    public T Child<T>(T module, string name) where T : Module, IPatchParallel<T> =>
        Under(name, () => module.ToPatchParallel(_context));

    public ModuleList<T> List<T>(ModuleList<T> list, string name, Func<T, string, PatchRewriter, T> rewrite) where T : Module =>
        new(Rewrite(list, name, rewrite));

    public T[] Array<T>(T[] items, string name, Func<T, string, PatchRewriter, T> rewrite) where T : Module =>
        Rewrite(items, name, rewrite);

    /// <summary>Any other sequence (List, IReadOnlyList, …): its elements in order, rewritten, as an array.</summary>
    public T[] Items<T>(IEnumerable<T> items, string name, Func<T, string, PatchRewriter, T> rewrite) where T : Module =>
        Rewrite(items as IReadOnlyList<T> ?? items.ToArray(), name, rewrite);

    /// <summary>A dictionary by name: each value rewritten under its key, in the dictionary's order.</summary>
    public Dictionary<string, T> Map<T>(IEnumerable<KeyValuePair<string, T>> items, string name, Func<T, string, PatchRewriter, T> rewrite)
        where T : Module =>
        Under(name, () =>
        {
            var result = new Dictionary<string, T>(StringComparer.Ordinal);
            foreach (var (key, value) in items) result.Add(key, rewrite(value, key, this));
            return result;
        });

    private T[] Rewrite<T>(IReadOnlyList<T> items, string name, Func<T, string, PatchRewriter, T> rewrite) =>
        Under(name, () =>
        {
            var result = new T[items.Count];
            for (int i = 0; i < items.Count; i++) result[i] = rewrite(items[i], i.ToString(System.Globalization.CultureInfo.InvariantCulture), this);
            return result;
        });

    private T Under<T>(string name, Func<T> build)
    {
        var outer = _path;
        _path = Module.JoinPath(_path, name);
        try
        {
            return build();
        }
        finally
        {
            _path = outer;
        }
    }
}

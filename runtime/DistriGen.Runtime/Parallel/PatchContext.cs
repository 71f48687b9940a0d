using DistriGen.Runtime.Communication;
using DistriGen.Runtime.Layers;
using DistriGen.Tensors.Nn;

namespace DistriGen.Runtime;

/// <summary>A communication point of a rewritten model: where it is, what it does, and the layer's size.</summary>
public sealed record PatchPoint(string Path, PatchMemberKind Kind, string Detail);

/// <summary>
/// Everything one rank's patch-parallel model needs: its place among the ranks, the band layout,
/// the options, the step scheduler and the activation cache. The generated rewriting constructors
/// call <see cref="Conv"/>, <see cref="GroupNorm"/>, <see cref="Attention"/>, <see cref="Child"/>,
/// <see cref="List"/> and <see cref="Array"/> to build the variant, which records every communication
/// point with its diffusers-style path.
/// </summary>
public sealed class PatchContext
{
    private readonly List<PatchPoint> _points = [];
    private string _path = "";

    public PatchContext(ICommunicator patchGroup, BandLayout layout, PatchParallelOptions options)
    {
        options.Validate();
        if (layout.Ranks != patchGroup.Size)
            throw new ArgumentException($"The band layout has {layout.Ranks} bands but the patch group has {patchGroup.Size} ranks.");
        Communicator = patchGroup;
        Layout = layout;
        Options = options;
        Scheduler = new StepScheduler(options);
        Cache = new ActivationCache(patchGroup, Scheduler, options.BucketSize);
    }

    public ICommunicator Communicator { get; }
    public BandLayout Layout { get; }
    public PatchParallelOptions Options { get; }
    public StepScheduler Scheduler { get; }
    public ActivationCache Cache { get; }
    public int Rank => Communicator.Rank;
    public int Size => Communicator.Size;
    public ParallelMode Mode => Options.Mode;

    /// <summary>This rank's first and last latent row (exclusive).</summary>
    public (int Start, int End) Band => (Layout.Start(Rank), Layout.End(Rank));

    public IReadOnlyList<PatchPoint> Points => _points;

    /// <summary>Starts a generation of <paramref name="steps"/> denoising steps; <paramref name="cancellation"/> stops its exchanges.</summary>
    public void BeginGeneration(int steps, CancellationToken cancellation = default)
    {
        Scheduler.BeginGeneration(steps, cancellation);
        Cache.ResetReceived();
    }

    public void BeginStep(int step) => Scheduler.BeginStep(step);

    public void EndStep()
    {
        if (Scheduler.Step == 0) Cache.CloseRegistration();
    }

    /// <summary>A convolution: halo exchange for kernels larger than 1, shared as is otherwise.</summary>
    public Conv2d Conv(Conv2d conv, string name)
    {
        var path = PathOf(name);
        if (conv.KernelSize == 1 && conv.Padding == 0) return conv;
        if (conv.Padding * 2 != conv.KernelSize - 1)
            throw new NotSupportedException($"'{path}': a {conv.KernelSize}×{conv.KernelSize} convolution with padding {conv.Padding} changes the number of rows, so bands would not add up to the image; patch parallelism needs 'same' padding ((kernel − 1) / 2).");
        _points.Add(new PatchPoint(path, PatchMemberKind.HaloConv, $"{conv.KernelSize}×{conv.KernelSize} conv {conv.InChannels}→{conv.OutChannels}, stride {conv.Stride}, halo {conv.Padding}"));
        return Mode == ParallelMode.Naive ? conv : new PatchConv2d(conv, this, path);
    }

    /// <summary>The convolution that reads the full input and cuts out this rank's band (no communication).</summary>
    public Conv2d InputConv(Conv2d conv, string name) => new PatchInputConv2d(conv, this, PathOf(name));

    public Tensors.Nn.GroupNorm GroupNorm(Tensors.Nn.GroupNorm norm, string name)
    {
        var path = PathOf(name);
        _points.Add(new PatchPoint(path, PatchMemberKind.GroupNorm, $"GroupNorm {norm.Groups} groups × {norm.Channels / norm.Groups} channels"));
        return Mode == ParallelMode.Naive ? norm : new PatchGroupNorm(norm, this, path);
    }

    /// <summary>Self-attention gathers keys and values; cross-attention is local and shared as is.</summary>
    public Tensors.Nn.Attention Attention(Tensors.Nn.Attention attention, string name)
    {
        var path = PathOf(name);
        if (!attention.IsSelfAttention) return attention;
        _points.Add(new PatchPoint(path, PatchMemberKind.Attention, $"self-attention {attention.Heads} heads × {attention.DimHead}"));
        return Mode == ParallelMode.Naive ? attention : new PatchSelfAttention(attention, this, path);
    }

    /// <summary>A [PatchParallel] submodule, rewritten by its generated code under <paramref name="name"/>.</summary>
    public T Child<T>(T module, string name) where T : Module, IPatchParallel<T>
    {
        var outer = _path;
        _path = PathOf(name);
        try
        {
            return module.ToPatchParallel(this);
        }
        finally
        {
            _path = outer;
        }
    }

    public ModuleList<T> List<T>(ModuleList<T> list, string name, Func<T, string, PatchContext, T> rewrite) where T : Module =>
        new(Rewrite(list, name, rewrite));

    public T[] Array<T>(T[] items, string name, Func<T, string, PatchContext, T> rewrite) where T : Module =>
        Rewrite(items, name, rewrite);

    private T[] Rewrite<T>(IReadOnlyList<T> items, string name, Func<T, string, PatchContext, T> rewrite)
    {
        var outer = _path;
        _path = PathOf(name);
        try
        {
            var result = new T[items.Count];
            for (int i = 0; i < items.Count; i++) result[i] = rewrite(items[i], i.ToString(System.Globalization.CultureInfo.InvariantCulture), this);
            return result;
        }
        finally
        {
            _path = outer;
        }
    }

    private string PathOf(string name) => _path.Length == 0 ? name : name.Length == 0 ? _path : _path + "." + name;

    /// <summary>Counts for <see cref="ActivationCache.Register"/>: <paramref name="count"/>(peer) for each peer, 0 for this rank.</summary>
    internal int[] PerPeer(Func<int, int> count) =>
        Enumerable.Range(0, Size).Select(p => p == Rank ? 0 : count(p)).ToArray();
}

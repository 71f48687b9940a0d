using System.Runtime.InteropServices;
using DistriGen.Tensors;
using DistriGen.Tensors.Compute;
using DistriGen.Tensors.Devices;
using DistriGen.Tensors.Ops;
using TorchSharp;
using F = TorchSharp.torch.nn.functional;
using TorchTensor = TorchSharp.torch.Tensor;

namespace DistriGen.Torch;

/// <summary>
/// DistriGen's operations on LibTorch tensors. Every kernel runs in its own TorchSharp dispose scope,
/// so intermediates are freed at once and only the result (owned by the returned DistriGen tensor)
/// survives. Slices are copies, as on the host, so writing into one never changes its source. Layers
/// compute in their weights' type: inputs of another type are converted first.
/// </summary>
internal sealed class TorchKernels(TorchDevice device) : IDeviceKernels
{
    [ThreadStatic] private static int _threadsSet;

    // Memory and host transfers.

    public Tensor Empty(int[] shape) => Run(() => torch.empty(Longs(shape), torch.ScalarType.Float32, device.Target));

    public Tensor Parameter(int[] shape) =>
        Run(() => Placed(torch.zeros(Longs(shape), device.Precision, device.Target)), tracked: false);

    public Tensor FromHost(ReadOnlySpan<float> values, int[] shape)
    {
        using var scope = torch.NewDisposeScope();
        var host = HostTensor(values, shape);
        var placed = device.Target.type == DeviceType.CPU ? host : host.to(device.Target);
        return Wrap(Placed(placed), tracked: true);
    }

    public void CopyToHost(Tensor x, Span<float> destination)
    {
        using var scope = torch.NewDisposeScope();
        var host = T(x).to(torch.ScalarType.Float32).cpu().contiguous();
        MemoryMarshal.Cast<byte, float>(host.bytes).CopyTo(destination);
    }

    public void CopyFromHost(ReadOnlySpan<float> values, Tensor destination)
    {
        using var scope = torch.NewDisposeScope();
        T(destination).copy_(HostTensor(values, destination.Shape));
    }

    public Tensor Reshape(Tensor x, int[] shape) => Run(() => T(x).reshape(Longs(shape)));
    public Tensor Clone(Tensor x) => Run(() => T(x).clone());
    public void Fill(Tensor x, float value) => T(x).fill_(value);

    // Products.

    public Tensor Conv2d(Tensor x, Tensor weight, Tensor? bias, int stride, Padding2d padding) =>
        Run(OpCategory.Conv, ConvFlops(x, weight, stride, padding), () =>
        {
            var w = T(weight);
            var input = As(T(x), w);
            long[] strides = [stride, stride];
            if (padding.Top == padding.Bottom && padding.Left == padding.Right)
                return F.conv2d(input, w, Optional(bias, w), strides: strides, padding: [padding.Top, padding.Left]);
            var padded = F.pad(input, [padding.Left, padding.Right, padding.Top, padding.Bottom]);
            return F.conv2d(padded, w, Optional(bias, w), strides: strides);
        });

    public Tensor Linear(Tensor x, Tensor weight, Tensor? bias) =>
        Run(OpCategory.MatMul, 2L * x.Length * weight.Dim(0), () => F.linear(As(T(x), T(weight)), T(weight), Optional(bias, T(weight))));

    public Tensor MatMul(Tensor a, Tensor b) =>
        Run(OpCategory.MatMul, 2L * a.Length * b.Dim(-1), () => torch.matmul(T(a), As(T(b), T(a))));

    public Tensor Attention(Tensor q, Tensor k, Tensor v, int heads, bool causal) =>
        Run(OpCategory.Attention, 4L * q.Length * k.Dim(1), () =>
        {
            var query = T(q);
            long batch = query.shape[0], queries = query.shape[1], channels = query.shape[2], keys = k.Dim(1);
            TorchTensor Heads(TorchTensor t, long n) => As(t, query).view(batch, n, heads, channels / heads).transpose(1, 2);
            var mixed = F.scaled_dot_product_attention(Heads(query, queries), Heads(T(k), keys), Heads(T(v), keys), is_casual: causal);
            return mixed.transpose(1, 2).reshape(batch, queries, channels);
        });

    // Normalisation.

    public GroupStatistics GroupNormStatistics(Tensor x, int groups)
    {
        using var scope = torch.NewDisposeScope();
        Threads();
        int batch = x.Dim(0), perGroup = x.Dim(1) / groups;
        var values = T(x).reshape(batch, groups, -1).to(torch.ScalarType.Float64);
        var sums = torch.stack([values.sum(2), (values * values).sum(2)]).cpu().contiguous();
        var host = MemoryMarshal.Cast<byte, double>(sums.bytes);
        int n = batch * groups;
        return new GroupStatistics(batch, groups, host[..n].ToArray(), host[n..(2 * n)].ToArray(), (long)perGroup * x.Dim(2) * x.Dim(3));
    }

    public Tensor GroupNormApply(Tensor x, GroupStatistics stats, Tensor gamma, Tensor beta, float eps, Activation activation) =>
        Run(OpCategory.Norm, () =>
        {
            // The host's arithmetic: mean and 1/σ in float per (batch, group), then one scale and shift per channel.
            int batch = x.Dim(0), channels = x.Dim(1), groups = stats.Groups;
            var mean = new float[batch * groups];
            var invStd = new float[batch * groups];
            for (int i = 0; i < mean.Length; i++) (mean[i], invStd[i]) = stats.MeanInvStd(i, eps);
            var perChannel = channels / groups;
            var m = HostTensor(mean, [batch, groups, 1]).to(device.Target).expand(batch, groups, perChannel).reshape(batch, channels);
            var s = HostTensor(invStd, [batch, groups, 1]).to(device.Target).expand(batch, groups, perChannel).reshape(batch, channels);
            var scale = s * T(gamma).to(torch.ScalarType.Float32);
            var shift = T(beta).to(torch.ScalarType.Float32) - m * scale;
            var input = T(x);
            var y = input.to(torch.ScalarType.Float32) * scale.view(batch, channels, 1, 1) + shift.view(batch, channels, 1, 1);
            return Activate(y.to(input.dtype), activation);
        });

    public Tensor GroupNorm(Tensor x, int groups, Tensor gamma, Tensor beta, float eps, Activation activation) =>
        Run(OpCategory.Norm, () =>
        {
            var input = T(x);
            return Activate(F.group_norm(input, groups, As(T(gamma), input), As(T(beta), input), eps), activation);
        });

    public Tensor LayerNorm(Tensor x, Tensor gamma, Tensor beta, float eps) =>
        Run(OpCategory.Norm, () =>
        {
            var input = T(x);
            return F.layer_norm(input, [input.shape[^1]], As(T(gamma), input), As(T(beta), input), eps);
        });

    // Elementwise.

    public Tensor Silu(Tensor x) => Run(OpCategory.Elementwise, () => F.silu(T(x)));
    public Tensor Gelu(Tensor x) => Run(OpCategory.Elementwise, () => F.gelu(T(x)));
    public Tensor QuickGelu(Tensor x) => Run(OpCategory.Elementwise, () => T(x) * torch.sigmoid(T(x) * 1.702f));

    public Tensor Geglu(Tensor x) => Run(OpCategory.Elementwise, () =>
    {
        var halves = T(x).chunk(2, -1);
        return halves[0] * F.gelu(halves[1]);
    });

    public Tensor Add(Tensor a, Tensor b) => Run(OpCategory.Elementwise, () => T(a) + T(b));
    public void AddInPlace(Tensor a, Tensor b) => InPlace(() => T(a).add_(T(b)));
    public Tensor Subtract(Tensor a, Tensor b) => Run(OpCategory.Elementwise, () => T(a) - T(b));
    public Tensor Multiply(Tensor a, float s) => Run(OpCategory.Elementwise, () => T(a) * s);
    public void DivideInPlace(Tensor a, float s) => InPlace(() => T(a).div_(s));
    public Tensor AddScaled(Tensor a, float sa, Tensor b, float sb) => Run(OpCategory.Elementwise, () => T(a) * sa + T(b) * sb);

    public void AddChannelBias(Tensor x, Tensor bias) => InPlace(() =>
    {
        var shape = Enumerable.Repeat(1L, x.Rank).ToArray();
        shape[1] = x.Dim(1);
        T(x).add_(T(bias).view(shape));
    });

    public void AddPerChannel(Tensor x, Tensor v) => InPlace(() => T(x).add_(T(v).view(x.Dim(0), x.Dim(1), 1, 1)));
    public void AddTrailingInPlace(Tensor x, Tensor y) => InPlace(() => T(x).add_(T(y)));
    public void Clamp(Tensor x, float min, float max) => InPlace(() => T(x).clamp_(min, max));

    // Layout.

    public Tensor ConcatChannels(Tensor a, Tensor b) => Run(OpCategory.Layout, () => torch.cat([T(a), T(b)], 1));
    public Tensor SliceRows(Tensor x, int start, int end) => Run(OpCategory.Layout, () => Copy(T(x).narrow(2, start, end - start)));
    public Tensor ConcatRows(IReadOnlyList<Tensor> parts) => Run(OpCategory.Layout, () => torch.cat(All(parts), 2));

    public void WriteRows(Tensor destination, int start, Tensor source) =>
        InPlace(() => T(destination).narrow(2, start, source.Dim(2)).copy_(T(source)));

    public Tensor SliceBatch(Tensor x, int start, int end) => Run(OpCategory.Layout, () => Copy(T(x).narrow(0, start, end - start)));
    public Tensor ConcatBatch(IReadOnlyList<Tensor> parts) => Run(OpCategory.Layout, () => torch.cat(All(parts), 0));
    public Tensor SliceTokens(Tensor x, int start, int end) => Run(OpCategory.Layout, () => Copy(T(x).narrow(1, start, end - start)));
    public Tensor ConcatTokens(IReadOnlyList<Tensor> parts) => Run(OpCategory.Layout, () => torch.cat(All(parts), 1));
    public Tensor ConcatColumns(Tensor a, Tensor b) => Run(OpCategory.Layout, () => torch.cat([T(a), T(b)], -1));

    public Tensor UpsampleNearest(Tensor x, int outH, int outW) =>
        Run(OpCategory.Layout, () => F.interpolate(T(x), size: [outH, outW], mode: torch.InterpolationMode.Nearest));

    public Tensor ToTokens(Tensor x) => Run(OpCategory.Layout, () =>
    {
        var tokens = T(x).permute(0, 2, 3, 1).reshape(x.Dim(0), (long)x.Dim(2) * x.Dim(3), x.Dim(1));
        // From channels-last memory this is a view of x: tokens get their own memory, as on the host.
        return TorchPointers.SameStorage(tokens, T(x)) ? tokens.clone() : tokens;
    });

    public Tensor FromTokens(Tensor x, int h, int w) => Run(OpCategory.Layout, () =>
    {
        var image = T(x).reshape(x.Dim(0), h, w, x.Dim(2)).permute(0, 3, 1, 2);
        return device.ChannelsLast ? image.clone() : image.contiguous();
    });

    public Tensor Embedding(Tensor table, ReadOnlySpan<int> ids, int batch, int length)
    {
        var rows = Array.ConvertAll(ids.ToArray(), id => (long)id);
        return Run(OpCategory.Layout, () =>
            T(table).index_select(0, torch.tensor(rows, device: device.Target)).reshape(batch, length, table.Dim(1)));
    }

    public Tensor SelectTokens(Tensor x, ReadOnlySpan<int> positions)
    {
        int tokens = x.Dim(1);
        var rows = new long[positions.Length];
        for (int b = 0; b < rows.Length; b++) rows[b] = (long)b * tokens + positions[b];
        return Run(OpCategory.Layout, () =>
            T(x).reshape(-1, x.Dim(2)).index_select(0, torch.tensor(rows, device: device.Target)));
    }

    // Reductions to the host.

    public long FirstNonFinite(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var bad = torch.isfinite(T(x)).logical_not().flatten().nonzero();
        return bad.shape[0] == 0 ? -1 : bad[0, 0].item<long>();
    }

    public (double Mean, double StandardDeviation) Moments(Tensor x)
    {
        using var scope = torch.NewDisposeScope();
        var values = T(x).to(torch.ScalarType.Float64);
        return (values.mean().item<double>(), values.std(unbiased: true).item<double>());
    }

    // Helpers.

    private static TorchTensor T(Tensor x) => ((TorchStorage)x.Storage).Value;

    private static TorchTensor? Optional(Tensor? x, TorchTensor like) => x is null ? null : As(T(x), like);

    /// <summary>
    /// <paramref name="x"/> in <paramref name="like"/>'s type (a layer's input in its weights' precision).
    /// </summary>
    private static TorchTensor As(TorchTensor x, TorchTensor like) => x.dtype == like.dtype ? x : x.to(like.dtype);

    private static TorchTensor[] All(IReadOnlyList<Tensor> parts) => parts.Select(T).ToArray();

    /// <summary>
    /// A slice as a tensor of its own (narrow gives a view that would share its source's memory); clone
    /// keeps a dense slice's memory format (channels-last stays channels-last).
    /// </summary>
    private static TorchTensor Copy(TorchTensor view) => view.clone();

    /// <summary>
    /// A 4-D tensor in the device's memory format (NHWC memory with NCHW shape on a channels-last
    /// device).
    /// </summary>
    private TorchTensor Placed(TorchTensor t) =>
        device.ChannelsLast && t.shape.Length == 4 ? t.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2) : t;

    private static TorchTensor Activate(TorchTensor y, Activation activation) => activation == Activation.Silu ? F.silu(y) : y;

    private static long[] Longs(int[] shape) => Array.ConvertAll(shape, d => (long)d);

    /// <summary>A float32 CPU tensor holding a copy of <paramref name="values"/>.</summary>
    private static TorchTensor HostTensor(ReadOnlySpan<float> values, int[] shape)
    {
        var t = torch.empty(Longs(shape), torch.ScalarType.Float32);
        // The setter copies; it takes a writable span only by its signature.
        t.bytes = MemoryMarshal.AsBytes(MemoryMarshal.CreateSpan(ref MemoryMarshal.GetReference(values), values.Length));
        return t;
    }

    /// <summary>LibTorch's intra-op threads follow this rank's compute-thread budget.</summary>
    private static void Threads()
    {
        int wanted = ComputeThreads.Current;
        if (_threadsSet == wanted) return;
        torch.set_num_threads(wanted);
        _threadsSet = wanted;
    }

    /// <summary>
    /// 2·(output values)·(inputs per output value), the FLOPs the host's profiler counts for a convolution.
    /// </summary>
    private static long ConvFlops(Tensor x, Tensor weight, int stride, Padding2d padding)
    {
        long outH = (x.Dim(2) + padding.Top + padding.Bottom - weight.Dim(2)) / stride + 1;
        long outW = (x.Dim(3) + padding.Left + padding.Right - weight.Dim(3)) / stride + 1;
        return 2L * x.Dim(0) * weight.Dim(0) * outH * outW * weight.Dim(1) * weight.Dim(2) * weight.Dim(3);
    }

    private Tensor Run(Func<TorchTensor> compute, bool tracked = true)
    {
        using var scope = torch.NewDisposeScope();
        Threads();
        return Wrap(compute(), tracked);
    }

    private Tensor Run(OpCategory category, Func<TorchTensor> compute) => Run(category, 0, compute);

    private Tensor Run(OpCategory category, long flops, Func<TorchTensor> compute)
    {
        using var scope = torch.NewDisposeScope();
        Threads();
        using var _ = OpProfiler.Measure(category, flops);
        return Wrap(compute(), tracked: true);
    }

    private static void InPlace(Action compute)
    {
        using var scope = torch.NewDisposeScope();
        Threads();
        using var _ = OpProfiler.Measure(OpCategory.Elementwise);
        compute();
    }

    private Tensor Wrap(TorchTensor result, bool tracked)
    {
        result.DetachFromDisposeScope();
        var shape = Array.ConvertAll(result.shape, d => checked((int)d));
        return Tensor.OnDevice(device, new TorchStorage(result), shape, tracked);
    }
}

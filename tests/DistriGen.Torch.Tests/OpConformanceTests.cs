using DistriGen.Models.Pipelines;
using DistriGen.Tensors;
using DistriGen.Tensors.Compute;
using DistriGen.Tensors.Devices;
using DistriGen.Tensors.Ops;
using static DistriGen.Torch.Tests.TorchTesting;

namespace DistriGen.Torch.Tests;

/// <summary>
/// Every operation on LibTorch's CPU device against the host's managed kernels, on the same inputs:
/// convolutions (strides, per-side padding), products, attention (cross, causal), normalisation and the
/// GroupNorm sums ranks exchange, activations, elementwise and in-place forms, layout, lookups and the
/// reductions to the host.
/// </summary>
[Collection(GlobalStateCollection.Name)]
public sealed class OpConformanceTests
{
    private delegate Tensor Op(Tensor[] inputs);

    private static readonly Dictionary<string, (int[][] Inputs, Op Run)> Cases = new()
    {
        ["conv 3×3, padding 1, bias"] = ([[2, 5, 9, 7], [6, 5, 3, 3], [6]], x => Ops.Conv2d(x[0], x[1], x[2], 1, Padding2d.Same(1))),
        ["conv 3×3, stride 2, padding bottom/right"] = ([[1, 4, 9, 8], [3, 4, 3, 3], [3]],
            x => Ops.Conv2d(x[0], x[1], x[2], 2, new Padding2d(0, 1, 0, 1))),
        ["conv 3×3, uneven padding, no bias"] = ([[1, 3, 6, 5], [4, 3, 3, 3]], x => Ops.Conv2d(x[0], x[1], null, 1, new Padding2d(2, 0, 1, 3))),
        ["conv 1×1"] = ([[2, 8, 4, 4], [5, 8, 1, 1], [5]], x => Ops.Conv2d(x[0], x[1], x[2], 1, default)),
        ["linear"] = ([[2, 7, 12], [5, 12], [5]], x => Linear(x[0], x[1], x[2])),
        ["linear, no bias"] = ([[3, 9], [4, 9]], x => Linear(x[0], x[1], null)),
        ["matmul"] = ([[7, 5], [5, 3]], x => Ops.MatMul(x[0], x[1])),
        ["batched matmul"] = ([[2, 4, 6], [2, 6, 3]], x => Ops.MatMul(x[0], x[1])),
        ["self-attention"] = ([[2, 9, 8], [2, 9, 8], [2, 9, 8]], x => Ops.Attention(x[0], x[1], x[2], 2)),
        ["cross-attention"] = ([[1, 6, 12], [1, 11, 12], [1, 11, 12]], x => Ops.Attention(x[0], x[1], x[2], 3)),
        ["causal attention"] = ([[2, 7, 8], [2, 7, 8], [2, 7, 8]], x => Ops.Attention(x[0], x[1], x[2], 2, causal: true)),
        ["group norm"] = ([[2, 8, 5, 3], [8], [8]], x => Ops.GroupNorm(x[0], 4, x[1], x[2], 1e-5f)),
        ["group norm + SiLU"] = ([[1, 6, 4, 4], [6], [6]], x => Ops.GroupNorm(x[0], 3, x[1], x[2], 1e-6f, Activation.Silu)),
        ["group norm from statistics + SiLU"] = ([[2, 8, 3, 5], [8], [8]],
            x => Ops.GroupNormApply(x[0], Ops.GroupNormStatistics(x[0], 2), x[1], x[2], 1e-5f, Activation.Silu)),
        ["layer norm"] = ([[2, 5, 16], [16], [16]], x => Ops.LayerNorm(x[0], x[1], x[2], 1e-5f)),
        ["silu"] = ([[3, 50]], x => Ops.Silu(x[0])),
        ["gelu"] = ([[3, 50]], x => Ops.Gelu(x[0])),
        ["quick gelu"] = ([[3, 50]], x => Ops.QuickGelu(x[0])),
        ["geglu"] = ([[2, 3, 20]], x => Ops.Geglu(x[0])),
        ["add"] = ([[2, 3, 4], [2, 3, 4]], x => Ops.Add(x[0], x[1])),
        ["add in place"] = ([[2, 3, 4], [2, 3, 4]], x => Ops.AddInPlace(x[0], x[1])),
        ["subtract"] = ([[5, 4], [5, 4]], x => Ops.Subtract(x[0], x[1])),
        ["multiply"] = ([[5, 4]], x => Ops.Multiply(x[0], -1.75f)),
        ["divide in place"] = ([[5, 4]], x => InPlace(x[0], t => Ops.DivideInPlace(t, 0.18215f))),
        ["add scaled"] = ([[3, 7], [3, 7]], x => Ops.AddScaled(x[0], 0.3f, x[1], -2.5f)),
        ["add channel bias"] = ([[2, 4, 3, 3], [4]], x => InPlace(x[0], t => Ops.AddChannelBias(t, x[1]))),
        ["add per channel"] = ([[2, 4, 3, 3], [2, 4]], x => InPlace(x[0], t => Ops.AddPerChannel(t, x[1]))),
        ["add trailing"] = ([[2, 5, 6], [5, 6]], x => Ops.AddTrailingInPlace(x[0], x[1])),
        ["clamp"] = ([[4, 9]], x => InPlace(x[0], t => Ops.Clamp(t, -0.5f, 0.8f))),
        ["concat channels"] = ([[2, 3, 4, 5], [2, 2, 4, 5]], x => Ops.ConcatChannels(x[0], x[1])),
        ["slice rows"] = ([[2, 3, 7, 4]], x => Ops.SliceRows(x[0], 2, 5)),
        ["concat rows"] = ([[1, 3, 2, 4], [1, 3, 5, 4], [1, 3, 1, 4]], x => Ops.ConcatRows(x)),
        ["write rows"] = ([[1, 2, 6, 3], [1, 2, 2, 3]], x => InPlace(x[0], t => Ops.WriteRows(t, 3, x[1]))),
        ["slice batch"] = ([[3, 2, 4, 4]], x => Ops.SliceBatch(x[0], 1, 3)),
        ["concat batch"] = ([[1, 2, 3, 3], [2, 2, 3, 3]], x => Ops.ConcatBatch(x)),
        ["slice tokens"] = ([[2, 9, 5]], x => Ops.SliceTokens(x[0], 3, 7)),
        ["concat tokens"] = ([[2, 3, 5], [2, 4, 5]], x => Ops.ConcatTokens(x)),
        ["concat columns"] = ([[2, 3, 4], [2, 3, 6]], x => Ops.ConcatColumns(x[0], x[1])),
        ["upsample nearest ×2"] = ([[1, 3, 4, 5]], x => Ops.UpsampleNearest(x[0], 8, 10)),
        ["upsample nearest to a size"] = ([[2, 2, 3, 5]], x => Ops.UpsampleNearest(x[0], 7, 9)),
        ["to tokens"] = ([[2, 6, 3, 4]], x => Ops.ToTokens(x[0])),
        ["from tokens"] = ([[2, 12, 6]], x => Ops.FromTokens(x[0], 3, 4)),
        ["embedding"] = ([[10, 6]], x => Ops.Embedding(x[0], [3, 0, 9, 3, 1, 2], 2, 3)),
        ["select tokens"] = ([[3, 5, 4]], x => Ops.SelectTokens(x[0], [4, 0, 2])),
        ["reshape and clone"] = ([[2, 3, 4]], x => x[0].Reshape(4, 6).Clone()),
        ["timestep embedding"] = ([], _ => Ops.TimestepEmbedding([1f, 981f], 16, true, 0f)),
    };

    public static TheoryData<string, bool> Names()
    {
        var data = new TheoryData<string, bool>();
        foreach (var name in Cases.Keys)
            foreach (var channelsLast in new[] { false, true })
                data.Add(name, channelsLast);
        return data;
    }

    [Theory]
    [MemberData(nameof(Names))]
    public void TorchCpuMatchesTheManagedKernels(string name, bool channelsLast)
    {
        var (shapes, run) = Cases[name];
        var target = channelsLast ? CpuChannelsLast : Target;
        var inputs = shapes.Select((shape, i) => Normal(100 + i, shape)).ToArray();
        var expected = OnManagedHost(() => run(inputs.Select(t => t.Clone()).ToArray()));
        using var onDevice = Device.Use(target);
        var actual = run(inputs.Select(t => Ops.To(t, target)).ToArray());
        Assert.Same(target, actual.Device);
        Assert.Equal(expected.Shape, actual.Shape);
        Assert.InRange(ResultMetrics.RelativeError(actual, expected), 0, 2e-6);
    }

    [Fact]
    public void GroupNormSumsMatchTheHostsAndAddUpOverBands()
    {
        var x = Normal(7, 2, 6, 8, 5);
        var host = OnManagedHost(() => x.Clone());
        var expected = Ops.GroupNormStatistics(host, 3);
        var onDevice = Ops.To(x, Target);
        var whole = Ops.GroupNormStatistics(onDevice, 3);
        var top = Ops.GroupNormStatistics(Ops.SliceRows(onDevice, 0, 3), 3);
        var bottom = Ops.GroupNormStatistics(Ops.SliceRows(onDevice, 3, 8), 3);
        Assert.Equal(expected.CountPerGroup, whole.CountPerGroup);
        for (int i = 0; i < expected.Sum.Length; i++)
        {
            // The host adds each row in float, LibTorch every value in double.
            Assert.Equal(expected.Sum[i], whole.Sum[i], 1e-5);
            Assert.Equal(expected.SumOfSquares[i], whole.SumOfSquares[i], 1e-4);
            Assert.Equal(whole.Sum[i], top.Sum[i] + bottom.Sum[i], 1e-9);
        }
    }

    [Fact]
    public void ReductionsToTheHostMatch()
    {
        var values = Normal(3, 4, 25).ToArray();
        values[61] = float.NaN;
        var host = Tensor.FromArray(values, 4, 25);
        var device = Ops.To(host, Target);
        Assert.Equal(61, Ops.FirstNonFinite(device));
        Assert.Equal(Ops.FirstNonFinite(host), Ops.FirstNonFinite(device));
        var finite = Ops.To(Normal(4, 300), Target);
        var (mean, std) = Ops.Moments(Ops.To(finite, Device.Host));
        var (deviceMean, deviceStd) = Ops.Moments(finite);
        Assert.Equal(mean, deviceMean, 1e-6);
        Assert.Equal(std, deviceStd, 1e-6);
    }

    [Fact]
    public void SlicesAreCopiesAndHostTransfersRoundTrip()
    {
        var x = Ops.To(Normal(5, 1, 2, 4, 3), Target);
        var before = x.ToArray();
        var slice = Ops.SliceRows(x, 1, 3);
        Ops.Clamp(slice, 0, 0);
        Assert.Equal(before, x.ToArray());
        var filled = Tensor.FromArray(new float[24], 2, 3, 4);
        Ops.CopyFromHost(before, Ops.To(filled, Target));
        using (Device.Use(Target))
        {
            var zeros = Tensor.Zeros(3, 2);
            Assert.Same(Target, zeros.Device);
            Assert.All(zeros.ToArray(), v => Assert.Equal(0f, v));
        }
    }

    [Fact]
    public void TensorsOnTwoDevicesAreAnErrorNamingBoth()
    {
        var host = Normal(1, 2, 3);
        var device = Ops.To(host, Target);
        var e = Assert.Throws<ArgumentException>(() => Ops.Add(host, device));
        Assert.Contains("host", e.Message);
        Assert.Contains(Target.Name, e.Message);
        Assert.Throws<InvalidOperationException>(() => device.Span.ToArray());
    }

    [Fact]
    public void Bf16ComputesInHalfThePrecisionWithinItsRoundingError()
    {
        var x = Normal(11, 1, 16, 12, 12);
        var w = Normal(12, 16, 16, 3, 3);
        var expected = OnManagedHost(() => Ops.Conv2d(x, w, null, 1, Padding2d.Same(1)));
        Tensor weight;
        using (Device.Use(Target16)) weight = Tensor.Parameter(16, 16, 3, 3);
        Ops.CopyFromHost(w.ToArray(), weight);
        var actual = Ops.Conv2d(Ops.To(x, Target16), weight, null, 1, Padding2d.Same(1));
        double error = ResultMetrics.RelativeError(actual, expected);
        Assert.InRange(error, 1e-4, 2e-2);
    }

    /// <summary>x after an in-place operation.</summary>
    private static Tensor InPlace(Tensor x, Action<Tensor> operation)
    {
        operation(x);
        return x;
    }

    private static Tensor Linear(Tensor x, Tensor weight, Tensor? bias) => weight.Device.IsHost
        ? Ops.Linear(x, Ops.Transpose2d(weight), bias)
        : Ops.LinearTransposed(x, weight, bias, null);

    private static Tensor OnManagedHost(Func<Tensor> run)
    {
        var previous = ComputeBackends.Current;
        ComputeBackends.Current = ManagedBackend.Instance;
        try
        {
            return run();
        }
        finally
        {
            ComputeBackends.Current = previous;
        }
    }
}

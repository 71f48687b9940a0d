using DistriGen.Runtime.Communication;
using DistriGen.Tensors;
using DistriGen.Tensors.Nn;
using DistriGen.Tensors.Ops;

namespace DistriGen.Runtime.Tests;

/// <summary>
/// Each patch layer on bands of rows, with real in-process ranks, against the same layer on the whole
/// image: synchronous steps must give the whole image's rows; PCPP windows must be local or
/// neighbour-only as promised.
/// </summary>
public sealed class PatchLayerTests
{
    private const int Batch = 2, Channels = 8, Height = 12, Width = 5;

    private static Tensor Input(long seed = 1) => SeededNormal.Sample(seed, Batch, Channels, Height, Width).Keep();

    /// <summary>
    /// Runs the layer <paramref name="build"/> makes on every rank's band for the given steps; returns each rank's
    /// output of the last step.
    /// </summary>
    private static Tensor[] OnBands(int ranks, PatchParallelOptions options, Func<PatchContext, Func<Tensor, Tensor>> build, Func<int, Tensor> inputOfStep, int steps = 1, int alignment = 1)
    {
        var layout = new BandLayout(Height, Width, ranks, alignment);
        return InProcessLauncher.Run(ranks, 1, comm =>
        {
            var context = new PatchContext(comm, layout, options);
            var forward = build(context);
            context.BeginGeneration(steps + 1);
            Tensor? output = null;
            for (int step = 0; step < steps; step++)
            {
                context.BeginStep(step);
                using var full = inputOfStep(step);
                using var band = Ops.SliceRows(full, layout.Start(comm.Rank), layout.End(comm.Rank));
                output?.Dispose();
                output = forward(band).Keep();
                context.EndStep();
            }
            return output!;
        }, TimeSpan.FromSeconds(20));
    }

    private static void AssertClose(Tensor expected, Tensor actual, double tolerance = 1e-6)
    {
        Assert.Equal(expected.Shape, actual.Shape);
        var e = expected.Span;
        var a = actual.Span;
        for (int i = 0; i < e.Length; i++) Assert.True(Math.Abs(e[i] - a[i]) <= tolerance * (1 + Math.Abs(e[i])), $"element {i}: {a[i]} vs {e[i]}");
    }

    [Theory]
    [InlineData(2, 1)]
    [InlineData(3, 1)]
    [InlineData(4, 2)]
    public void HaloConvolutionEqualsTheWholeImage(int ranks, int stride)
    {
        var conv = new Conv2d(Channels, 6, 3, stride, padding: 1);
        conv.InitializeRandom(3);
        using var x = Input();
        using var expected = conv.Forward(x);
        var bands = OnBands(ranks, new PatchParallelOptions { Mode = ParallelMode.Exact }, c => c.Rewriter.Conv(conv, "conv").Forward, _ => x.Clone(), alignment: stride);
        using var joined = Ops.ConcatRows(bands);
        AssertClose(expected, joined);
    }

    [Fact]
    public void AConvolutionThatChangesTheRowCountIsRefusedWithItsPath()
    {
        var context = new PatchContext(new InProcessWorld(1).Communicator(0), new BandLayout(Height, Width, 1, 1), new PatchParallelOptions());
        var e = Assert.Throws<NotSupportedException>(() => context.Rewriter.Conv(new Conv2d(4, 4, 3, padding: 0), "blocks.0.conv"));
        Assert.Contains("'blocks.0.conv'", e.Message);
    }

    [Fact]
    public void InputConvolutionCutsItsBandFromTheFullInput()
    {
        var conv = new Conv2d(Channels, 4, 3, padding: 1);
        conv.InitializeRandom(4);
        using var x = Input();
        using var expected = conv.Forward(x);
        var layout = new BandLayout(Height, Width, 3, 1);
        var bands = InProcessLauncher.Run(3, 1, comm =>
        {
            var context = new PatchContext(comm, layout, new PatchParallelOptions { Mode = ParallelMode.Exact });
            return context.Rewriter.InputConv(conv, "conv_in").Forward(x).Keep();
        });
        using var joined = Ops.ConcatRows(bands);
        AssertClose(expected, joined);
    }

    [Theory]
    [InlineData(GroupNormMode.Corrected)]
    [InlineData(GroupNormMode.Separate)]
    public void GroupNormInSynchronousStepsEqualsTheWholeImage(GroupNormMode mode)
    {
        var norm = new GroupNorm(4, Channels);
        norm.InitializeRandom(5);
        using var x = Input();
        using var expected = norm.Forward(x, Activation.Silu);
        var bands = OnBands(3, new PatchParallelOptions { Mode = ParallelMode.DistriFusion, GroupNormMode = mode }, c =>
        {
            var layer = c.Rewriter.GroupNorm(norm, "norm");
            return t => layer.Forward(t, Activation.Silu);
        }, _ => x.Clone());
        using var joined = Ops.ConcatRows(bands);
        AssertClose(expected, joined, 1e-5);
    }

    [Fact]
    public void CorrectedGroupNormFollowsAnImageThatDriftsEvenly()
    {
        // Every band shifts by the same amount at every step: both DistriFusion's correction and each
        // band's trend predict the others exactly, stale statistics do not.
        var norm = new GroupNorm(4, Channels);
        norm.InitializeRandom(8);
        using var x = Input();
        Tensor AtStep(int step)
        {
            using var shift = Tensor.Full(0.3f * step, x.Shape);
            return Ops.Add(x, shift);
        }
        using var last = AtStep(3);
        using var expected = norm.Forward(last);
        Tensor Joined(GroupNormMode mode)
        {
            var options = new PatchParallelOptions { Mode = ParallelMode.DistriFusion, GroupNormMode = mode, WarmupSteps = 2 };
            var bands = OnBands(3, options, c =>
            {
                var layer = c.Rewriter.GroupNorm(norm, "norm");
                return t => layer.Forward(t);
            }, AtStep, steps: 4);
            return Ops.ConcatRows(bands);
        }
        using var corrected = Joined(GroupNormMode.Corrected);
        AssertClose(expected, corrected, 1e-5);
        using var stale = Joined(GroupNormMode.Stale);
        Assert.Throws<Xunit.Sdk.TrueException>(() => AssertClose(expected, stale, 1e-3));
    }

    [Fact]
    public void SelfAttentionInSynchronousStepsEqualsTheWholeImage()
    {
        var attention = new Attention(Channels, 2, Channels / 2);
        attention.InitializeRandom(6);
        using var x = Input();
        using var tokens = Ops.ToTokens(x);
        using var expectedTokens = attention.Forward(tokens);
        using var expected = Ops.FromTokens(expectedTokens, Height, Width);
        var bands = OnBands(4, new PatchParallelOptions { Mode = ParallelMode.DistriFusion }, c => AttentionOnBands(c.Rewriter.Attention(attention, "attn1")), _ => x.Clone());
        using var joined = Ops.ConcatRows(bands);
        AssertClose(expected, joined, 1e-5);
    }

    private static Func<Tensor, Tensor> AttentionOnBands(Attention layer) => band =>
    {
        using var t = Ops.ToTokens(band);
        using var y = layer.Forward(t);
        return Ops.FromTokens(y, band.Dim(2), Width);
    };

    [Fact]
    public void PcppWithRatioZeroAttendsOnlyToItsOwnRowsAfterWarmup()
    {
        var attention = new Attention(Channels, 2, Channels / 2);
        attention.InitializeRandom(7);
        var inputs = new[] { Input(1), Input(2) };
        var layout = new BandLayout(Height, Width, 3, 1);
        var bands = OnBands(3, new PatchParallelOptions { Mode = ParallelMode.Pcpp, PcppRatio = 0, WarmupSteps = 1 }, c => AttentionOnBands(c.Rewriter.Attention(attention, "attn1")), step => inputs[step].Clone(), steps: 2);
        for (int r = 0; r < 3; r++)
        {
            using var band = Ops.SliceRows(inputs[1], layout.Start(r), layout.End(r));
            using var t = Ops.ToTokens(band);
            using var local = attention.Forward(t);
            using var expected = Ops.FromTokens(local, band.Dim(2), Width);
            AssertClose(expected, bands[r], 1e-6);
        }
    }

    [Fact]
    public void PcppSendsAttentionDataToNeighboursOnly()
    {
        var attention = new Attention(Channels, 2, Channels / 2);
        var layout = new BandLayout(Height, Width, 4, 1);
        var slots = InProcessLauncher.Run(4, 1, comm =>
        {
            var context = new PatchContext(comm, layout, new PatchParallelOptions { Mode = ParallelMode.Pcpp, PcppRatio = 0.5 });
            var layer = context.Rewriter.Attention(attention, "attn1");
            context.BeginGeneration(1);
            context.BeginStep(0);
            using var meta = TensorScope.MetaMode();
            layer.Forward(Tensor.Meta(1, layout.Rows(comm.Rank) * Width, Channels));
            return context.Cache.Slots;
        });
        for (int r = 0; r < 4; r++)
        {
            var window = Assert.Single(slots[r], s => s.Schedule == SlotSchedule.AsyncOnly);
            for (int p = 0; p < 4; p++)
                Assert.Equal(Math.Abs(p - r) == 1, window.SendCounts[p] > 0);
        }
    }

    [Theory]
    [InlineData(0, 4)]
    [InlineData(4, 8)]
    [InlineData(8, 12)]
    public void A_band_convolved_with_its_neighbours_rows_is_the_whole_images_rows(int start, int end)
    {
        // The layer's arithmetic alone, without ranks or threads: the neighbours' rows are cut from the image.
        var conv = new Conv2d(Channels, 6, 3, padding: 1);
        conv.InitializeRandom(9);
        using var x = Input();
        using var whole = conv.Forward(x);
        using var expected = Ops.SliceRows(whole, start, end);
        using var band = Ops.SliceRows(x, start, end);
        using var above = start > 0 ? Ops.SliceRows(x, start - 1, start) : null;
        using var below = end < Height ? Ops.SliceRows(x, end, end + 1) : null;
        using var actual = Layers.PatchConv2d.Convolve(conv, band, above, below);
        Assert.Equal(expected.ToArray(), actual.ToArray());
    }

    [Fact]
    public void Predicted_statistics_follow_bands_that_drift_evenly_without_ranks()
    {
        // Two bands whose values grow by 1 every step: each band's sum grows by its count every step.
        var local = new GroupStatistics(1, 1, [103.0], [0], 100);
        double[] Sent(int step, int rank) => [100.0 * step + (rank == 0 ? 3 : 7), 0, 100];
        var predicted = Layers.GroupNormEstimates.Predicted(local, rank: 0, ranks: 2, step: 3, (s, p) => Sent(s, p));
        // Rank 1's mean at step 3 is 3.07 (it sent 2.07 at step 2): the prediction has it.
        Assert.Equal(Sent(3, 0)[0] + Sent(3, 1)[0], predicted.Sum[0], 9);
    }
}

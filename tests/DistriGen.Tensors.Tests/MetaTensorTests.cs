using DistriGen.Tensors.Ops;
using TensorOps = DistriGen.Tensors.Ops.Ops;

namespace DistriGen.Tensors.Tests;

/// <summary>
/// Meta tensors carry shapes only: plans and FLOP counts for models too large to run are made by
/// pushing them through the same ops, so every op must give the right shape and touch no data.
/// </summary>
public class MetaTensorTests
{
    private static void AssertMeta(Tensor t, params int[] shape)
    {
        Assert.True(t.IsMeta, $"{t} should be a meta tensor");
        Check.Shape(t, shape);
        Assert.Throws<InvalidOperationException>(() => t.Span.Length);
    }

    /// <summary>Every op once on meta inputs; <paramref name="realWeight"/> is a tensor with data.</summary>
    private static void EveryOpOnMetaInputs(Tensor realWeight)
    {
        var x = Tensor.Meta(2, 5, 9, 7);
        AssertMeta(x, 2, 5, 9, 7);
        AssertMeta(TensorOps.Conv2d(x, Tensor.Meta(17, 5, 3, 3), Tensor.Meta(17), 1, Padding2d.Same(1)), 2, 17, 9, 7);
        AssertMeta(TensorOps.Conv2d(x, Tensor.Meta(8, 5, 3, 3), null, 2, new Padding2d(0, 1, 0, 1)), 2, 8, 4, 3);
        // One meta operand is enough, even with real weights.
        AssertMeta(TensorOps.Conv2d(x, realWeight, null, 1, default), 2, 3, 9, 7);
        AssertMeta(TensorOps.MatMul(Tensor.Meta(3, 4), Tensor.Meta(4, 6)), 3, 6);
        AssertMeta(TensorOps.MatMul(Tensor.Meta(4, 5), realWeight.Reshape(5, 3)), 4, 3);
        AssertMeta(TensorOps.MatMul(Tensor.Meta(2, 3, 4), Tensor.Meta(2, 4, 6)), 2, 3, 6);
        AssertMeta(TensorOps.Linear(Tensor.Meta(2, 10, 8), Tensor.Meta(8, 5), Tensor.Meta(5)), 2, 10, 5);
        AssertMeta(TensorOps.Attention(Tensor.Meta(2, 130, 40), Tensor.Meta(2, 77, 40), Tensor.Meta(2, 77, 40), 8), 2, 130, 40);
        AssertMeta(TensorOps.GroupNorm(x, 5, Tensor.Meta(5), Tensor.Meta(5), 1e-5f, Activation.Silu), 2, 5, 9, 7);
        var stats = TensorOps.GroupNormStatistics(x, 5);
        Assert.Equal(9L * 7, stats.CountPerGroup);
        AssertMeta(TensorOps.GroupNormApply(x, stats, Tensor.Meta(5), Tensor.Meta(5), 1e-5f), 2, 5, 9, 7);
        AssertMeta(TensorOps.LayerNorm(Tensor.Meta(2, 3, 8), Tensor.Meta(8), Tensor.Meta(8), 1e-5f), 2, 3, 8);
        AssertMeta(TensorOps.Silu(x), 2, 5, 9, 7);
        AssertMeta(TensorOps.Gelu(x), 2, 5, 9, 7);
        AssertMeta(TensorOps.Geglu(Tensor.Meta(2, 3, 10)), 2, 3, 5);
        AssertMeta(TensorOps.Add(x, x), 2, 5, 9, 7);
        Assert.Same(x, TensorOps.AddInPlace(x, x));
        AssertMeta(TensorOps.Subtract(x, x), 2, 5, 9, 7);
        AssertMeta(TensorOps.Multiply(x, 2f), 2, 5, 9, 7);
        AssertMeta(TensorOps.AddScaled(x, 1f, x, 2f), 2, 5, 9, 7);
        TensorOps.AddChannelBias(x, Tensor.Meta(5));
        TensorOps.AddPerChannel(x, Tensor.Meta(2, 5));
        TensorOps.Clamp(x, -1f, 1f);
        AssertMeta(TensorOps.ConcatChannels(x, Tensor.Meta(2, 3, 9, 7)), 2, 8, 9, 7);
        AssertMeta(TensorOps.SliceRows(x, 2, 5), 2, 5, 3, 7);
        AssertMeta(TensorOps.ConcatRows([x, Tensor.Meta(2, 5, 1, 7)]), 2, 5, 10, 7);
        AssertMeta(TensorOps.SliceBatch(x, 1, 2), 1, 5, 9, 7);
        AssertMeta(TensorOps.ConcatBatch([x, x]), 4, 5, 9, 7);
        AssertMeta(TensorOps.ConcatColumns(Tensor.Meta(2, 3), Tensor.Meta(2, 4)), 2, 7);
        AssertMeta(TensorOps.UpsampleNearest(x, 18, 14), 2, 5, 18, 14);
        var tokens = TensorOps.ToTokens(x);
        AssertMeta(tokens, 2, 63, 5);
        AssertMeta(TensorOps.FromTokens(tokens, 9, 7), 2, 5, 9, 7);
        AssertMeta(TensorOps.TimestepEmbedding(Tensor.Meta(2), 320, true, 0f), 2, 320);
        AssertMeta(TensorOps.Transpose2d(Tensor.Meta(3, 4)), 4, 3);
        AssertMeta(x.Reshape(2, 5, -1), 2, 5, 63);
        AssertMeta(x.Clone(), 2, 5, 9, 7);
    }

    [Fact]
    public void Meta_tensors_flow_through_every_op_in_MetaMode()
    {
        using var weight = Tensor.Zeros(3, 5, 1, 1); // made before: a real tensor
        using (TensorScope.MetaMode()) EveryOpOnMetaInputs(weight);
    }

    [Fact]
    public void Meta_tensors_flow_through_every_op_without_MetaMode()
    {
        // Tensor.Meta is public and "only its shape takes part in computation": an op given a meta
        // input must return a meta output, not allocate a real tensor of uninitialised memory that
        // the next op then computes on.
        using var weight = Tensor.Zeros(3, 5, 1, 1);
        EveryOpOnMetaInputs(weight);
    }

    [Fact]
    public void MetaMode_makes_new_tensors_meta_on_this_thread_until_disposed()
    {
        Tensor? fromOtherThread = null;
        using (TensorScope.MetaMode())
        {
            AssertMeta(Tensor.Empty(3, 4), 3, 4);
            AssertMeta(Tensor.Zeros(3, 4), 3, 4);
            AssertMeta(Tensor.Full(1f, 2), 2);
            using (TensorScope.MetaMode()) AssertMeta(Tensor.Zeros(1), 1); // nests
            AssertMeta(Tensor.Zeros(1), 1);
            var t = new Thread(() => fromOtherThread = Tensor.Zeros(2));
            t.Start();
            t.Join();
        }
        Assert.False(fromOtherThread!.IsMeta);
        using var real = Tensor.Zeros(3);
        Assert.False(real.IsMeta);
    }

    [Fact]
    public void Modules_built_in_MetaMode_run_shape_only_forward_passes()
    {
        // How plans are made: the model's parameters are meta too, and no data is ever allocated.
        using (TensorScope.MetaMode())
        {
            var conv = new Nn.Conv2d(4, 8, 3, padding: 1);
            var norm = new Nn.GroupNorm(4, 8);
            var attention = new Nn.Attention(8, 2, 4, crossAttentionDim: 12);
            var linear = new Nn.Linear(8, 3);
            Assert.True(conv.Weight.IsMeta);
            Assert.Equal(8L * 4 * 9 + 8, conv.ParameterCount());

            var x = Tensor.Meta(1, 4, 6, 10);
            var h = norm.Forward(conv.Forward(x), Activation.Silu);
            AssertMeta(h, 1, 8, 6, 10);
            var tokens = attention.Forward(TensorOps.ToTokens(h), Tensor.Meta(1, 77, 12));
            AssertMeta(tokens, 1, 60, 8);
            AssertMeta(linear.Forward(tokens), 1, 60, 3);
        }
    }
}

using DistriGen.Tensors.Ops;
using TensorOps = DistriGen.Tensors.Ops.Ops;

namespace DistriGen.Tensors.Tests;

/// <summary>
/// A wrong shape must fail at once with an ArgumentException that names both shapes, so the user
/// sees which two tensors disagree without a debugger.
/// </summary>
public class ShapeCheckTests
{
    public static TheoryData<string, int[], int[]> Mismatches => new()
    {
        { "add", [2, 3], [3, 2] },
        { "add_in_place", [2, 3, 4], [2, 3, 5] },
        { "subtract", [4], [5] },
        { "add_scaled", [1, 2, 3, 4], [1, 2, 4, 3] },
        { "matmul", [2, 3], [4, 5] },
        { "matmul_batched", [2, 3, 4], [3, 4, 5] },
        { "matmul_rank", [2, 3], [1, 3, 4] },
        { "attention_qk", [1, 4, 6], [1, 5, 8] },
        { "attention_kv", [1, 5, 6], [1, 7, 6] },
        { "concat_channels", [1, 2, 4, 4], [1, 3, 4, 5] },
        { "concat_rows", [1, 2, 3, 4], [1, 2, 3, 5] },
        { "concat_batch", [1, 2, 3], [1, 3, 3] },
        { "concat_columns", [2, 3], [3, 3] },
        { "add_per_channel", [2, 3, 4, 4], [2, 4] },
        { "conv2d_channels", [1, 4, 8, 8], [8, 3, 3, 3] },
        { "conv2d_bias", [8, 3, 3, 3], [5] },        // weight and bias disagree on the output channels
        { "linear", [2, 7], [6, 4] },
        { "linear_bias", [2, 6], [3] },              // weightT (6, 4); bias of 3
        { "layer_norm", [2, 7], [6] },
        { "group_norm", [1, 6, 2, 2], [4] },
        { "add_channel_bias", [1, 6, 2, 2], [4] },
    };

    [Theory]
    [MemberData(nameof(Mismatches))]
    public void Mismatched_shapes_throw_ArgumentException_naming_both(string op, int[] a, int[] b)
    {
        Action call = op switch
        {
            "add" => () => TensorOps.Add(Tensor.Zeros(a), Tensor.Zeros(b)),
            "add_in_place" => () => TensorOps.AddInPlace(Tensor.Zeros(a), Tensor.Zeros(b)),
            "subtract" => () => TensorOps.Subtract(Tensor.Zeros(a), Tensor.Zeros(b)),
            "add_scaled" => () => TensorOps.AddScaled(Tensor.Zeros(a), 1f, Tensor.Zeros(b), 1f),
            "matmul" or "matmul_batched" or "matmul_rank" => () => TensorOps.MatMul(Tensor.Zeros(a), Tensor.Zeros(b)),
            "attention_qk" => () => TensorOps.Attention(Tensor.Zeros(a), Tensor.Zeros(b), Tensor.Zeros(b), 2),
            "attention_kv" => () => TensorOps.Attention(Tensor.Zeros(a), Tensor.Zeros(a), Tensor.Zeros(b), 2),
            "concat_channels" => () => TensorOps.ConcatChannels(Tensor.Zeros(a), Tensor.Zeros(b)),
            "concat_rows" => () => TensorOps.ConcatRows([Tensor.Zeros(a), Tensor.Zeros(b)]),
            "concat_batch" => () => TensorOps.ConcatBatch([Tensor.Zeros(a), Tensor.Zeros(b)]),
            "concat_columns" => () => TensorOps.ConcatColumns(Tensor.Zeros(a), Tensor.Zeros(b)),
            "add_per_channel" => () => TensorOps.AddPerChannel(Tensor.Zeros(a), Tensor.Zeros(b)),
            "conv2d_channels" => () => TensorOps.Conv2d(Tensor.Zeros(a), Tensor.Zeros(b), null, 1, Padding2d.Same(1)),
            "conv2d_bias" => () => TensorOps.Conv2d(Tensor.Zeros(1, 3, 8, 8), Tensor.Zeros(a), Tensor.Zeros(b), 1, Padding2d.Same(1)),
            "linear" => () => TensorOps.Linear(Tensor.Zeros(a), Tensor.Zeros(b), null),
            "linear_bias" => () => TensorOps.Linear(Tensor.Zeros(a), Tensor.Zeros(6, 4), Tensor.Zeros(b)),
            "layer_norm" => () => TensorOps.LayerNorm(Tensor.Zeros(a), Tensor.Zeros(b), Tensor.Zeros(b), 1e-5f),
            "group_norm" => () => TensorOps.GroupNorm(Tensor.Zeros(a), 2, Tensor.Zeros(b), Tensor.Zeros(b), 1e-5f),
            "add_channel_bias" => () => TensorOps.AddChannelBias(Tensor.Zeros(a), Tensor.Zeros(b)),
            _ => throw new ArgumentOutOfRangeException(nameof(op)),
        };
        var e = Assert.Throws<ArgumentException>(call);
        Assert.Contains(Describe(a), e.Message);
        Assert.Contains(Describe(b), e.Message);
    }

    /// <summary>A rank-1 parameter may be named by its length ("6 features"); anything larger by its shape.</summary>
    private static string Describe(int[] shape) => shape.Length == 1 ? shape[0].ToString(System.Globalization.CultureInfo.InvariantCulture) : Tensor.Format(shape);

    [Fact]
    public void Conv2d_input_smaller_than_the_kernel_is_rejected()
    {
        using var x = Tensor.Zeros(1, 2, 2, 2);
        using var w = Tensor.Zeros(3, 2, 3, 3);
        var e = Assert.Throws<ArgumentException>(() => TensorOps.Conv2d(x, w, null, 1, default));
        Assert.Contains("(1, 2, 2, 2)", e.Message);
    }

    [Fact]
    public void Attention_heads_must_divide_channels()
    {
        using var q = Tensor.Zeros(1, 2, 6);
        var e = Assert.Throws<ArgumentException>(() => TensorOps.Attention(q, q, q, 4));
        Assert.Contains("6", e.Message);
        Assert.Contains("4", e.Message);
    }

    [Fact]
    public void Reshape_infers_one_dimension_from_minus_one()
    {
        using var x = Check.Normal(141, 2, 3, 4);
        Check.Shape(x.Reshape(-1, 4), 6, 4);
        Check.Shape(x.Reshape(4, -1), 4, 6);
        Check.Shape(x.Reshape(2, -1, 2), 2, 6, 2);
        Check.Shape(x.Reshape(-1), 24);
        using var empty = Tensor.Zeros(0, 5);
        Check.Shape(empty.Reshape(-1, 5), 0, 5);
    }

    [Fact]
    public void Reshape_is_a_view_over_the_same_data()
    {
        using var x = Tensor.Zeros(2, 3);
        var view = x.Reshape(3, 2);
        view[2, 1] = 7f;
        Assert.Equal(7f, x[1, 2]);
    }

    [Theory]
    [InlineData(new[] { 5, -1 })]      // 24 is not a multiple of 5
    [InlineData(new[] { 5, 5 })]
    [InlineData(new[] { -1, -1, 4 })]  // two unknowns
    public void Reshape_to_an_incompatible_shape_throws_naming_both(int[] target)
    {
        using var x = Tensor.Zeros(2, 3, 4);
        var e = Assert.Throws<ArgumentException>(() => x.Reshape(target));
        Assert.Contains("(2, 3, 4)", e.Message);
        Assert.Contains(Tensor.Format(target), e.Message);
    }

    [Fact]
    public void FromArray_with_the_wrong_count_names_the_shape()
    {
        var e = Assert.Throws<ArgumentException>(() => Tensor.FromArray([1f, 2f, 3f], 2, 2));
        Assert.Contains("(2, 2)", e.Message);
    }

    [Fact]
    public void Indexing_outside_the_shape_names_it()
    {
        using var x = Tensor.Zeros(2, 3);
        var e = Assert.Throws<IndexOutOfRangeException>(() => x[1, 3]);
        Assert.Contains("(2, 3)", e.Message);
        Assert.Throws<ArgumentException>(() => x[1]);
    }

    [Fact]
    public void Negative_dimensions_are_rejected()
    {
        Assert.Throws<ArgumentException>(() => Tensor.Zeros(2, -3));
    }
}

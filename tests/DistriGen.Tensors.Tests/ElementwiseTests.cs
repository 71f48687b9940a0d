using TensorOps = DistriGen.Tensors.Ops.Ops;

namespace DistriGen.Tensors.Tests;

/// <summary>Element-wise arithmetic and the per-channel broadcasts, on odd lengths so vector tails are covered.</summary>
public class ElementwiseTests
{
    private static readonly int[] Shape = [2, 3, 5, 7]; // 210 elements: not a multiple of 8 or 16

    private static double[] Map(Tensor a, Tensor b, Func<double, double, double> f)
    {
        var xs = a.ToArray();
        var ys = b.ToArray();
        return xs.Select((x, i) => f(x, ys[i])).ToArray();
    }

    [Fact]
    public void Add_adds_element_by_element()
    {
        using var a = Check.Normal(81, Shape);
        using var b = Check.Normal(82, Shape);
        using var y = TensorOps.Add(a, b);
        Check.Shape(y, Shape);
        // One float rounding of the exact sum: the same bits as float addition.
        Check.Bitwise(a.ToArray().Zip(b.ToArray(), (x, z) => x + z).ToArray(), y.Span);
    }

    [Fact]
    public void AddInPlace_updates_and_returns_the_left_operand()
    {
        using var a = Check.Normal(83, Shape);
        using var b = Check.Normal(84, Shape);
        var expected = a.ToArray().Zip(b.ToArray(), (x, z) => x + z).ToArray();
        var before = b.ToArray();
        var result = TensorOps.AddInPlace(a, b);
        Assert.Same(a, result);
        Check.Bitwise(expected, a.Span);
        Check.Bitwise(before, b.Span); // the right operand is untouched
    }

    [Fact]
    public void Subtract_subtracts_element_by_element()
    {
        using var a = Check.Normal(85, Shape);
        using var b = Check.Normal(86, Shape);
        using var y = TensorOps.Subtract(a, b);
        Check.Bitwise(a.ToArray().Zip(b.ToArray(), (x, z) => x - z).ToArray(), y.Span);
    }

    [Fact]
    public void Multiply_scales_every_element()
    {
        using var a = Check.Normal(87, Shape);
        using var y = TensorOps.Multiply(a, -0.37f);
        Check.Bitwise(a.ToArray().Select(x => x * -0.37f).ToArray(), y.Span);
    }

    [Fact]
    public void AddScaled_is_a_times_sa_plus_b_times_sb()
    {
        using var a = Check.Normal(88, Shape);
        using var b = Check.Normal(89, Shape);
        using var y = TensorOps.AddScaled(a, 0.9f, b, -1.7f);
        Check.Close(Map(a, b, (x, z) => x * 0.9f + z * -1.7f), y, rtol: 1e-6);
    }

    [Fact]
    public void AddChannelBias_adds_one_value_per_channel_in_place()
    {
        using var x = Check.Normal(90, Shape);
        using var bias = Check.Normal(91, 3);
        var before = x.ToArray();
        TensorOps.AddChannelBias(x, bias);
        for (int b = 0; b < 2; b++)
            for (int c = 0; c < 3; c++)
                for (int i = 0; i < 35; i++)
                {
                    int at = (b * 3 + c) * 35 + i;
                    Assert.Equal(before[at] + bias[c], x.Span[at]);
                }
    }

    [Fact]
    public void AddPerChannel_adds_one_value_per_batch_item_and_channel()
    {
        using var x = Check.Normal(92, Shape);
        using var v = Check.Normal(93, 2, 3);
        var before = x.ToArray();
        TensorOps.AddPerChannel(x, v);
        for (int b = 0; b < 2; b++)
            for (int c = 0; c < 3; c++)
                for (int i = 0; i < 35; i++)
                {
                    int at = (b * 3 + c) * 35 + i;
                    Assert.Equal(before[at] + v[b, c], x.Span[at]);
                }
    }

    [Fact]
    public void Clamp_limits_values_in_place()
    {
        using var x = Tensor.FromArray([-3f, -1f, 0f, 0.5f, 1f, 7f, float.NegativeInfinity], 7);
        TensorOps.Clamp(x, -1f, 1f);
        Assert.Equal([-1f, -1f, 0f, 0.5f, 1f, 1f, -1f], x.ToArray());
    }
}

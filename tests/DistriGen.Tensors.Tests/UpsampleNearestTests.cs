using TensorOps = DistriGen.Tensors.Ops.Ops;

namespace DistriGen.Tensors.Tests;

/// <summary>Nearest-neighbour resize with torch's 'nearest' rule: source index = floor(dst · in / out).</summary>
public class UpsampleNearestTests
{
    [Theory]
    [InlineData(3, 5, 6, 10)]    // ×2, as diffusers' Upsample2D
    [InlineData(1, 1, 2, 2)]
    [InlineData(5, 3, 7, 11)]    // odd explicit sizes, not a whole multiple
    [InlineData(4, 6, 9, 13)]
    [InlineData(9, 7, 4, 5)]     // shrinking
    [InlineData(6, 4, 6, 4)]     // identity
    public void UpsampleNearest_takes_the_floor_source_pixel(int h, int w, int outH, int outW)
    {
        using var x = Check.Normal(111, 2, 3, h, w);
        using var y = TensorOps.UpsampleNearest(x, outH, outW);
        Check.Shape(y, 2, 3, outH, outW);
        for (int b = 0; b < 2; b++)
            for (int c = 0; c < 3; c++)
                for (int i = 0; i < outH; i++)
                    for (int j = 0; j < outW; j++)
                        Assert.Equal(x[b, c, i * h / outH, j * w / outW], y[b, c, i, j]);
    }

    [Fact]
    public void UpsampleNearest_x2_repeats_each_pixel_in_a_2x2_block()
    {
        using var x = Tensor.FromArray([1f, 2f, 3f, 4f, 5f, 6f], 1, 1, 2, 3);
        using var y = TensorOps.UpsampleNearest(x, 4, 6);
        Assert.Equal(
            [1f, 1f, 2f, 2f, 3f, 3f,
             1f, 1f, 2f, 2f, 3f, 3f,
             4f, 4f, 5f, 5f, 6f, 6f,
             4f, 4f, 5f, 5f, 6f, 6f], y.ToArray());
    }
}

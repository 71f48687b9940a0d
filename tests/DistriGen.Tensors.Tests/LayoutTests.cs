using TensorOps = DistriGen.Tensors.Ops.Ops;

namespace DistriGen.Tensors.Tests;

/// <summary>Concatenation, slicing and layout changes: pure copies, so every value must match exactly.</summary>
public class LayoutTests
{
    [Fact]
    public void ConcatChannels_puts_b_after_a_in_each_batch_item()
    {
        using var a = Check.Normal(101, 2, 3, 4, 5);
        using var b = Check.Normal(102, 2, 5, 4, 5);
        using var y = TensorOps.ConcatChannels(a, b);
        Check.Shape(y, 2, 8, 4, 5);
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 8; c++)
                for (int i = 0; i < 4; i++)
                    for (int j = 0; j < 5; j++)
                        Assert.Equal(c < 3 ? a[n, c, i, j] : b[n, c - 3, i, j], y[n, c, i, j]);
    }

    [Theory]
    [InlineData(0, 6)]
    [InlineData(2, 5)]
    [InlineData(5, 6)] // one row
    [InlineData(3, 3)] // no rows
    public void SliceRows_copies_rows_of_every_plane(int start, int end)
    {
        using var x = Check.Normal(103, 2, 3, 6, 7);
        using var y = TensorOps.SliceRows(x, start, end);
        Check.Shape(y, 2, 3, end - start, 7);
        for (int n = 0; n < 2; n++)
            for (int c = 0; c < 3; c++)
                for (int i = start; i < end; i++)
                    for (int j = 0; j < 7; j++)
                        Assert.Equal(x[n, c, i, j], y[n, c, i - start, j]);
    }

    [Fact]
    public void SliceRows_rejects_rows_outside_the_tensor()
    {
        using var x = Tensor.Zeros(1, 2, 4, 3);
        var e = Assert.Throws<ArgumentException>(() => TensorOps.SliceRows(x, 2, 5));
        Assert.Contains("(1, 2, 4, 3)", e.Message);
    }

    [Fact]
    public void ConcatRows_undoes_SliceRows_for_uneven_bands()
    {
        using var x = Check.Normal(104, 2, 3, 9, 5);
        int[] edges = [0, 1, 4, 4, 9]; // a 1-row band and an empty band
        var parts = Enumerable.Range(0, edges.Length - 1).Select(i => TensorOps.SliceRows(x, edges[i], edges[i + 1])).ToList();
        using var y = TensorOps.ConcatRows(parts);
        Check.Shape(y, x.Shape);
        Check.Bitwise(x.Span, y.Span);
        parts.ForEach(p => p.Dispose());
    }

    [Fact]
    public void SliceBatch_and_ConcatBatch_are_inverse()
    {
        using var x = Check.Normal(105, 5, 3, 2, 3);
        using var first = TensorOps.SliceBatch(x, 0, 2);
        using var middle = TensorOps.SliceBatch(x, 2, 3);
        using var last = TensorOps.SliceBatch(x, 3, 5);
        Check.Shape(first, 2, 3, 2, 3);
        Check.Shape(middle, 1, 3, 2, 3);
        Check.Bitwise(x.Span.Slice(2 * 18, 18), middle.Span);
        using var y = TensorOps.ConcatBatch([first, middle, last]);
        Check.Bitwise(x.Span, y.Span);
    }

    [Fact]
    public void ConcatBatch_duplicates_for_classifier_free_guidance()
    {
        using var x = Check.Normal(106, 1, 4, 3, 3);
        using var y = TensorOps.ConcatBatch([x, x]);
        Check.Shape(y, 2, 4, 3, 3);
        Check.Bitwise(x.Span, y.Span[..36]);
        Check.Bitwise(x.Span, y.Span[36..]);
    }

    [Fact]
    public void ConcatColumns_joins_rows_side_by_side()
    {
        using var a = Check.Normal(107, 3, 2);
        using var b = Check.Normal(108, 3, 5);
        using var y = TensorOps.ConcatColumns(a, b);
        Check.Shape(y, 3, 7);
        for (int i = 0; i < 3; i++)
            for (int j = 0; j < 7; j++)
                Assert.Equal(j < 2 ? a[i, j] : b[i, j - 2], y[i, j]);
    }

    [Theory]
    [InlineData(1, 3, 1, 1)]
    [InlineData(2, 33, 5, 7)]   // 35 tokens and 33 channels: partial 32×32 tiles both ways
    [InlineData(1, 4, 9, 8)]    // 72 tokens
    [InlineData(2, 64, 8, 16)]  // whole 8×8 register blocks only
    [InlineData(1, 17, 3, 11)]  // 8×8 blocks with a row and column edge each way
    public void ToTokens_is_B_HW_C_and_FromTokens_inverts_it(int batch, int c, int h, int w)
    {
        using var x = Check.Normal(109, batch, c, h, w);
        using var tokens = TensorOps.ToTokens(x);
        Check.Shape(tokens, batch, h * w, c);
        for (int b = 0; b < batch; b++)
            for (int ch = 0; ch < c; ch++)
                for (int i = 0; i < h; i++)
                    for (int j = 0; j < w; j++)
                        Assert.Equal(x[b, ch, i, j], tokens[b, i * w + j, ch]);
        using var back = TensorOps.FromTokens(tokens, h, w);
        Check.Shape(back, x.Shape);
        Check.Bitwise(x.Span, back.Span);
    }

    [Fact]
    public void FromTokens_rejects_a_token_count_that_is_not_h_times_w()
    {
        using var t = Tensor.Zeros(1, 12, 4);
        var e = Assert.Throws<ArgumentException>(() => TensorOps.FromTokens(t, 5, 3));
        Assert.Contains("(1, 12, 4)", e.Message);
    }
}

using DistriGen.Tensors.Compute;
using DistriGen.Tensors.Ops;
using TensorOps = DistriGen.Tensors.Ops.Ops;

namespace DistriGen.Tensors.Tests;

/// <summary>
/// oneDNN in bf16: convolutions, linears and both attention products take bf16 operands and accumulate in
/// float32, so results stay within bf16's rounding (2⁻⁹ relative per operand) of the float64 reference, and
/// differ from float32's (else bf16 did not run). Skipped where oneDNN is not installed.
/// </summary>
[Collection(GlobalStateCollection.Name)]
public class BFloat16BackendTests
{
    // Rounding operands to 8 significant bits leaves errors of ~0.3 % of the values' RMS.
    private const double Tolerance = 1.5e-2;

    // Attention outputs average many values, so their RMS shrinks as 1/√keys, and so do the errors the rounded
    // scores make in the weights: relative to the output, an error of about the scores' own (0.4 % here, 4σ = 1.6 %).
    private const double AttentionTolerance = 3e-2;

    [Fact]
    public void Convolutions_are_within_bf16_rounding() => Backends.On("onednn-bf16", () =>
    {
        Conv2dTests.AssertMatchesReference(1, 3, 5, 7, 9, 3, 3, 1, Padding2d.Same(1), true, rtol: Tolerance);
        Conv2dTests.AssertMatchesReference(2, 17, 33, 6, 5, 3, 3, 2, new Padding2d(0, 1, 0, 1), false, rtol: Tolerance);
        Conv2dTests.AssertMatchesReference(1, 32, 48, 20, 24, 3, 3, 1, new Padding2d(0, 0, 1, 1), true,
            rtol: Tolerance);
        Conv2dTests.AssertMatchesReference(1, 33, 36, 5, 7, 1, 1, 1, default, true, rtol: Tolerance);
    });

    [Fact]
    public void Linears_are_within_bf16_rounding() => Backends.On("onednn-bf16", () =>
    {
        LinearTests.AssertLinear([1], 5, 3, true, Tolerance);
        LinearTests.AssertLinear([2, 65], 40, 5, true, Tolerance);
        LinearTests.AssertLinear([3, 1, 4], 300, 9, false, Tolerance);
    });

    [Fact]
    public void Attention_is_within_bf16_rounding() => Backends.On("onednn-bf16", () =>
    {
        AttentionTests.AssertAttention(1, 2, 5, 7, 9, rtol: AttentionTolerance);
        // Key rows of 600 and 513: a full 512-key block, then rows whose weights are packed partly by vector, partly
        // one at a time; a peaked softmax whose running maximum must be corrected.
        AttentionTests.AssertAttention(2, 3, 5, 130, 600, rtol: AttentionTolerance);
        AttentionTests.AssertAttention(1, 2, 40, 130, 600, rtol: AttentionTolerance);
        AttentionTests.AssertAttention(1, 3, 5, 65, 513, 4f, AttentionTolerance);
    });

    [Fact]
    public void Causal_attention_masks_the_same_keys_in_bf16()
    {
        using var q = Check.Normal(61, 1, 77, 64);
        using var k = Check.Normal(62, 1, 77, 64);
        using var v = Check.Normal(63, 1, 77, 64);
        float[] Run(string backend)
        {
            float[] result = [];
            Backends.On(backend, () =>
            {
                using var y = TensorOps.Attention(q, k, v, 2, causal: true);
                result = y.ToArray();
            });
            return result;
        }
        var bf16 = Run("onednn-bf16");
        if (bf16.Length == 0) return;
        var float32 = Run("managed");
        Check.Close(float32.Select(x => (double)x).ToArray(), bf16, AttentionTolerance,
            what: "causal attention, bf16 against float32");
        // The first query sees only the first key: its output is that key's value, rounded to bf16.
        for (int i = 0; i < 32; i++)
            Assert.Equal(BFloat16.Round(v.Span[i]), BFloat16.Round(bf16[i]));
    }

    [Fact]
    public void Bf16_results_are_not_float32_results()
    {
        using var x = Check.Normal(64, 1, 32, 12, 12);
        using var w = Check.Normal(65, 32, 32, 3, 3);
        float[] Run(string backend)
        {
            float[] result = [];
            Backends.On(backend, () =>
            {
                using var y = TensorOps.Conv2d(x, w, null, 1, Padding2d.Same(1));
                result = y.ToArray();
            });
            return result;
        }
        var bf16 = Run("onednn-bf16");
        if (bf16.Length == 0) return;
        Assert.Equal("oneDNN, bf16", Backends.Get("onednn-bf16")!.Name);
        Assert.False(Run("onednn").AsSpan().SequenceEqual(bf16),
            "bf16 convolution gave the float32 result bit for bit: it did not run.");
    }

    [Theory]
    [InlineData(1f, 0x3F80)]
    [InlineData(1.00390625f, 0x3F80)]        // exactly halfway between 1 and the next bf16: ties to even (down)
    [InlineData(1.01171875f, 0x3F82)]        // halfway between 0x3F81 and 0x3F82: ties to even (up)
    [InlineData(1.0039064f, 0x3F81)]         // just above halfway: up
    [InlineData(-2.5f, 0xC020)]
    [InlineData(float.PositiveInfinity, 0x7F80)]
    public void Rounding_to_bf16_is_to_nearest_ties_to_even(float value, int expected)
    {
        Assert.Equal(expected, BFloat16.Round(value));
        // The vector path (32 at a time) and the scalar tail agree.
        var many = Enumerable.Repeat(value, 37).ToArray();
        var rounded = new ushort[37];
        BFloat16.Convert(many, rounded);
        Assert.All(rounded, r => Assert.Equal(expected, r));
    }
}

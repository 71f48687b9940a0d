using DistriGen.Tensors.Nn;
using TensorOps = DistriGen.Tensors.Ops.Ops;

namespace DistriGen.Tensors.Tests;

/// <summary>Ops.Linear (x · Wᵀ + b with W kept transposed) and the Nn.Linear layer built on it.</summary>
public class LinearTests
{
    /// <summary>y[r, o] = b[o] + Σ x[r, i]·W[o, i], with W in torch's (out, in) layout.</summary>
    internal static double[] Reference(float[] x, float[] weight, float[]? bias, int rows, int inF, int outF)
    {
        var y = new double[rows * outF];
        for (int r = 0; r < rows; r++)
            for (int o = 0; o < outF; o++)
            {
                double s = bias is null ? 0 : bias[o];
                for (int i = 0; i < inF; i++) s += (double)x[r * inF + i] * weight[o * inF + i];
                y[r * outF + o] = s;
            }
        return y;
    }

    internal static void AssertLinear(int[] leading, int inF, int outF, bool withBias, double rtol = 1e-5)
    {
        int rows = leading.Aggregate(1, (a, b) => a * b);
        using var x = Check.Normal(41, [.. leading, inF]);
        using var weight = Check.Normal(42, outF, inF);
        using var bias = withBias ? Check.Normal(43, outF) : null;
        using var weightT = TensorOps.Transpose2d(weight);
        using var y = TensorOps.Linear(x, weightT, bias);
        Check.Shape(y, [.. leading, outF]);
        Check.Close(Reference(x.ToArray(), weight.ToArray(), bias?.ToArray(), rows, inF, outF), y, rtol,
            what: $"linear {Tensor.Format(x.Shape)} → {outF}");
    }

    [Theory]
    [InlineData(new[] { 1 }, 5, 3, true)]          // one row
    [InlineData(new[] { 7 }, 17, 33, false)]
    [InlineData(new[] { 2, 5 }, 3, 17, true)]      // (B, N, C) tokens
    [InlineData(new[] { 2, 65 }, 40, 5, true)]     // many rows, few outputs
    [InlineData(new[] { 3, 1, 4 }, 300, 9, true)]  // rank 4, K over the 256 K block
    public void Linear_matches_reference(int[] leading, int inF, int outF, bool bias) => AssertLinear(leading, inF, outF, bias);

    [Fact]
    public void Linear_layer_uses_torch_weight_layout_and_follows_reloaded_weights()
    {
        // The layer caches Wᵀ; loading new weights must drop the cached transpose.
        var layer = new Linear(6, 4);
        var source = new Dictionary<string, Tensor> { ["weight"] = Check.Normal(44, 4, 6), ["bias"] = Check.Normal(45, 4) };
        layer.LoadStateDict(new DictionaryTensorSource(source));
        using var x = Check.Normal(46, 2, 3, 6);
        using (var y = layer.Forward(x))
            Check.Close(Reference(x.ToArray(), source["weight"].ToArray(), source["bias"].ToArray(), 6, 6, 4), y);

        var second = new Dictionary<string, Tensor> { ["weight"] = Check.Normal(47, 4, 6), ["bias"] = Check.Normal(48, 4) };
        layer.LoadStateDict(new DictionaryTensorSource(second));
        using (var y = layer.Forward(x))
            Check.Close(Reference(x.ToArray(), second["weight"].ToArray(), second["bias"].ToArray(), 6, 6, 4), y);
    }

    [Fact]
    public void Linear_layer_still_works_after_the_nested_scopes_of_its_first_call_close()
    {
        // Tensor.Keep moves a tensor to the enclosing scope only. The layer's cached Wᵀ is made on the
        // first forward; if that call runs inside two nested scopes (a per-request scope around
        // per-step scopes), the cache must not be disposed when the outer scope closes.
        var layer = new Linear(5, 3);
        layer.InitializeRandom(49);
        using var x = Check.Normal(50, 2, 5);
        using (new TensorScope())
        using (new TensorScope())
            layer.Forward(x);
        using var y = layer.Forward(x);
        Check.Close(Reference(x.ToArray(), layer.Weight.ToArray(), layer.Bias!.ToArray(), 2, 5, 3), y);
    }
}

using TensorOps = DistriGen.Tensors.Ops.Ops;

namespace DistriGen.Tensors.Tests;

/// <summary>
/// Ops.Attention (blocked over 64 queries × 512 keys with an online softmax) against the plain
/// softmax(q·kᵀ/√d)·v per head, computed in double with the whole score row at once.
/// </summary>
public class AttentionTests
{
    internal static double[] Reference(float[] q, float[] k, float[] v, int batch, int nq, int nk, int c, int heads)
    {
        int d = c / heads;
        double scale = 1.0 / Math.Sqrt(d);
        var y = new double[batch * nq * c];
        var scores = new double[nk];
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < heads; h++)
                for (int i = 0; i < nq; i++)
                {
                    double max = double.NegativeInfinity;
                    for (int t = 0; t < nk; t++)
                    {
                        double s = 0;
                        for (int e = 0; e < d; e++) s += (double)q[(b * nq + i) * c + h * d + e] * k[(b * nk + t) * c + h * d + e];
                        scores[t] = s * scale;
                        max = Math.Max(max, scores[t]);
                    }
                    double sum = 0;
                    for (int t = 0; t < nk; t++) sum += scores[t] = Math.Exp(scores[t] - max);
                    for (int e = 0; e < d; e++)
                    {
                        double acc = 0;
                        for (int t = 0; t < nk; t++) acc += scores[t] * v[(b * nk + t) * c + h * d + e];
                        y[(b * nq + i) * c + h * d + e] = acc / sum;
                    }
                }
        return y;
    }

    internal static void AssertAttention(int batch, int heads, int d, int nq, int nk, float queryScale = 1f,
        double rtol = 1e-5)
    {
        int c = heads * d;
        using var q0 = Check.Normal(51, batch, nq, c);
        using var q = TensorOps.Multiply(q0, queryScale);
        using var k = Check.Normal(52, batch, nk, c);
        using var v = Check.Normal(53, batch, nk, c);
        using var y = TensorOps.Attention(q, k, v, heads);
        Check.Shape(y, batch, nq, c);
        Check.Close(Reference(q.ToArray(), k.ToArray(), v.ToArray(), batch, nq, nk, c, heads), y, rtol,
            what: $"attention B={batch} heads={heads} d={d} Nq={nq} Nk={nk}");
    }

    [Theory]
    [InlineData(1, 1, 1, 1, 1, 1f)]        // one query, one key: the output is v
    [InlineData(1, 2, 5, 7, 9, 1f)]        // heads > 1, Nq ≠ Nk
    [InlineData(2, 3, 5, 130, 600, 1f)]    // three query blocks (last one partial), two key blocks (second partial)
    [InlineData(1, 2, 40, 130, 600, 1f)]   // head dim 40 as in Stable Diffusion
    [InlineData(1, 3, 5, 65, 513, 4f)]     // 65 = 64 + 1 queries, 513 = 512 + 1 keys, peaked softmax: the running max must be corrected
    [InlineData(2, 1, 8, 3, 77, 1f)]       // cross-attention shape: few queries, 77 text tokens
    public void Attention_matches_unblocked_softmax(int batch, int heads, int d, int nq, int nk, float queryScale) =>
        AssertAttention(batch, heads, d, nq, nk, queryScale);

    [Fact]
    public void Attention_with_a_single_key_returns_its_value_for_every_query()
    {
        // softmax over one key is 1, whatever the scores.
        using var q = Check.Normal(54, 1, 5, 6);
        using var k = Check.Normal(55, 1, 1, 6);
        using var v = Check.Normal(56, 1, 1, 6);
        using var y = TensorOps.Attention(q, k, v, 2);
        for (int i = 0; i < 5; i++)
            for (int e = 0; e < 6; e++)
                Assert.Equal(v[0, 0, e], y[0, i, e], 6);
    }
}

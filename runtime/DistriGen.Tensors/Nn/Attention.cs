namespace DistriGen.Tensors.Nn;

/// <summary>
/// Multi-head attention on tokens (B, N, C) with diffusers' names: to_q, to_k, to_v, to_out.0.
/// Self-attention when <see cref="CrossAttentionDim"/> is null (keys from x), cross-attention
/// otherwise (keys from the context, e.g. the text).
/// </summary>
public class Attention : Module
{
    public Attention(int queryDim, int heads, int dimHead, int? crossAttentionDim = null, bool qkvBias = false, bool outBias = true)
    {
        QueryDim = queryDim;
        Heads = heads;
        DimHead = dimHead;
        CrossAttentionDim = crossAttentionDim;
        int inner = heads * dimHead;
        ToQ = new Linear(queryDim, inner, qkvBias);
        ToK = new Linear(crossAttentionDim ?? queryDim, inner, qkvBias);
        ToV = new Linear(crossAttentionDim ?? queryDim, inner, qkvBias);
        ToOut = new Linear(inner, queryDim, outBias);
    }

    protected Attention(Attention source)
    {
        QueryDim = source.QueryDim;
        Heads = source.Heads;
        DimHead = source.DimHead;
        CrossAttentionDim = source.CrossAttentionDim;
        ToQ = source.ToQ;
        ToK = source.ToK;
        ToV = source.ToV;
        ToOut = source.ToOut;
    }

    public int QueryDim { get; }
    public int Heads { get; }
    public int DimHead { get; }
    public int? CrossAttentionDim { get; }
    public bool IsSelfAttention => CrossAttentionDim is null;
    public Linear ToQ { get; }
    public Linear ToK { get; }
    public Linear ToV { get; }
    public Linear ToOut { get; }

    public override IEnumerable<(string Name, Module? Module)> Children()
    {
        yield return ("to_q", ToQ);
        yield return ("to_k", ToK);
        yield return ("to_v", ToV);
        yield return ("to_out.0", ToOut);
    }

    /// <summary>Attends from x to itself, or to <paramref name="context"/> for cross-attention.</summary>
    public virtual Tensor Forward(Tensor x, Tensor? context = null)
    {
        var source = context ?? x;
        using var q = ToQ.Forward(x);
        using var k = ToK.Forward(source);
        using var v = ToV.Forward(source);
        return Attend(q, k, v);
    }

    /// <summary>softmax(q·kᵀ/√d)·v over all heads, then the output projection.</summary>
    protected Tensor Attend(Tensor q, Tensor k, Tensor v)
    {
        using var mixed = NonFiniteTrace.After(this, Ops.Ops.Attention(q, k, v, Heads));
        return ToOut.Forward(mixed);
    }
}

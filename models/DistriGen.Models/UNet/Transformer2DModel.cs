using DistriGen.Runtime;
using DistriGen.Tensors;
using DistriGen.Tensors.Nn;
using DistriGen.Tensors.Ops;

namespace DistriGen.Models;

/// <summary>
/// diffusers' Transformer2DModel on continuous input: GroupNorm (eps 1e-6), proj_in (1×1 conv or
/// linear), transformer blocks over the H·W tokens, proj_out, plus the input.
/// </summary>
[PatchParallel]
public sealed partial class Transformer2DModel : Module
{
    public Transformer2DModel(int heads, int headDim, int inChannels, int layers, int crossAttentionDim, int groups, bool useLinearProjection)
    {
        int inner = heads * headDim;
        Norm = new GroupNorm(groups, inChannels, 1e-6f);
        if (useLinearProjection)
        {
            ProjInLinear = new Linear(inChannels, inner);
            ProjOutLinear = new Linear(inner, inChannels);
        }
        else
        {
            ProjInConv = new Conv2d(inChannels, inner, 1);
            ProjOutConv = new Conv2d(inner, inChannels, 1);
        }
        TransformerBlocks = new ModuleList<BasicTransformerBlock>(Enumerable.Range(0, layers).Select(_ => new BasicTransformerBlock(inner, heads, headDim, crossAttentionDim)));
    }

    public GroupNorm Norm { get; }

    [StateName("proj_in")]
    public Conv2d? ProjInConv { get; }

    [StateName("proj_in")]
    public Linear? ProjInLinear { get; }

    public ModuleList<BasicTransformerBlock> TransformerBlocks { get; }

    [StateName("proj_out")]
    public Conv2d? ProjOutConv { get; }

    [StateName("proj_out")]
    public Linear? ProjOutLinear { get; }

    public Tensor Forward(Tensor x, Tensor encoderHiddenStates)
    {
        int h = x.Dim(2), w = x.Dim(3);
        Tensor tokens;
        using (var normed = Norm.Forward(x))
        {
            if (ProjInConv is not null)
            {
                using var projected = ProjInConv.Forward(normed);
                tokens = Ops.ToTokens(projected);
            }
            else
            {
                using var flat = Ops.ToTokens(normed);
                tokens = ProjInLinear!.Forward(flat);
            }
        }
        foreach (var block in TransformerBlocks)
        {
            var next = block.Forward(tokens, encoderHiddenStates);
            tokens.Dispose();
            tokens = next;
        }
        Tensor output;
        using (tokens)
        {
            if (ProjOutConv is not null)
            {
                using var spatial = Ops.FromTokens(tokens, h, w);
                output = ProjOutConv.Forward(spatial);
            }
            else
            {
                using var projected = ProjOutLinear!.Forward(tokens);
                output = Ops.FromTokens(projected, h, w);
            }
        }
        return Ops.AddInPlace(output, x);
    }
}

/// <summary>diffusers' BasicTransformerBlock: self-attention, cross-attention and a GEGLU feed-forward, each after a LayerNorm and with a residual.</summary>
[PatchParallel]
public sealed partial class BasicTransformerBlock : Module
{
    public BasicTransformerBlock(int dim, int heads, int headDim, int crossAttentionDim)
    {
        Norm1 = new LayerNorm(dim);
        Attn1 = new Attention(dim, heads, headDim);
        Norm2 = new LayerNorm(dim);
        Attn2 = new Attention(dim, heads, headDim, crossAttentionDim);
        Norm3 = new LayerNorm(dim);
        Ff = new FeedForward(dim, dim * 4);
    }

    public LayerNorm Norm1 { get; }
    public Attention Attn1 { get; }
    public LayerNorm Norm2 { get; }
    public Attention Attn2 { get; }
    public LayerNorm Norm3 { get; }
    public FeedForward Ff { get; }

    /// <param name="x">Tokens (B, N, C).</param>
    public Tensor Forward(Tensor x, Tensor encoderHiddenStates)
    {
        Tensor h;
        using (var n1 = Norm1.Forward(x)) h = Attn1.Forward(n1);
        Ops.AddInPlace(h, x);
        using (var n2 = Norm2.Forward(h))
        using (var a2 = Attn2.Forward(n2, encoderHiddenStates))
            Ops.AddInPlace(h, a2);
        using (var n3 = Norm3.Forward(h))
        using (var f = Ff.Forward(n3))
            Ops.AddInPlace(h, f);
        return h;
    }
}

/// <summary>diffusers' FeedForward with GEGLU: net.0.proj (dim → 2·inner), hidden·gelu(gate), net.2 (inner → dim).</summary>
[PatchParallel]
public sealed partial class FeedForward : Module
{
    public FeedForward(int dim, int inner)
    {
        Proj = new Linear(dim, inner * 2);
        Out = new Linear(inner, dim);
    }

    [StateName("net.0.proj")]
    public Linear Proj { get; }

    [StateName("net.2")]
    public Linear Out { get; }

    public Tensor Forward(Tensor x)
    {
        using var projected = Proj.Forward(x);
        using var gated = Ops.Geglu(projected);
        return Out.Forward(gated);
    }
}

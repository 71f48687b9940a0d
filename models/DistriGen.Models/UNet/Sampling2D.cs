using DistriGen.Runtime;
using DistriGen.Tensors;
using DistriGen.Tensors.Nn;
using DistriGen.Tensors.Ops;

namespace DistriGen.Models;

/// <summary>diffusers' Downsample2D with a convolution: 3×3, stride 2, padding 1.</summary>
[PatchParallel]
public sealed partial class Downsample2D : Module
{
    public Downsample2D(int channels) => Conv = new Conv2d(channels, channels, 3, stride: 2, padding: 1);

    public Conv2d Conv { get; }

    public Tensor Forward(Tensor x) => Conv.Forward(x);
}

/// <summary>diffusers' Upsample2D with a convolution: nearest ×2 (or to an explicit size), then 3×3.</summary>
[PatchParallel]
public sealed partial class Upsample2D : Module
{
    public Upsample2D(int channels) => Conv = new Conv2d(channels, channels, 3, padding: 1);

    public Conv2d Conv { get; }

    /// <param name="outputSize">The skip's (H, W) when the input was not divisible; else ×2.</param>
    public Tensor Forward(Tensor x, (int Height, int Width)? outputSize = null)
    {
        var (h, w) = outputSize ?? (x.Dim(2) * 2, x.Dim(3) * 2);
        using var up = Ops.UpsampleNearest(x, h, w);
        return Conv.Forward(up);
    }
}

/// <summary>diffusers' TimestepEmbedding: linear_1 → SiLU → linear_2.</summary>
[PatchParallel]
public sealed partial class TimestepEmbedding : Module
{
    public TimestepEmbedding(int inChannels, int timeEmbedDim)
    {
        Linear1 = new Linear(inChannels, timeEmbedDim);
        Linear2 = new Linear(timeEmbedDim, timeEmbedDim);
    }

    [StateName("linear_1")]
    public Linear Linear1 { get; }

    [StateName("linear_2")]
    public Linear Linear2 { get; }

    public Tensor Forward(Tensor x)
    {
        using var h = Linear1.Forward(x);
        using var a = Ops.Silu(h);
        return Linear2.Forward(a);
    }
}

using DistriGen.Runtime;
using DistriGen.Tensors;
using DistriGen.Tensors.Nn;
using DistriGen.Tensors.Ops;

namespace DistriGen.Models;

/// <summary>diffusers' ResnetBlock2D (time_scale_shift "default"): GN→SiLU→conv, + time projection, GN→SiLU→conv, + shortcut.</summary>
[PatchParallel]
public sealed partial class ResnetBlock2D : Module
{
    public ResnetBlock2D(int inChannels, int outChannels, int? tembChannels, int groups, float eps, float outputScaleFactor = 1f)
    {
        Norm1 = new GroupNorm(groups, inChannels, eps);
        Conv1 = new Conv2d(inChannels, outChannels, 3, padding: 1);
        TimeEmbProj = tembChannels is { } t ? new Linear(t, outChannels) : null;
        Norm2 = new GroupNorm(groups, outChannels, eps);
        Conv2 = new Conv2d(outChannels, outChannels, 3, padding: 1);
        ConvShortcut = inChannels != outChannels ? new Conv2d(inChannels, outChannels, 1) : null;
        OutputScaleFactor = outputScaleFactor;
    }

    public GroupNorm Norm1 { get; }
    public Conv2d Conv1 { get; }
    public Linear? TimeEmbProj { get; }
    public GroupNorm Norm2 { get; }
    public Conv2d Conv2 { get; }
    public Conv2d? ConvShortcut { get; }
    public float OutputScaleFactor { get; }

    /// <param name="x">(B, Cin, H, W).</param>
    /// <param name="activatedTemb">SiLU of the time embedding (B, T), or null for blocks without one.</param>
    public Tensor Forward(Tensor x, Tensor? activatedTemb)
    {
        Tensor h;
        using (var normed = Norm1.Forward(x, Activation.Silu)) h = Conv1.Forward(normed);
        if (TimeEmbProj is not null && activatedTemb is not null)
        {
            using var t = TimeEmbProj.Forward(activatedTemb);
            Ops.AddPerChannel(h, t);
        }
        Tensor output;
        using (h)
        using (var normed = Norm2.Forward(h, Activation.Silu))
            output = Conv2.Forward(normed);
        if (ConvShortcut is not null)
        {
            using var shortcut = ConvShortcut.Forward(x);
            Ops.AddInPlace(output, shortcut);
        }
        else
        {
            Ops.AddInPlace(output, x);
        }
        if (OutputScaleFactor != 1f) Ops.DivideInPlace(output, OutputScaleFactor);
        return output;
    }
}

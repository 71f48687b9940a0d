using System.Numerics.Tensors;

namespace DistriGen.Tensors.Ops;

public static partial class Ops
{
    public static Tensor Add(Tensor a, Tensor b)
    {
        Shapes.Equal(a, b, "add");
        if (Tensor.AnyMeta(a, b)) return Tensor.Meta(a.Shape);
        if (KernelsOf("add", a, b) is { } device) return device.Add(a, b);
        var y = Tensor.HostEmpty(a.Shape);
        using var _ = OpProfiler.Measure(OpCategory.Elementwise, a.Length);
        TensorPrimitives.Add(a.Span, b.Span, y.Span);
        return y;
    }

    /// <summary>a += b, for residual connections whose left side is no longer needed.</summary>
    public static Tensor AddInPlace(Tensor a, Tensor b)
    {
        Shapes.Equal(a, b, "add");
        if (Tensor.AnyMeta(a, b)) return a;
        if (KernelsOf("add", a, b) is { } device)
        {
            device.AddInPlace(a, b);
            return a;
        }
        using var _ = OpProfiler.Measure(OpCategory.Elementwise, a.Length);
        TensorPrimitives.Add(a.Span, b.Span, a.Span);
        return a;
    }

    public static Tensor Subtract(Tensor a, Tensor b)
    {
        Shapes.Equal(a, b, "subtract");
        if (Tensor.AnyMeta(a, b)) return Tensor.Meta(a.Shape);
        if (KernelsOf("subtract", a, b) is { } device) return device.Subtract(a, b);
        var y = Tensor.HostEmpty(a.Shape);
        TensorPrimitives.Subtract(a.Span, b.Span, y.Span);
        return y;
    }

    public static Tensor Multiply(Tensor a, float s)
    {
        if (a.IsMeta) return Tensor.Meta(a.Shape);
        if (KernelsOf("multiply", a) is { } device) return device.Multiply(a, s);
        var y = Tensor.HostEmpty(a.Shape);
        TensorPrimitives.Multiply(a.Span, s, y.Span);
        return y;
    }

    /// <summary>a · sa + b · sb.</summary>
    public static Tensor AddScaled(Tensor a, float sa, Tensor b, float sb)
    {
        Shapes.Equal(a, b, "add_scaled");
        if (Tensor.AnyMeta(a, b)) return Tensor.Meta(a.Shape);
        if (KernelsOf("add_scaled", a, b) is { } device) return device.AddScaled(a, sa, b, sb);
        var y = Tensor.HostEmpty(a.Shape);
        var ys = y.Span;
        TensorPrimitives.Multiply(a.Span, sa, ys);
        TensorPrimitives.MultiplyAdd(b.Span, sb, ys, ys);
        return y;
    }

    /// <summary>Adds bias[c] to every pixel of channel c of an NCHW tensor, in place.</summary>
    public static void AddChannelBias(Tensor x, Tensor bias)
    {
        Shapes.Check(x.Rank >= 2 && bias.Length == x.Dim(1), "add_channel_bias", () => $"bias {Tensor.Format(bias.Shape)} does not match the channels of {Tensor.Format(x.Shape)}.");
        if (Tensor.AnyMeta(x, bias)) return;
        if (KernelsOf("add_channel_bias", x, bias) is { } device)
        {
            device.AddChannelBias(x, bias);
            return;
        }
        int batch = x.Dim(0), channels = x.Dim(1), hw = x.Length / (batch * channels);
        var xs = x.Buffer;
        var bs = bias.Span;
        for (int b = 0; b < batch; b++)
            for (int c = 0; c < channels; c++)
            {
                var plane = new Span<float>(xs, (b * channels + c) * hw, hw);
                TensorPrimitives.Add(plane, bs[c], plane);
            }
    }

    /// <summary>Adds v[b, c] to every pixel of x[b, c] (x: NCHW, v: (B, C)), in place.</summary>
    public static void AddPerChannel(Tensor x, Tensor v)
    {
        Shapes.Check(v.Rank == 2 && v.Dim(0) == x.Dim(0) && v.Dim(1) == x.Dim(1), "add_per_channel", () => $"{Tensor.Format(v.Shape)} does not broadcast over {Tensor.Format(x.Shape)}.");
        if (Tensor.AnyMeta(x, v)) return;
        if (KernelsOf("add_per_channel", x, v) is { } device)
        {
            device.AddPerChannel(x, v);
            return;
        }
        int batch = x.Dim(0), channels = x.Dim(1), hw = x.Length / (batch * channels);
        var xs = x.Buffer;
        var vs = v.Span;
        for (int bc = 0; bc < batch * channels; bc++)
        {
            var plane = new Span<float>(xs, bc * hw, hw);
            TensorPrimitives.Add(plane, vs[bc], plane);
        }
    }

    public static void Clamp(Tensor x, float min, float max)
    {
        if (x.IsMeta) return;
        if (KernelsOf("clamp", x) is { } device)
        {
            device.Clamp(x, min, max);
            return;
        }
        TensorPrimitives.Clamp(x.Span, min, max, x.Span);
    }

    /// <summary>a /= s, in place (a division, as diffusers writes it, not a multiplication by 1/s).</summary>
    public static void DivideInPlace(Tensor a, float s)
    {
        if (a.IsMeta) return;
        if (KernelsOf("divide", a) is { } device)
        {
            device.DivideInPlace(a, s);
            return;
        }
        TensorPrimitives.Divide(a.Span, s, a.Span);
    }

    /// <summary>The mean and the unbiased standard deviation (torch.std) of every value, in double.</summary>
    public static (double Mean, double StandardDeviation) Moments(Tensor x)
    {
        Shapes.Check(x.Length > 1 && !x.IsMeta, "moments", () => $"{Tensor.Format(x.Shape)} has fewer than two values or none at all.");
        if (KernelsOf("moments", x) is { } device) return device.Moments(x);
        var values = x.Span;
        double mean = 0;
        foreach (var v in values) mean += v;
        mean /= values.Length;
        double sq = 0;
        foreach (var v in values) sq += (v - mean) * (v - mean);
        return (mean, Math.Sqrt(sq / (values.Length - 1)));
    }
}

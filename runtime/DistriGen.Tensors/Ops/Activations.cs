using System.Numerics.Tensors;
using DistriGen.Tensors.Compute;

namespace DistriGen.Tensors.Ops;

public static partial class Ops
{
    public static Tensor Silu(Tensor x)
    {
        if (x.IsMeta) return Tensor.Meta(x.Shape);
        if (KernelsOf("silu", x) is { } device) return device.Silu(x);
        var y = Tensor.HostEmpty(x.Shape);
        using var _ = OpProfiler.Measure(OpCategory.Elementwise, 4L * x.Length);
        x.Span.CopyTo(y.Span);
        ParallelChunks(y.Buffer, y.Length, chunk => VectorMath.ScaleShiftSilu(chunk, 1f, 0f, chunk));
        return y;
    }

    /// <summary>x · sigmoid(1.702 · x), the "quick_gelu" of CLIP's text encoders.</summary>
    public static Tensor QuickGelu(Tensor x)
    {
        if (x.IsMeta) return Tensor.Meta(x.Shape);
        if (KernelsOf("quick_gelu", x) is { } device) return device.QuickGelu(x);
        var y = Tensor.HostEmpty(x.Shape);
        using var _ = OpProfiler.Measure(OpCategory.Elementwise, 5L * x.Length);
        TensorPrimitives.Multiply(x.Span, 1.702f, y.Span);
        TensorPrimitives.Sigmoid(y.Span, y.Span);
        TensorPrimitives.Multiply(y.Span, x.Span, y.Span);
        return y;
    }

    /// <summary>GELU with the exact error function, as torch's default.</summary>
    public static Tensor Gelu(Tensor x)
    {
        if (x.IsMeta) return Tensor.Meta(x.Shape);
        if (KernelsOf("gelu", x) is { } device) return device.Gelu(x);
        var y = Tensor.HostEmpty(x.Shape);
        using var _ = OpProfiler.Measure(OpCategory.Elementwise, 20L * y.Length);
        x.Span.CopyTo(y.Span);
        ParallelChunks(y.Buffer, y.Length, chunk => VectorMath.Gelu(chunk, default, chunk));
        return y;
    }

    /// <summary>GEGLU: splits the last axis into (hidden, gate) halves and returns hidden · gelu(gate).</summary>
    public static Tensor Geglu(Tensor x)
    {
        int twoF = x.Dim(-1);
        Shapes.Check(twoF % 2 == 0, "geglu", () => $"the last axis of {Tensor.Format(x.Shape)} must be even.");
        int f = twoF / 2;
        var shape = (int[])x.Shape.Clone();
        shape[^1] = f;
        if (x.IsMeta) return Tensor.Meta(shape);
        if (KernelsOf("geglu", x) is { } device) return device.Geglu(x);
        var y = Tensor.HostEmpty(shape);
        using var _ = OpProfiler.Measure(OpCategory.Elementwise, 20L * y.Length);
        int rows = x.Length / twoF;
        var xd = x.Buffer;
        var yd = y.Buffer;
        ComputeThreads.For((rows + 15) / 16, ComputeThreads.Current, chunk =>
        {
            for (int r = chunk * 16; r < Math.Min(rows, chunk * 16 + 16); r++)
            {
                var hidden = new ReadOnlySpan<float>(xd, r * twoF, f);
                var gate = new ReadOnlySpan<float>(xd, r * twoF + f, f);
                VectorMath.Gelu(gate, hidden, new Span<float>(yd, r * f, f));
            }
        });
        return y;
    }


    /// <summary>The error function to float precision (W. J. Cody's rational approximations, in double).</summary>
    internal static float Erf(float xf)
    {
        double x = xf, ax = Math.Abs(x);
        double r;
        if (ax < 0.5)
        {
            double t = x * x;
            double num = (((0.185777706184603153 * t + 3.16112374387056560) * t + 113.864154151050156) * t + 377.485237685302021) * t + 3209.37758913846947;
            double den = (((t + 23.6012909523441209) * t + 244.024637934444173) * t + 1282.61652607737228) * t + 2844.23683343917062;
            return (float)(x * num / den);
        }
        if (ax < 4.0)
        {
            double num = (((((((2.56852019228982242e-8 * ax + 0.564188496988670089) * ax + 8.88314979438837594) * ax + 66.1191906371416295) * ax + 298.635138197400131) * ax + 881.952221241769090) * ax + 1712.04761263407058) * ax + 2051.07837782607147) * ax + 1230.33935479799725;
            double den = (((((((ax + 15.7449261107098347) * ax + 117.693950891312499) * ax + 537.181101862009858) * ax + 1621.38957456669019) * ax + 3290.79923573345963) * ax + 4362.61909014324716) * ax + 3439.36767414372164) * ax + 1230.33935480374942;
            r = 1.0 - Math.Exp(-ax * ax) * num / den;
        }
        else
        {
            r = 1.0;
        }
        return (float)(x < 0 ? -r : r);
    }

    private static void ParallelChunks(float[] data, int length, SpanAction action)
    {
        const int Chunk = 1 << 14;
        ComputeThreads.For((length + Chunk - 1) / Chunk, ComputeThreads.Current, i =>
            action(new Span<float>(data, i * Chunk, Math.Min(Chunk, length - i * Chunk))));
    }

    private delegate void SpanAction(Span<float> span);
}

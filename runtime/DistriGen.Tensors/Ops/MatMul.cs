using DistriGen.Tensors.Compute;

namespace DistriGen.Tensors.Ops;

public static partial class Ops
{
    /// <summary>a (M, K) · b (K, N), or batched (B, M, K) · (B, K, N).</summary>
    public static unsafe Tensor MatMul(Tensor a, Tensor b)
    {
        const string op = "matmul";
        bool batched = a.Rank == 3;
        Shapes.Check(a.Rank is 2 or 3 && b.Rank == a.Rank, op, () => $"expects two rank-2 or two rank-3 tensors, got {Tensor.Format(a.Shape)} and {Tensor.Format(b.Shape)}.");
        int batch = batched ? a.Dim(0) : 1;
        int m = a.Dim(-2), k = a.Dim(-1), n = b.Dim(-1);
        Shapes.Check(b.Dim(-2) == k && (!batched || b.Dim(0) == batch), op, () => $"inner dimensions of {Tensor.Format(a.Shape)} and {Tensor.Format(b.Shape)} do not match.");
        int[] shape = batched ? [batch, m, n] : [m, n];
        if (Tensor.AnyMeta(a, b)) return Tensor.Meta(shape);
        if (KernelsOf(op, a, b) is { } device) return device.MatMul(a, b);
        var y = Tensor.HostEmpty(shape);
        using var _ = OpProfiler.Measure(OpCategory.MatMul, 2L * batch * m * n * k);
        fixed (float* pa = a.Span, pb = b.Span, py = y.Span)
            for (int i = 0; i < batch; i++)
                ComputeBackends.Current.Gemm(m, n, k, pa + (long)i * m * k, k, pb + (long)i * k * n, n, py + (long)i * m * n, n, false, ComputeThreads.Current);
        return y;
    }

    /// <summary>
    /// x (..., K) · weightT (K, N) + bias (N). Linear layers keep their weight transposed so that the
    /// product is the plain row-major form every backend runs fastest.
    /// </summary>
    public static unsafe Tensor Linear(Tensor x, Tensor weightT, Tensor? bias)
    {
        int k = x.Dim(-1);
        Shapes.Check(weightT.Rank == 2 && weightT.Dim(0) == k, "linear", () => $"input {Tensor.Format(x.Shape)} has {k} features but the transposed weight {Tensor.Format(weightT.Shape)} takes {weightT.Dim(0)}.");
        return LinearProduct(x, weightT, weightT.Dim(1), bias, static (m, n, k, px, pw, py) =>
            ComputeBackends.Current.Gemm(m, n, k, px, k, pw, n, py, n, false, ComputeThreads.Current));
    }

    /// <summary>
    /// x (..., K) · weight (N, K)ᵀ + bias (N) with the weight as stored: on a device by its kernels, on
    /// the host by a backend that multiplies by a transposed matrix directly (<paramref name="backend"/>).
    /// </summary>
    public static unsafe Tensor LinearTransposed(Tensor x, Tensor weight, Tensor? bias, ITransposedGemmBackend? backend)
    {
        int k = x.Dim(-1);
        Shapes.Check(weight.Rank == 2 && weight.Dim(1) == k, "linear",
            () => $"input {Tensor.Format(x.Shape)} has {k} features but the weight {Tensor.Format(weight.Shape)} takes {weight.Dim(1)}.");
        if (!Tensor.AnyMeta(x, weight, bias) && KernelsOf("linear", x, weight, bias) is { } device)
        {
            Shapes.Check(bias is null || bias.Length == weight.Dim(0), "linear",
                () => $"bias {Tensor.Format(bias!.Shape)} does not match the weight {Tensor.Format(weight.Shape)}.");
            return device.Linear(x, weight, bias);
        }
        if (backend is null && !Tensor.AnyMeta(x, weight, bias))
            throw new InvalidOperationException("linear: a host weight needs a backend that multiplies by a transposed matrix.");
        return LinearProduct(x, weight, weight.Dim(0), bias, (m, n, k, px, pw, py) =>
        {
            if (backend is ILinearBackend whole && whole.TryLinear(px, m, k, weight, pw, n, py,
                ComputeThreads.Current)) return;
            backend!.GemmTransposedB(m, n, k, px, k, pw, k, py, n, ComputeThreads.Current);
        });
    }

    private unsafe delegate void Product(int m, int n, int k, float* x, float* weight, float* y);

    /// <summary>The part both linear forms share: output shape, bias check, meta, the product, the bias.</summary>
    private static unsafe Tensor LinearProduct(Tensor x, Tensor weight, int n, Tensor? bias, Product product)
    {
        Shapes.Check(bias is null || bias.Length == n, "linear", () => $"bias {Tensor.Format(bias!.Shape)} of a layer applied to {Tensor.Format(x.Shape)} does not match the weight {Tensor.Format(weight.Shape)}.");
        var shape = (int[])x.Shape.Clone();
        shape[^1] = n;
        if (Tensor.AnyMeta(x, weight, bias)) return Tensor.Meta(shape);
        var y = Tensor.HostEmpty(shape);
        int k = x.Dim(-1), m = x.Length / Math.Max(k, 1);
        using (OpProfiler.Measure(OpCategory.MatMul, 2L * m * n * k))
        fixed (float* px = x.Span, pw = weight.Span, py = y.Span)
            product(m, n, k, px, pw, py);
        if (bias is not null)
        {
            var ys = y.Span;
            var bs = bias.Span;
            for (int i = 0; i < m; i++) System.Numerics.Tensors.TensorPrimitives.Add(ys.Slice(i * n, n), bs, ys.Slice(i * n, n));
        }
        return y;
    }

    /// <summary>The transpose of a rank-2 tensor.</summary>
    public static Tensor Transpose2d(Tensor x)
    {
        Shapes.Rank(x, 2, "transpose", "input");
        int r = x.Dim(0), c = x.Dim(1);
        if (x.IsMeta) return Tensor.Meta(c, r);
        var y = Tensor.Derived(c, r);
        var xs = x.Span;
        var ys = y.Span;
        for (int i = 0; i < r; i++)
            for (int j = 0; j < c; j++)
                ys[j * r + i] = xs[i * c + j];
        return y;
    }
}

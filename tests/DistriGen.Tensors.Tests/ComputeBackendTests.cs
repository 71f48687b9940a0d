using DistriGen.Tensors.Compute;
using DistriGen.Tensors.Ops;
using TensorOps = DistriGen.Tensors.Ops.Ops;

namespace DistriGen.Tensors.Tests;

/// <summary>
/// The GEMM-based ops on each compute backend (managed always, OpenBLAS when installed), backend
/// selection, and per-thread thread budgets. The backend is process-wide, so these tests run alone.
/// </summary>
[Collection(GlobalStateCollection.Name)]
public class ComputeBackendTests
{
    public static TheoryData<string> BackendNames => Backends.Names;

    [Theory]
    [MemberData(nameof(BackendNames))]
    public void Conv2d_matches_reference_on_backend(string backend) => Backends.On(backend, () =>
    {
        Conv2dTests.AssertMatchesReference(1, 3, 5, 7, 9, 3, 3, 1, Padding2d.Same(1), true);
        Conv2dTests.AssertMatchesReference(2, 17, 33, 6, 5, 3, 3, 2, new Padding2d(0, 1, 0, 1), false);
        Conv2dTests.AssertMatchesReference(1, 5, 7, 6, 4, 3, 3, 1, new Padding2d(2, 0, 1, 3), true);
        Conv2dTests.AssertMatchesReference(1, 33, 36, 5, 7, 1, 1, 1, default, true);
        Conv2dTests.AssertMatchesReference(1, 33, 36, 1, 70, 3, 3, 1, Padding2d.Same(1), true);
    });

    [Theory]
    [MemberData(nameof(BackendNames))]
    public void MatMul_matches_reference_on_backend(string backend) => Backends.On(backend, () =>
    {
        MatMulTests.AssertMatMul(1, 7, 5);
        MatMulTests.AssertMatMul(3, 17, 33);
        MatMulTests.AssertMatMul(130, 19, 40);
        MatMulTests.AssertMatMul(4, 300, 70);
        MatMulTests.AssertBatchedMatMul(3, 5, 17, 6);
    });

    [Theory]
    [MemberData(nameof(BackendNames))]
    public void Linear_matches_reference_on_backend(string backend) => Backends.On(backend, () =>
    {
        LinearTests.AssertLinear([1], 5, 3, true);
        LinearTests.AssertLinear([2, 65], 40, 5, true);
        LinearTests.AssertLinear([2, 5], 33, 17, false);
    });

    [Theory]
    [MemberData(nameof(BackendNames))]
    public void Attention_matches_reference_on_backend(string backend) => Backends.On(backend, () =>
    {
        AttentionTests.AssertAttention(1, 2, 5, 7, 9);
        AttentionTests.AssertAttention(2, 3, 5, 130, 600);
        AttentionTests.AssertAttention(1, 2, 40, 130, 600);
        AttentionTests.AssertAttention(1, 3, 5, 65, 513, 4f);
    });

    [Fact]
    public void Winograd_convolution_is_another_algorithm_within_float_tolerance()
    {
        if (Backends.Get("onednn-winograd") is not DnnlBackend { Winograd: true } winograd) return;
        Assert.Equal("oneDNN, Winograd 3×3", winograd.Name);
        // Channels in multiples of 16 and stride 1: a shape oneDNN's Winograd kernel takes.
        using var x = Check.Normal(140, 2, 32, 20, 24);
        using var w = Check.Normal(141, 48, 32, 3, 3);
        using var b = Check.Normal(142, 48);
        // "Same" padding, and a band's: halo rows above and below, so no vertical padding.
        foreach (var padding in new[] { Padding2d.Same(1), new Padding2d(0, 0, 1, 1) })
        {
            var expected = Conv2dTests.Reference(x, w, b, 1, padding);
            float[] Run(string backend)
            {
                float[] result = [];
                Backends.On(backend, () =>
                {
                    using var y = TensorOps.Conv2d(x, w, b, 1, padding);
                    result = y.ToArray();
                });
                return result;
            }
            var viaDirect = Run("onednn");
            var viaWinograd = Run("onednn-winograd");
            Check.Close(expected, viaDirect, what: $"direct, {padding}");
            Check.Close(expected, viaWinograd, rtol: 2e-5, what: $"Winograd, {padding}");
            Assert.False(viaDirect.AsSpan().SequenceEqual(viaWinograd), $"Winograd gave the direct result bit for bit with {padding}: it did not run.");
        }
        Backends.On("managed", () => Assert.True(ComputeBackends.Select("onednn-winograd") is DnnlBackend { Winograd: true }));
    }

    [Fact]
    public void OpenBlas_is_found_or_the_reason_says_why()
    {
        var blas = OpenBlasBackend.TryLoad(out var why);
        if (blas is null) Assert.Contains("OpenBLAS", why);
        else
        {
            Assert.Equal("OpenBLAS", blas.Name);
            Assert.False(string.IsNullOrEmpty(blas.LibraryPath));
            Assert.Equal("", why);
        }
    }

    [Fact]
    public void Select_managed_makes_the_managed_backend_current()
    {
        var previous = ComputeBackends.Current;
        try
        {
            Assert.Same(ManagedBackend.Instance, ComputeBackends.Select("managed"));
            Assert.Same(ManagedBackend.Instance, ComputeBackends.Current);
            Assert.Contains("managed", ComputeBackends.Reason);
            // Names are trimmed and case-insensitive, as from an environment variable.
            Assert.Same(ManagedBackend.Instance, ComputeBackends.Select("  Managed "));
            Assert.StartsWith("managed", ManagedBackend.Instance.Name);
        }
        finally
        {
            ComputeBackends.Current = previous;
        }
    }

    [Fact]
    public void Select_auto_picks_oneDnn_then_OpenBlas_then_managed()
    {
        var previous = ComputeBackends.Current;
        try
        {
            var chosen = ComputeBackends.Select("auto");
            if (DnnlBackend.TryLoad(out _) is not null) Assert.IsType<DnnlBackend>(chosen);
            else if (OpenBlasBackend.TryLoad(out _) is not null) Assert.IsType<OpenBlasBackend>(chosen);
            else Assert.Same(ManagedBackend.Instance, chosen);
            Assert.False(string.IsNullOrEmpty(ComputeBackends.Reason));
        }
        finally
        {
            ComputeBackends.Current = previous;
        }
    }

    [Fact]
    public void Select_openblas_makes_it_current_and_says_why()
    {
        if (OpenBlasBackend.TryLoad(out _) is null) return; // optional library
        var previous = ComputeBackends.Current;
        try
        {
            ComputeBackends.Select("managed");
            var blas = Assert.IsType<OpenBlasBackend>(ComputeBackends.Select("openblas"));
            Assert.Same(blas, ComputeBackends.Current);
            // Reason explains the current backend; it must not still describe the previous choice.
            Assert.DoesNotContain("managed", ComputeBackends.Reason);
        }
        finally
        {
            ComputeBackends.Current = previous;
        }
    }

    [Fact]
    public void Select_unknown_name_throws_a_clear_ArgumentException()
    {
        var previous = ComputeBackends.Current;
        try
        {
            var e = Assert.Throws<ArgumentException>(() => ComputeBackends.Select("bogus"));
            Assert.Contains("'bogus'", e.Message);
            Assert.Contains("managed", e.Message);
            Assert.Contains("openblas", e.Message);
            Assert.Equal("name", e.ParamName);
            Assert.Same(previous, ComputeBackends.Current); // a bad name changes nothing
        }
        finally
        {
            ComputeBackends.Current = previous;
        }
    }

    [Fact]
    public void Current_cannot_be_set_to_null()
    {
        Assert.Throws<ArgumentNullException>(() => ComputeBackends.Current = null!);
    }

    [Fact]
    public void ComputeThreads_Use_sets_the_budget_of_this_thread_only()
    {
        int outside = ComputeThreads.Current;
        int seenByOtherThread = -1;
        using (ComputeThreads.Use(3))
        {
            Assert.Equal(3, ComputeThreads.Current);
            var other = new Thread(() => seenByOtherThread = ComputeThreads.Current);
            other.Start();
            other.Join();
            using (ComputeThreads.Use(1)) Assert.Equal(1, ComputeThreads.Current); // nests
            Assert.Equal(3, ComputeThreads.Current);                               // and restores
        }
        Assert.Equal(ComputeThreads.Default, seenByOtherThread);
        Assert.Equal(outside, ComputeThreads.Current);
        Assert.Throws<ArgumentOutOfRangeException>(() => ComputeThreads.Use(0));
    }

    /// <summary>Runs every threaded op once and returns all outputs, flattened.</summary>
    private static float[] RunAll()
    {
        using var scope = new TensorScope();
        var outputs = new List<float[]>();
        var x = Check.Normal(121, 2, 17, 9, 35);
        var w3 = Check.Normal(122, 33, 17, 3, 3);
        var w1 = Check.Normal(123, 20, 33, 1, 1);
        var bias = Check.Normal(124, 33);
        var conv = TensorOps.Conv2d(x, w3, bias, 1, Padding2d.Same(1));
        outputs.Add(conv.ToArray());
        outputs.Add(TensorOps.Conv2d(conv, w1, null, 1, default).ToArray());
        outputs.Add(TensorOps.Conv2d(x, w3, bias, 2, new Padding2d(0, 1, 0, 1)).ToArray());
        outputs.Add(TensorOps.GroupNorm(conv, 11, Check.Normal(125, 33), Check.Normal(126, 33), 1e-5f, Activation.Silu).ToArray());
        outputs.Add(TensorOps.MatMul(Check.Normal(127, 130, 19), Check.Normal(128, 19, 40)).ToArray());
        outputs.Add(TensorOps.MatMul(Check.Normal(129, 3, 70, 300), Check.Normal(130, 3, 300, 290)).ToArray());
        var tokens = TensorOps.ToTokens(conv);
        outputs.Add(TensorOps.Linear(tokens, Check.Normal(131, 33, 24), Check.Normal(132, 24)).ToArray());
        outputs.Add(TensorOps.LayerNorm(tokens, Check.Normal(133, 33), Check.Normal(134, 33), 1e-5f).ToArray());
        outputs.Add(TensorOps.Attention(Check.Normal(135, 1, 130, 80), Check.Normal(136, 1, 600, 80), Check.Normal(137, 1, 600, 80), 2).ToArray());
        outputs.Add(TensorOps.Geglu(Check.Normal(138, 40, 66)).ToArray());
        outputs.Add(TensorOps.Silu(Check.Normal(139, 3, 20_000)).ToArray());
        outputs.Add(TensorOps.UpsampleNearest(conv, 18, 70).ToArray());
        return outputs.SelectMany(o => o).ToArray();
    }

    [Fact]
    public void Managed_results_with_one_and_two_threads_are_identical() => Backends.On("managed", () =>
    {
        // Each rank may get a different thread budget: on the managed kernels the numbers must not depend on it.
        float[] one, two;
        using (ComputeThreads.Use(1)) one = RunAll();
        using (ComputeThreads.Use(2)) two = RunAll();
        Check.Bitwise(one, two, "managed, 1 vs 2 threads");
    });

    [Fact]
    public void OpenBlas_results_with_one_and_two_threads_agree_to_float_tolerance() => Backends.On("openblas", () =>
    {
        // OpenBLAS splits the product per thread and picks kernels by width, so only closeness is promised.
        float[] one, two;
        using (ComputeThreads.Use(1)) one = RunAll();
        using (ComputeThreads.Use(2)) two = RunAll();
        Check.Close(one.Select(v => (double)v).ToArray(), two, rtol: 1e-5, what: "OpenBLAS, 1 vs 2 threads");
    });
}

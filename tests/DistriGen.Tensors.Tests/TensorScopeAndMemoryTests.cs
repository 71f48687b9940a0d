using DistriGen.Tensors.Ops;
using TensorOps = DistriGen.Tensors.Ops.Ops;

namespace DistriGen.Tensors.Tests;

/// <summary>TensorScope's ownership rules.</summary>
public class TensorScopeTests
{
    [Fact]
    public void Scope_disposes_the_tensors_made_inside_it_only()
    {
        using var before = Tensor.Zeros(3);
        Tensor inside, result;
        using (new TensorScope())
        {
            inside = Tensor.Zeros(4);
            result = TensorOps.Add(before, before);
        }
        Assert.True(inside.IsDisposed);
        Assert.True(result.IsDisposed);
        Assert.False(before.IsDisposed);
        Assert.Throws<ObjectDisposedException>(() => inside.Span.Length);
    }

    [Fact]
    public void Keep_moves_a_tensor_out_of_the_scope()
    {
        Tensor kept, dropped;
        using (new TensorScope())
        {
            kept = Tensor.Full(2f, 3).Keep();
            dropped = Tensor.Full(2f, 3);
        }
        Assert.False(kept.IsDisposed);
        Assert.Equal([2f, 2f, 2f], kept.ToArray());
        Assert.True(dropped.IsDisposed);
        kept.Dispose();
    }

    [Fact]
    public void Keep_in_a_nested_scope_hands_the_tensor_to_the_enclosing_scope()
    {
        Tensor kept;
        using (new TensorScope())
        {
            using (new TensorScope()) kept = Tensor.Zeros(2).Keep();
            Assert.False(kept.IsDisposed); // survived the inner scope
        }
        Assert.True(kept.IsDisposed);      // owned by the outer one
    }

    [Fact]
    public void Scopes_must_close_in_reverse_order()
    {
        // On a thread of its own: a failed close leaves that thread's scope chain as it was.
        Exception? error = null;
        var t = new Thread(() =>
        {
            var outer = new TensorScope();
            var inner = new TensorScope();
            try { outer.Dispose(); }
            catch (Exception e) { error = e; }
            inner.Dispose();
        });
        t.Start();
        t.Join();
        Assert.IsType<InvalidOperationException>(error);
    }

    [Fact]
    public void Views_are_not_owned_by_the_scope()
    {
        using var x = Tensor.Zeros(2, 3);
        Tensor view;
        using (new TensorScope()) view = x.Reshape(3, 2);
        Assert.False(view.IsDisposed);
        Assert.False(x.IsDisposed);
    }

    [Fact]
    public void Scopes_are_per_thread()
    {
        Tensor? other = null;
        using (new TensorScope())
        {
            var t = new Thread(() => other = Tensor.Zeros(2));
            t.Start();
            t.Join();
        }
        Assert.False(other!.IsDisposed);
        other.Dispose();
    }

    [Fact]
    public void Dispose_is_idempotent()
    {
        var t = Tensor.Zeros(5);
        t.Dispose();
        t.Dispose();
        Assert.True(t.IsDisposed);
    }
}

/// <summary>
/// TensorMemory's counters are process-wide, so these run alone: any tensor another test made would
/// show up in LiveBytes.
/// </summary>
[Collection(GlobalStateCollection.Name)]
public class TensorMemoryTests
{
    /// <summary>One scoped "denoising step": conv, norm, attention, MLP and residuals, like a UNet block.</summary>
    private static void Step(Tensor latent, Tensor w1, Tensor w2, Tensor gamma, Tensor beta, Tensor wq)
    {
        using var scope = new TensorScope();
        var h = TensorOps.Conv2d(latent, w1, null, 1, Padding2d.Same(1));
        h = TensorOps.GroupNorm(h, 4, gamma, beta, 1e-5f, Activation.Silu);
        var tokens = TensorOps.ToTokens(h);
        var q = TensorOps.Linear(tokens, wq, null);
        var a = TensorOps.Attention(q, q, q, 2);
        TensorOps.AddInPlace(a, tokens);
        var back = TensorOps.FromTokens(a, latent.Dim(2), latent.Dim(3));
        var up = TensorOps.UpsampleNearest(back, latent.Dim(2) * 2, latent.Dim(3) * 2);
        var down = TensorOps.Conv2d(up, w2, null, 2, new Padding2d(0, 1, 0, 1));
        TensorOps.Geglu(TensorOps.ConcatChannels(down, down));
    }

    [Fact]
    public void Scoped_loop_does_not_grow_live_bytes_after_warm_up()
    {
        using var latent = Check.Normal(151, 1, 8, 12, 10);
        using var w1 = Check.Normal(152, 8, 8, 3, 3);
        using var w2 = Check.Normal(153, 8, 8, 3, 3);
        using var gamma = Check.Normal(154, 8);
        using var beta = Check.Normal(155, 8);
        using var wq = Check.Normal(156, 8, 8);
        Step(latent, w1, w2, gamma, beta, wq); // warm up: fills the pool with each size once
        long live = TensorMemory.LiveBytes;
        TensorMemory.ResetPeak();
        for (int i = 0; i < 5; i++) Step(latent, w1, w2, gamma, beta, wq);
        Assert.Equal(live, TensorMemory.LiveBytes);
        // Intermediates were live during the steps, and all went back.
        Assert.True(TensorMemory.PeakLiveBytes > live);
    }

    [Fact]
    public void Disposed_tensors_return_their_bytes_and_memory_is_reused()
    {
        long live = TensorMemory.LiveBytes;
        var a = Tensor.Empty(1000);
        Assert.Equal(live + 4000, TensorMemory.LiveBytes);
        a.Span[0] = 42f;
        a.Dispose();
        Assert.Equal(live, TensorMemory.LiveBytes);
        using var b = Tensor.Zeros(1000); // same length: comes from the pool, and Zeros clears it
        Assert.All(b.ToArray(), v => Assert.Equal(0f, v));
    }

    [Fact]
    public void Generations_at_changing_sizes_keep_only_what_the_last_one_used()
    {
        TensorMemory.Trim();
        for (int size = 1000; size < 1020; size++)
        {
            // One "generation" at this size: its tensors return to the pool, then the epoch ends.
            Tensor.Zeros(size).Dispose();
            Tensor.Zeros(2 * size).Dispose();
            TensorMemory.TrimUnused();
            Assert.True(TensorMemory.PooledBytes <= 4L * 3 * size, $"{TensorMemory.PooledBytes} bytes pooled after the generation at size {size}");
        }
        TensorMemory.TrimUnused();
        Assert.Equal(0, TensorMemory.PooledBytes);
    }
}

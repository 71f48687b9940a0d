using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace DistriGen.Tensors.Compute;

/// <summary>
/// Matrix products in C# with Vector512 (or Vector256) registers: 4-row by 2-vector register tiles,
/// K blocked so the B panel stays in cache, work split over column blocks across threads. Each output
/// element is summed over K in the same order however the work is split, so a band of rows gives
/// exactly the numbers the whole image gives.
/// </summary>
public sealed class ManagedBackend : IComputeBackend
{
    public static ManagedBackend Instance { get; } = new();

    private const int KBlock = 256;

    public string Name => Vector512.IsHardwareAccelerated ? "managed (AVX-512)" : Vector256.IsHardwareAccelerated ? "managed (AVX2)" : "managed (scalar)";

    public unsafe void Gemm(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, int threads)
    {
        if (m == 0 || n == 0) return;
        if (!accumulate)
            for (int i = 0; i < m; i++) new Span<float>(c + (long)i * ldc, n).Clear();
        if (k == 0) return;

        int width = Vector512.IsHardwareAccelerated ? 32 : 16;
        int colBlock = Math.Max(width, 256 / width * width);
        int colBlocks = (n + colBlock - 1) / colBlock;
        int rowBlock = m;
        int rowBlocks = 1;
        // Few columns but many rows (e.g. attention's P·V with head size 40): split rows instead.
        if (colBlocks < threads && m >= 64)
        {
            rowBlocks = Math.Min(threads * 4, (m + 31) / 32);
            rowBlock = (m + rowBlocks - 1) / rowBlocks;
            rowBlocks = (m + rowBlock - 1) / rowBlock;
        }

        nint pa = (nint)a, pb = (nint)b, pc = (nint)c;
        ComputeThreads.For(colBlocks * rowBlocks, threads, job =>
        {
            int cb = job % colBlocks, rb = job / colBlocks;
            int j0 = cb * colBlock, j1 = Math.Min(n, j0 + colBlock);
            int i0 = rb * rowBlock, i1 = Math.Min(m, i0 + rowBlock);
            for (int k0 = 0; k0 < k; k0 += KBlock)
            {
                int kc = Math.Min(KBlock, k - k0);
                Block((float*)pa + k0, lda, (float*)pb + (long)k0 * ldb, ldb, (float*)pc, ldc, i0, i1, j0, j1, kc);
            }
        });
    }

    private static unsafe void Block(float* a, int lda, float* b, int ldb, float* c, int ldc, int i0, int i1, int j0, int j1, int kc)
    {
        int j = j0;
        if (Vector512.IsHardwareAccelerated)
        {
            for (; j + 32 <= j1; j += 32)
            {
                int i = i0;
                for (; i + 4 <= i1; i += 4) Tile512x4(a + (long)i * lda, lda, b + j, ldb, c + (long)i * ldc + j, ldc, kc);
                for (; i < i1; i++) Tile512x1(a + (long)i * lda, b + j, ldb, c + (long)i * ldc + j, kc);
            }
        }
        for (; j + 16 <= j1; j += 16)
        {
            int i = i0;
            for (; i + 4 <= i1; i += 4) Tile256x4(a + (long)i * lda, lda, b + j, ldb, c + (long)i * ldc + j, ldc, kc);
            for (; i < i1; i++) Tile256x1(a + (long)i * lda, b + j, ldb, c + (long)i * ldc + j, kc);
        }
        for (; j < j1; j++)
            for (int i = i0; i < i1; i++)
            {
                // Fused multiply-add into C, as the vector tiles do, so every column rounds alike.
                float* ai = a + (long)i * lda;
                float s = c[(long)i * ldc + j];
                for (int p = 0; p < kc; p++) s = MathF.FusedMultiplyAdd(ai[p], b[(long)p * ldb + j], s);
                c[(long)i * ldc + j] = s;
            }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Tile512x4(float* a, int lda, float* b, int ldb, float* c, int ldc, int kc)
    {
        float* c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        var c00 = Vector512.Load(c); var c01 = Vector512.Load(c + 16);
        var c10 = Vector512.Load(c1); var c11 = Vector512.Load(c1 + 16);
        var c20 = Vector512.Load(c2); var c21 = Vector512.Load(c2 + 16);
        var c30 = Vector512.Load(c3); var c31 = Vector512.Load(c3 + 16);
        float* a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda;
        for (int p = 0; p < kc; p++)
        {
            float* bp = b + (long)p * ldb;
            var b0 = Vector512.Load(bp); var b1 = Vector512.Load(bp + 16);
            var x = Vector512.Create(a[p]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a1[p]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a2[p]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a3[p]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
        }
        c00.Store(c); c01.Store(c + 16);
        c10.Store(c1); c11.Store(c1 + 16);
        c20.Store(c2); c21.Store(c2 + 16);
        c30.Store(c3); c31.Store(c3 + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Tile512x1(float* a, float* b, int ldb, float* c, int kc)
    {
        var c0 = Vector512.Load(c); var c1 = Vector512.Load(c + 16);
        for (int p = 0; p < kc; p++)
        {
            float* bp = b + (long)p * ldb;
            var x = Vector512.Create(a[p]);
            c0 = Vector512.FusedMultiplyAdd(x, Vector512.Load(bp), c0);
            c1 = Vector512.FusedMultiplyAdd(x, Vector512.Load(bp + 16), c1);
        }
        c0.Store(c); c1.Store(c + 16);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Tile256x4(float* a, int lda, float* b, int ldb, float* c, int ldc, int kc)
    {
        float* c1 = c + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        var c00 = Vector256.Load(c); var c01 = Vector256.Load(c + 8);
        var c10 = Vector256.Load(c1); var c11 = Vector256.Load(c1 + 8);
        var c20 = Vector256.Load(c2); var c21 = Vector256.Load(c2 + 8);
        var c30 = Vector256.Load(c3); var c31 = Vector256.Load(c3 + 8);
        float* a1 = a + lda, a2 = a1 + lda, a3 = a2 + lda;
        for (int p = 0; p < kc; p++)
        {
            float* bp = b + (long)p * ldb;
            var b0 = Vector256.Load(bp); var b1 = Vector256.Load(bp + 8);
            var x = Vector256.Create(a[p]);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a1[p]);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a2[p]);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a3[p]);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
        }
        c00.Store(c); c01.Store(c + 8);
        c10.Store(c1); c11.Store(c1 + 8);
        c20.Store(c2); c21.Store(c2 + 8);
        c30.Store(c3); c31.Store(c3 + 8);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void Tile256x1(float* a, float* b, int ldb, float* c, int kc)
    {
        var c0 = Vector256.Load(c); var c1 = Vector256.Load(c + 8);
        for (int p = 0; p < kc; p++)
        {
            float* bp = b + (long)p * ldb;
            var x = Vector256.Create(a[p]);
            c0 = Vector256.FusedMultiplyAdd(x, Vector256.Load(bp), c0);
            c1 = Vector256.FusedMultiplyAdd(x, Vector256.Load(bp + 8), c1);
        }
        c0.Store(c); c1.Store(c + 8);
    }
}

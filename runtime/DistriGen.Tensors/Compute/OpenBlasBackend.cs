using System.Runtime.InteropServices;

namespace DistriGen.Tensors.Compute;

/// <summary>
/// Matrix products through OpenBLAS's cblas_sgemm, loaded at run time. OpenBLAS is kept at one thread
/// and the work is split over column blocks here, so each rank's thread budget holds.
/// </summary>
public sealed unsafe class OpenBlasBackend : IComputeBackend, ITransposedGemmBackend
{
    private static readonly string[] LibraryNames = ["libopenblas.so.0", "libopenblas.so", "openblas", "libopenblas.dylib"];

    private readonly delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void> _sgemm;

    private OpenBlasBackend(nint library, string path)
    {
        _sgemm = (delegate* unmanaged<int, int, int, int, int, int, float, float*, int, float*, int, float, float*, int, void>)NativeLibrary.GetExport(library, "cblas_sgemm");
        if (NativeLibrary.TryGetExport(library, "openblas_set_num_threads", out var setThreads))
            ((delegate* unmanaged<int, void>)setThreads)(1);
        LibraryPath = path;
    }

    public string LibraryPath { get; }

    public string Name => "OpenBLAS";

    /// <summary>Loads OpenBLAS if the machine has it; null otherwise (with the reason in <paramref name="why"/>).</summary>
    public static OpenBlasBackend? TryLoad(out string why)
    {
        foreach (var name in LibraryNames)
        {
            if (!NativeLibrary.TryLoad(name, typeof(OpenBlasBackend).Assembly, null, out var handle)) continue;
            if (!NativeLibrary.TryGetExport(handle, "cblas_sgemm", out _)) continue;
            why = "";
            return new OpenBlasBackend(handle, name);
        }
        why = "OpenBLAS (libopenblas.so.0) is not installed";
        return null;
    }

    public void GemmTransposedB(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, int threads)
    {
        const int RowMajor = 101, NoTrans = 111, Trans = 112;
        if (EmptyProducts.Handled(m, n, k, c, ldc, accumulate: false)) return;
        // Rows of the output (tokens) are split over the threads; each part reads all of B.
        int parts = Math.Max(1, Math.Min(threads, m / 16));
        nint pa = (nint)a, pb = (nint)b, pc = (nint)c;
        var sgemm = _sgemm;
        ComputeThreads.For(parts, parts, part =>
        {
            int chunk = (m + parts - 1) / parts;
            int i0 = part * chunk, rows = Math.Min(m, i0 + chunk) - i0;
            if (rows > 0) sgemm(RowMajor, NoTrans, Trans, rows, n, k, 1f, (float*)pa + (long)i0 * lda, lda, (float*)pb, ldb, 0f, (float*)pc + (long)i0 * ldc, ldc);
        });
    }

    public void Gemm(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, int threads)
    {
        const int RowMajor = 101, NoTrans = 111;
        float beta = accumulate ? 1f : 0f;
        if (EmptyProducts.Handled(m, n, k, c, ldc, accumulate)) return;
        // Split the larger of the two output dimensions into one piece per thread.
        int parts = Math.Max(1, Math.Min(threads, Math.Max(m, n) / 32));
        bool splitColumns = n >= m;
        nint pa = (nint)a, pb = (nint)b, pc = (nint)c;
        var sgemm = _sgemm;
        ComputeThreads.For(parts, parts, part =>
        {
            if (splitColumns)
            {
                int chunk = (n + parts - 1) / parts;
                int j0 = part * chunk, cols = Math.Min(n, j0 + chunk) - j0;
                if (cols > 0) sgemm(RowMajor, NoTrans, NoTrans, m, cols, k, 1f, (float*)pa, lda, (float*)pb + j0, ldb, beta, (float*)pc + j0, ldc);
            }
            else
            {
                int chunk = (m + parts - 1) / parts;
                int i0 = part * chunk, rows = Math.Min(m, i0 + chunk) - i0;
                if (rows > 0) sgemm(RowMajor, NoTrans, NoTrans, rows, n, k, 1f, (float*)pa + (long)i0 * lda, lda, (float*)pb, ldb, beta, (float*)pc + (long)i0 * ldc, ldc);
            }
        });
    }
}

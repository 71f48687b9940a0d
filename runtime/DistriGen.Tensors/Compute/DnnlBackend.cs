using System.Runtime.InteropServices;

namespace DistriGen.Tensors.Compute;

/// <summary>
/// oneDNN 2.x (Debian's libdnnl) through its C API, loaded at run time: convolutions as oneDNN
/// primitives (created once per shape and cached per thread) and matrix products with dnnl_sgemm.
/// oneDNN runs on OpenMP; the thread budget is set with omp_set_num_threads on the calling thread,
/// which OpenMP keeps per thread, so each rank keeps its own budget. With <see cref="Winograd"/>,
/// 3×3 stride-1 convolutions use oneDNN's Winograd F(4×4, 3×3): about 2.5× faster here, at a
/// relative error of a few 1e-6 per layer (direct: about 1e-7) and four times the memory for those
/// layers' reordered weights.
/// </summary>
public sealed unsafe class DnnlBackend : IComputeBackend, IConvolutionBackend, ITransposedGemmBackend,
    ILinearBackend, IBFloat16Gemm
{
    private const int QuerySrcMd = 129, QueryWeightsMd = 131, QueryDstMd = 133;
    private const int FormatAb = 3;
    /// <summary>sizeof(dnnl_memory_desc_t) in oneDNN 2.x.</summary>
    private const int MemoryDescBytes = 696;
    private const int Bf16 = 2, F32 = 3, FormatAny = 1, FormatA = 2, FormatAbcd = 5, ForwardInference = 96,
        ConvolutionDirect = 1, ConvolutionWinograd = 2, EngineCpu = 1, StreamInOrder = 1;
    private const int ArgSrc = 1, ArgDst = 17, ArgWeights = 33, ArgBias = 41;
    private const int DescriptorBytes = 16384;

    private static readonly string[] LibraryNames = ["libdnnl.so.2", "libdnnl.so", "dnnl"];

    private readonly delegate* unmanaged<nint*, int, nuint, int> _engineCreate;
    private readonly delegate* unmanaged<nint*, nint, uint, int> _streamCreate;
    private readonly delegate* unmanaged<void*, int, long*, int, int, int> _memoryDescInit;
    private readonly delegate* unmanaged<void*, int, long*, int, long*, int> _memoryDescInitByStrides;
    private readonly delegate* unmanaged<void*, void*, void*, void*, void*, int> _matmulDescInit;
    private readonly delegate* unmanaged<void*, int, int, void*, void*, void*, void*, long*, long*, long*, int> _convolutionDescInit;
    private readonly delegate* unmanaged<nint*, void*, nint, nint, nint, int> _primitiveDescCreate;
    private readonly delegate* unmanaged<nint*, nint, int> _primitiveCreate;
    private readonly delegate* unmanaged<nint, int> _primitiveDescDestroy;
    private readonly delegate* unmanaged<nint, int, int, void*> _queryMd;
    private readonly delegate* unmanaged<void*, void*, int> _mdEqual;
    private readonly delegate* unmanaged<void*, nuint> _mdSize;
    private readonly delegate* unmanaged<nint*, void*, nint, void*, nint, nint, int> _reorderPdCreate;
    private readonly delegate* unmanaged<nint*, void*, nint, void*, int> _memoryCreate;
    private readonly delegate* unmanaged<nint, void*, int> _memorySetHandle;
    private readonly delegate* unmanaged<nint, nint, int, ExecArg*, int> _execute;
    private readonly delegate* unmanaged<nint, int> _streamWait;
    private readonly delegate* unmanaged<sbyte, sbyte, long, long, long, float, float*, long, float*, long, float, float*, long, int> _sgemm;
    private readonly delegate* unmanaged<int, void> _ompSetNumThreads;
    private readonly delegate* unmanaged<nint*, int> _attrCreate;
    private readonly delegate* unmanaged<nint, int> _attrDestroy;
    private readonly delegate* unmanaged<nint*, int> _postOpsCreate;
    private readonly delegate* unmanaged<nint, int> _postOpsDestroy;
    private readonly delegate* unmanaged<nint, float, int> _postOpsAppendSum;
    private readonly delegate* unmanaged<nint, nint, int> _attrSetPostOps;

    [ThreadStatic] private static ThreadState? _state;

    private DnnlBackend(nint dnnl, nint gomp, string path, bool winograd, bool bfloat16)
    {
        LibraryPath = path;
        Winograd = winograd;
        BFloat16 = bfloat16;
        _engineCreate = (delegate* unmanaged<nint*, int, nuint, int>)NativeLibrary.GetExport(dnnl, "dnnl_engine_create");
        _streamCreate = (delegate* unmanaged<nint*, nint, uint, int>)NativeLibrary.GetExport(dnnl, "dnnl_stream_create");
        _memoryDescInit = (delegate* unmanaged<void*, int, long*, int, int, int>)NativeLibrary.GetExport(dnnl, "dnnl_memory_desc_init_by_tag");
        _memoryDescInitByStrides = (delegate* unmanaged<void*, int, long*, int, long*, int>)
            NativeLibrary.GetExport(dnnl, "dnnl_memory_desc_init_by_strides");
        _matmulDescInit = (delegate* unmanaged<void*, void*, void*, void*, void*, int>)
            NativeLibrary.GetExport(dnnl, "dnnl_matmul_desc_init");
        _convolutionDescInit = (delegate* unmanaged<void*, int, int, void*, void*, void*, void*, long*, long*, long*, int>)NativeLibrary.GetExport(dnnl, "dnnl_convolution_forward_desc_init");
        _primitiveDescCreate = (delegate* unmanaged<nint*, void*, nint, nint, nint, int>)NativeLibrary.GetExport(dnnl, "dnnl_primitive_desc_create");
        _primitiveCreate = (delegate* unmanaged<nint*, nint, int>)NativeLibrary.GetExport(dnnl, "dnnl_primitive_create");
        _primitiveDescDestroy = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(dnnl, "dnnl_primitive_desc_destroy");
        _queryMd = (delegate* unmanaged<nint, int, int, void*>)NativeLibrary.GetExport(dnnl, "dnnl_primitive_desc_query_md");
        _mdEqual = (delegate* unmanaged<void*, void*, int>)NativeLibrary.GetExport(dnnl, "dnnl_memory_desc_equal");
        _mdSize = (delegate* unmanaged<void*, nuint>)NativeLibrary.GetExport(dnnl, "dnnl_memory_desc_get_size");
        _reorderPdCreate = (delegate* unmanaged<nint*, void*, nint, void*, nint, nint, int>)NativeLibrary.GetExport(dnnl, "dnnl_reorder_primitive_desc_create");
        _memoryCreate = (delegate* unmanaged<nint*, void*, nint, void*, int>)NativeLibrary.GetExport(dnnl, "dnnl_memory_create");
        _memorySetHandle = (delegate* unmanaged<nint, void*, int>)NativeLibrary.GetExport(dnnl, "dnnl_memory_set_data_handle");
        _execute = (delegate* unmanaged<nint, nint, int, ExecArg*, int>)NativeLibrary.GetExport(dnnl, "dnnl_primitive_execute");
        _streamWait = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(dnnl, "dnnl_stream_wait");
        _sgemm = (delegate* unmanaged<sbyte, sbyte, long, long, long, float, float*, long, float*, long, float, float*, long, int>)NativeLibrary.GetExport(dnnl, "dnnl_sgemm");
        _ompSetNumThreads = (delegate* unmanaged<int, void>)NativeLibrary.GetExport(gomp, "omp_set_num_threads");
        _attrCreate = (delegate* unmanaged<nint*, int>)NativeLibrary.GetExport(dnnl, "dnnl_primitive_attr_create");
        _attrDestroy = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(dnnl, "dnnl_primitive_attr_destroy");
        _postOpsCreate = (delegate* unmanaged<nint*, int>)NativeLibrary.GetExport(dnnl, "dnnl_post_ops_create");
        _postOpsDestroy = (delegate* unmanaged<nint, int>)NativeLibrary.GetExport(dnnl, "dnnl_post_ops_destroy");
        _postOpsAppendSum = (delegate* unmanaged<nint, float, int>)
            NativeLibrary.GetExport(dnnl, "dnnl_post_ops_append_sum");
        _attrSetPostOps = (delegate* unmanaged<nint, nint, int>)
            NativeLibrary.GetExport(dnnl, "dnnl_primitive_attr_set_post_ops");
        KeepFreedMemory();
    }

    /// <summary>
    /// dnnl_sgemm allocates its packing buffers with malloc on every call. glibc serves large blocks
    /// with a fresh mapping and unmaps them on free, so each call pays page faults (and, with ranks as
    /// threads, contends for the process's memory map). Raising the mapping and trim thresholds keeps
    /// freed blocks in the heap for the next call.
    /// </summary>
    private static void KeepFreedMemory()
    {
        if (!NativeLibrary.TryLoad("libc.so.6", out var libc) || !NativeLibrary.TryGetExport(libc, "mallopt", out var address)) return;
        var mallopt = (delegate* unmanaged<int, int, int>)address;
        const int TrimThreshold = -1, MmapThreshold = -3;
        mallopt(MmapThreshold, 32 << 20);
        mallopt(TrimThreshold, 1 << 30);
    }

    public string Name => BFloat16 ? "oneDNN, bf16" : Winograd ? "oneDNN, Winograd 3×3" : "oneDNN";

    /// <summary>Whether 3×3 stride-1 convolutions use Winograd's algorithm (where oneDNN has it for the shape).</summary>
    public bool Winograd { get; }

    /// <summary>
    /// Whether convolutions and linear layers multiply in bfloat16 (weights and activations rounded to bf16,
    /// float32 accumulation and output), on the CPU's AVX512_BF16 instructions.
    /// </summary>
    public bool BFloat16 { get; }
    public string LibraryPath { get; }

    /// <summary>Loads oneDNN (and OpenMP) if the machine has them; null otherwise, with the reason.</summary>
    public static DnnlBackend? TryLoad(out string why, bool winograd = false, bool bfloat16 = false)
    {
        foreach (var name in LibraryNames)
        {
            if (!NativeLibrary.TryLoad(name, typeof(DnnlBackend).Assembly, null, out var dnnl)) continue;
            if (!NativeLibrary.TryGetExport(dnnl, "dnnl_convolution_forward_desc_init", out _))
            {
                why = $"{name} is not oneDNN 2.x (no dnnl_convolution_forward_desc_init)";
                return null;
            }
            if (!NativeLibrary.TryLoad("libgomp.so.1", out var gomp))
            {
                why = "libgomp.so.1 (OpenMP, which oneDNN uses) cannot be loaded";
                return null;
            }
            why = "";
            return new DnnlBackend(dnnl, gomp, name, winograd, bfloat16);
        }
        why = "oneDNN (libdnnl.so.2) is not installed";
        return null;
    }

    public void Gemm(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, bool accumulate, int threads)
    {
        // dnnl_sgemm leaves C untouched for an empty sum.
        if (EmptyProducts.Handled(m, n, k, c, ldc, accumulate)) return;
        _ompSetNumThreads(threads);
        Check(_sgemm((sbyte)'N', (sbyte)'N', m, n, k, 1f, a, lda, b, ldb, accumulate ? 1f : 0f, c, ldc), "dnnl_sgemm");
    }

    public void GemmTransposedB(int m, int n, int k, float* a, int lda, float* b, int ldb, float* c, int ldc, int threads)
    {
        if (EmptyProducts.Handled(m, n, k, c, ldc, accumulate: false)) return;
        _ompSetNumThreads(threads);
        Check(_sgemm((sbyte)'N', (sbyte)'T', m, n, k, 1f, a, lda, b, ldb, 0f, c, ldc), "dnnl_sgemm");
    }

    public bool TryConv2d(float* x, int batch, int cin, int h, int w, Tensor weights, float* weight, int cout, int kh, int kw, float* bias,
        int stride, Ops.Padding2d padding, float* y, int oh, int ow, int threads)
    {
        var state = _state ??= new ThreadState(this);
        // oneDNN fixes a primitive's thread count when it is created: the budget is part of the key.
        _ompSetNumThreads(threads);
        var key = new ConvKey(batch, cin, h, w, cout, kh, kw, bias != null, stride, padding, threads,
            Winograd && UsesWinograd(cin, cout, kh, kw, stride, padding), BFloat16);
        if (!state.Convolutions.TryGetValue(key, out var conv))
        {
            conv = CreateConvolution(state, key, oh, ow);
            if (conv is null) return false;
            state.Convolutions[key] = conv;
        }
        // Blocked activations in and out come from the tensor pool for the call (the same sizes every
        // step, so no memory is taken after the first), counted with the rank's other tensors.
        var srcBlocked = conv.SrcReorder is { } s0 ? TensorMemory.Rent(AlignedFloats(s0.BlockedBytes)) : null;
        var dstBlocked = conv.DstReorder is { } d0 ? TensorMemory.Rent(AlignedFloats(d0.BlockedBytes)) : null;
        try
        {
            fixed (float* srcScratch = srcBlocked, dstScratch = dstBlocked)
                Execute(state, conv, x, weights, weight, bias, y, Aligned(srcScratch), Aligned(dstScratch));
        }
        finally
        {
            if (srcBlocked is not null) TensorMemory.Return(srcBlocked);
            if (dstBlocked is not null) TensorMemory.Return(dstBlocked);
        }
        return true;
    }

    private void Execute(ThreadState state, Convolution conv, float* x, Tensor weights, float* weight, float* bias, float* y, void* srcScratch, void* dstScratch)
    {
        var args = stackalloc ExecArg[4];
        if (conv.SrcReorder is { } srcReorder)
        {
            Check(_memorySetHandle(srcReorder.Blocked, srcScratch), "dnnl_memory_set_data_handle");
            Check(_memorySetHandle(srcReorder.Plain, x), "dnnl_memory_set_data_handle");
            Run(state, srcReorder.Primitive, args, srcReorder.Plain, srcReorder.Blocked);
        }
        else
        {
            Check(_memorySetHandle(conv.Src, x), "dnnl_memory_set_data_handle");
        }
        Check(_memorySetHandle(conv.Weights, conv.WeightReorder is null ? weight : BlockedWeights(state, conv, weights, weight)), "dnnl_memory_set_data_handle");
        if (conv.DstReorder is null) Check(_memorySetHandle(conv.Dst, y), "dnnl_memory_set_data_handle");
        else Check(_memorySetHandle(conv.DstReorder.Blocked, dstScratch), "dnnl_memory_set_data_handle");
        args[0] = new ExecArg(ArgSrc, conv.Src);
        args[1] = new ExecArg(ArgWeights, conv.Weights);
        args[2] = new ExecArg(ArgDst, conv.Dst);
        int nargs = 3;
        if (bias != null)
        {
            Check(_memorySetHandle(conv.Bias, bias), "dnnl_memory_set_data_handle");
            args[nargs++] = new ExecArg(ArgBias, conv.Bias);
        }
        Check(_execute(conv.Primitive, state.Stream, nargs, args), "dnnl_primitive_execute");
        if (conv.DstReorder is { } dstReorder)
        {
            Check(_memorySetHandle(dstReorder.Plain, y), "dnnl_memory_set_data_handle");
            Run(state, dstReorder.Primitive, args, dstReorder.Blocked, dstReorder.Plain);
        }
        Check(_streamWait(state.Stream), "dnnl_stream_wait");
    }

    /// <summary>Floats to rent for <paramref name="bytes"/> starting at a 64-byte boundary.</summary>
    private static int AlignedFloats(long bytes) => checked((int)((bytes + 3) / 4 + 16));

    private static void* Aligned(float* p) => p == null ? null : (void*)(((nint)p + 63) & ~(nint)63);

    /// <summary>
    /// The shapes Winograd is asked for: 3×3, stride 1, channels in multiples of 16, each side padded by
    /// 0 or 1 ("same" convolutions and band convolutions with halos). oneDNN 2.6 also accepts other
    /// channel counts but then writes out of bounds; other paddings are not tested, so they run direct.
    /// </summary>
    private static bool UsesWinograd(int cin, int cout, int kh, int kw, int stride, Ops.Padding2d padding) =>
        kh == 3 && kw == 3 && stride == 1 && cin % 16 == 0 && cout % 16 == 0 &&
        padding.Top is 0 or 1 && padding.Bottom is 0 or 1 && padding.Left is 0 or 1 && padding.Right is 0 or 1;

    /// <summary>
    /// In bf16: the product as a oneDNN matmul with bf16 source and weights (the weights converted once
    /// into the layout it chose, shared by all threads) and float32 accumulation and output. In float32
    /// linear layers use <see cref="GemmTransposedB"/>, so this declines.
    /// </summary>
    public bool TryLinear(float* x, int m, int k, Tensor weights, float* weight, int n, float* y, int threads)
    {
        if (!BFloat16 || m == 0 || n == 0 || k == 0) return false;
        var state = _state ??= new ThreadState(this);
        _ompSetNumThreads(threads);
        var key = new MatMulKey(m, k, n, threads);
        if (!state.MatMuls.TryGetValue(key, out var matmul))
        {
            matmul = CreateMatMul(state, key);
            if (matmul is null) return false;
            state.MatMuls[key] = matmul;
        }
        var srcBf16 = TensorMemory.Rent(AlignedFloats(matmul.SrcReorder.BlockedBytes));
        try
        {
            fixed (float* scratch = srcBf16)
            {
                var args = stackalloc ExecArg[3];
                Check(_memorySetHandle(matmul.SrcReorder.Plain, x), "dnnl_memory_set_data_handle");
                Check(_memorySetHandle(matmul.SrcReorder.Blocked, Aligned(scratch)), "dnnl_memory_set_data_handle");
                Run(state, matmul.SrcReorder.Primitive, args, matmul.SrcReorder.Plain, matmul.SrcReorder.Blocked);
                Check(_memorySetHandle(matmul.Weights, BlockedWeights(state, matmul.WeightReorder, weights, weight)),
                    "dnnl_memory_set_data_handle");
                Check(_memorySetHandle(matmul.Dst, y), "dnnl_memory_set_data_handle");
                args[0] = new ExecArg(ArgSrc, matmul.SrcReorder.Blocked);
                args[1] = new ExecArg(ArgWeights, matmul.Weights);
                args[2] = new ExecArg(ArgDst, matmul.Dst);
                Check(_execute(matmul.Primitive, state.Stream, 3, args), "dnnl_primitive_execute (matmul)");
                Check(_streamWait(state.Stream), "dnnl_stream_wait");
            }
        }
        finally
        {
            TensorMemory.Return(srcBf16);
        }
        return true;
    }

    public void GemmBf16(int m, int n, int k, ushort* a, int lda, ushort* b, int ldb, float* c, int ldc,
        bool accumulate, int threads)
    {
        if (EmptyProducts.Handled(m, n, k, c, ldc, accumulate)) return;
        var state = _state ??= new ThreadState(this);
        _ompSetNumThreads(threads);
        var key = new Bf16GemmKey(m, n, k, lda, ldb, ldc, accumulate, threads);
        if (!state.Bf16Gemms.TryGetValue(key, out var gemm))
            state.Bf16Gemms[key] = gemm = CreateBf16Gemm(state, key);
        var args = stackalloc ExecArg[3];
        Check(_memorySetHandle(gemm.A, a), "dnnl_memory_set_data_handle");
        Check(_memorySetHandle(gemm.B, b), "dnnl_memory_set_data_handle");
        Check(_memorySetHandle(gemm.C, c), "dnnl_memory_set_data_handle");
        args[0] = new ExecArg(ArgSrc, gemm.A);
        args[1] = new ExecArg(ArgWeights, gemm.B);
        args[2] = new ExecArg(ArgDst, gemm.C);
        Check(_execute(gemm.Primitive, state.Stream, 3, args), "dnnl_primitive_execute (bf16 matmul)");
        Check(_streamWait(state.Stream), "dnnl_stream_wait");
    }

    /// <summary>
    /// A matmul on strided bf16 A and B into strided float32 C, adding to C through a sum post-op when
    /// asked.
    /// </summary>
    private Bf16Gemm CreateBf16Gemm(ThreadState state, Bf16GemmKey key)
    {
        void* Strided(long rows, long columns, long leading, int type)
        {
            var md = NativeMemory.AllocZeroed(DescriptorBytes);
            long* dims = stackalloc long[] { rows, columns };
            long* strides = stackalloc long[] { leading, 1 };
            Check(_memoryDescInitByStrides(md, 2, dims, type, strides), "dnnl_memory_desc_init_by_strides");
            return md;
        }
        var a = Strided(key.M, key.K, key.Lda, Bf16);
        var b = Strided(key.K, key.N, key.Ldb, Bf16);
        var c = Strided(key.M, key.N, key.Ldc, F32);
        var desc = NativeMemory.AllocZeroed(DescriptorBytes);
        nint attr = 0, postOps = 0, pd = 0, primitive;
        try
        {
            Check(_matmulDescInit(desc, a, b, null, c), "dnnl_matmul_desc_init");
            if (key.Accumulate)
            {
                Check(_attrCreate(&attr), "dnnl_primitive_attr_create");
                Check(_postOpsCreate(&postOps), "dnnl_post_ops_create");
                Check(_postOpsAppendSum(postOps, 1f), "dnnl_post_ops_append_sum");
                Check(_attrSetPostOps(attr, postOps), "dnnl_primitive_attr_set_post_ops");
            }
            Check(_primitiveDescCreate(&pd, desc, attr, state.Engine, 0), "dnnl_primitive_desc_create (bf16 matmul)");
            Check(_primitiveCreate(&primitive, pd), "dnnl_primitive_create (bf16 matmul)");
            return new Bf16Gemm(primitive, Memory(state, a), Memory(state, b), Memory(state, c));
        }
        finally
        {
            if (pd != 0) _primitiveDescDestroy(pd);
            if (postOps != 0) _postOpsDestroy(postOps);
            if (attr != 0) _attrDestroy(attr);
            foreach (var p in new[] { (nint)a, (nint)b, (nint)c, (nint)desc }) NativeMemory.Free((void*)p);
        }
    }

    /// <summary>
    /// A bf16 matmul for one (M, K, N): source (M, K) and weights (K, N) as the transposed view of the (N, K)
    /// weight.
    /// </summary>
    private MatMul? CreateMatMul(ThreadState state, MatMulKey key)
    {
        var srcPlain = Descriptor([key.M, key.K], FormatAb);
        var srcBf16 = Descriptor([key.M, key.K], FormatAb, Bf16);
        var weightsPlain = NativeMemory.AllocZeroed(DescriptorBytes);
        long* dims = stackalloc long[] { key.K, key.N };
        long* strides = stackalloc long[] { 1, key.K };
        Check(_memoryDescInitByStrides(weightsPlain, 2, dims, F32, strides), "dnnl_memory_desc_init_by_strides");
        var weightsAny = Descriptor([key.K, key.N], FormatAny, Bf16);
        var dst = Descriptor([key.M, key.N], FormatAb);
        var desc = NativeMemory.AllocZeroed(DescriptorBytes);
        var owned = new List<nint> { (nint)srcPlain, (nint)srcBf16, (nint)weightsPlain, (nint)weightsAny,
            (nint)dst, (nint)desc };
        try
        {
            Check(_matmulDescInit(desc, srcBf16, weightsAny, null, dst), "dnnl_matmul_desc_init");
            nint pd, primitive;
            const int Unimplemented = 3;
            int status = _primitiveDescCreate(&pd, desc, 0, state.Engine, 0);
            if (status == Unimplemented) return null;
            Check(status, "dnnl_primitive_desc_create (matmul)");
            try
            {
                Check(_primitiveCreate(&primitive, pd), "dnnl_primitive_create (matmul)");
                var weightsChosen = _queryMd(pd, QueryWeightsMd, 0);
                return new MatMul(primitive, Reorder(state, srcPlain, srcBf16),
                    Reorder(state, weightsPlain, weightsChosen), Memory(state, weightsChosen), Memory(state, dst));
            }
            finally
            {
                _primitiveDescDestroy(pd);
            }
        }
        finally
        {
            foreach (var p in owned) NativeMemory.Free((void*)p);
        }
    }

    public void Forget(Tensor weights)
    {
        lock (_blockedWeights) _blockedWeights.Remove(weights);
    }

    /// <summary>Weights reordered once into the layout the primitive chose, shared by all threads.</summary>
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<Tensor, BlockedWeightSet> _blockedWeights = new();

    private void* BlockedWeights(ThreadState state, Convolution conv, Tensor weights, float* plain) =>
        BlockedWeights(state, conv.WeightReorder!, weights, plain);

    private void* BlockedWeights(ThreadState state, ReorderStep reorder, Tensor weights, float* plain)
    {
        BlockedWeightSet set;
        lock (_blockedWeights) set = _blockedWeights.GetOrCreateValue(weights);
        lock (set)
        {
            if (set.Buffers.TryGetValue(reorder.LayoutKey, out var ready)) return (void*)ready;
            Check(_memorySetHandle(reorder.Plain, plain), "dnnl_memory_set_data_handle");
            var buffer = (nint)NativeMemory.AlignedAlloc((nuint)reorder.BlockedBytes, 64);
            Check(_memorySetHandle(reorder.Blocked, (void*)buffer), "dnnl_memory_set_data_handle");
            var args = stackalloc ExecArg[2];
            Run(state, reorder.Primitive, args, reorder.Plain, reorder.Blocked);
            Check(_streamWait(state.Stream), "dnnl_stream_wait");
            set.Buffers[reorder.LayoutKey] = buffer;
            return (void*)buffer;
        }
    }

    private void Run(ThreadState state, nint reorder, ExecArg* args, nint from, nint to)
    {
        args[0] = new ExecArg(ArgSrc, from);
        args[1] = new ExecArg(ArgDst, to);
        Check(_execute(reorder, state.Stream, 2, args), "dnnl_primitive_execute (reorder)");
    }

    /// <summary>
    /// The primitive for one shape, letting oneDNN choose its layouts (blocked, which its fastest
    /// kernels need) with reorders from and to our NCHW; null when oneDNN has no implementation.
    /// </summary>
    private Convolution? CreateConvolution(ThreadState state, ConvKey key, int oh, int ow)
    {
        var srcPlain = Descriptor([key.Batch, key.Cin, key.H, key.W], FormatAbcd);
        var weightsPlain = Descriptor([key.Cout, key.Cin, key.Kh, key.Kw], FormatAbcd);
        var dstPlain = Descriptor([key.Batch, key.Cout, oh, ow], FormatAbcd);
        // In bf16 the reorders into oneDNN's layouts also round to bf16; the output stays float32.
        int type = key.BFloat16 ? Bf16 : F32;
        // 1×1 convolutions take and give NCHW as it is: oneDNN runs them on the plain layout faster than through
        // its blocked one and two reorders (320→320 at 64², batch 2: 3.7 against 5.9 ms, bf16 2.0 against 3.3).
        int activations = key.Kh == 1 && key.Kw == 1 ? FormatAbcd : FormatAny;
        var srcAny = Descriptor([key.Batch, key.Cin, key.H, key.W], activations, type);
        var weightsAny = Descriptor([key.Cout, key.Cin, key.Kh, key.Kw], FormatAny, type);
        var dstAny = Descriptor([key.Batch, key.Cout, oh, ow], activations);
        var bias = key.HasBias ? Descriptor([key.Cout], FormatA) : null;
        var desc = NativeMemory.AllocZeroed(DescriptorBytes);
        var owned = new List<nint> { (nint)srcPlain, (nint)weightsPlain, (nint)dstPlain, (nint)srcAny, (nint)weightsAny, (nint)dstAny, (nint)desc };
        if (bias is not null) owned.Add((nint)bias);
        try
        {
            long* strides = stackalloc long[] { key.Stride, key.Stride };
            long* padLeft = stackalloc long[] { key.Padding.Top, key.Padding.Left };
            long* padRight = stackalloc long[] { key.Padding.Bottom, key.Padding.Right };
            nint pd = 0, primitive;
            const int Unimplemented = 3;
            int status = Unimplemented;
            // Winograd where asked for and implemented for the shape, else direct.
            foreach (var algorithm in key.Winograd ? new[] { ConvolutionWinograd, ConvolutionDirect } : [ConvolutionDirect])
            {
                Check(_convolutionDescInit(desc, ForwardInference, algorithm, srcAny, weightsAny, bias, dstAny, strides, padLeft, padRight), "dnnl_convolution_forward_desc_init");
                status = _primitiveDescCreate(&pd, desc, 0, state.Engine, 0);
                if (status != Unimplemented) break;
            }
            if (status == Unimplemented) return null;
            Check(status, "dnnl_primitive_desc_create");
            try
            {
                Check(_primitiveCreate(&primitive, pd), "dnnl_primitive_create");
                var srcChosen = _queryMd(pd, QuerySrcMd, 0);
                var weightsChosen = _queryMd(pd, QueryWeightsMd, 0);
                var dstChosen = _queryMd(pd, QueryDstMd, 0);
                var srcReorder = _mdEqual(srcChosen, srcPlain) != 0 ? null : Reorder(state, srcPlain, srcChosen);
                var dstReorder = _mdEqual(dstChosen, dstPlain) != 0 ? null : Reorder(state, dstChosen, dstPlain, blockedIsSource: true);
                var weightReorder = _mdEqual(weightsChosen, weightsPlain) != 0 ? null : Reorder(state, weightsPlain, weightsChosen);
                return new Convolution(primitive,
                    srcReorder?.Blocked ?? Memory(state, srcPlain),
                    Memory(state, weightsChosen),
                    bias is null ? 0 : Memory(state, bias),
                    dstReorder?.Blocked ?? Memory(state, dstPlain),
                    srcReorder, dstReorder, weightReorder);
            }
            finally
            {
                _primitiveDescDestroy(pd);
            }
        }
        finally
        {
            foreach (var p in owned) NativeMemory.Free((void*)p);
        }
    }

    /// <summary>
    /// A reorder between our plain layout and the primitive's. The blocked side's memory is set per
    /// call: the thread's scratch for activations, the shared reordered copy for weights.
    /// </summary>
    private ReorderStep Reorder(ThreadState state, void* from, void* to, bool blockedIsSource = false)
    {
        nint pd, primitive;
        Check(_reorderPdCreate(&pd, from, state.Engine, to, state.Engine, 0), "dnnl_reorder_primitive_desc_create");
        try
        {
            Check(_primitiveCreate(&primitive, pd), "dnnl_primitive_create (reorder)");
        }
        finally
        {
            _primitiveDescDestroy(pd);
        }
        var blockedDesc = blockedIsSource ? from : to;
        long bytes = (long)_mdSize(blockedDesc);
        var plain = Memory(state, blockedIsSource ? to : from);
        var blocked = Memory(state, blockedDesc);
        // Weights in the same blocked layout can be shared whatever shape of activation they meet.
        var layout = new ReadOnlySpan<byte>(blockedDesc, MemoryDescBytes).ToArray();
        return new ReorderStep(primitive, plain, blocked, bytes, Convert.ToBase64String(System.Security.Cryptography.SHA256.HashData(layout)));
    }

    private void* Descriptor(long[] dims, int tag, int type = F32)
    {
        var desc = NativeMemory.AllocZeroed(DescriptorBytes);
        fixed (long* d = dims) Check(_memoryDescInit(desc, dims.Length, d, type, tag), "dnnl_memory_desc_init_by_tag");
        return desc;
    }

    private nint Memory(ThreadState state, void* desc)
    {
        nint memory;
        Check(_memoryCreate(&memory, desc, state.Engine, null), "dnnl_memory_create");
        return memory;
    }

    private static void Check(int status, string call)
    {
        if (status != 0) throw new InvalidOperationException($"oneDNN: {call} failed with status {status}.");
    }

    private readonly record struct ConvKey(int Batch, int Cin, int H, int W, int Cout, int Kh, int Kw,
        bool HasBias, int Stride, Ops.Padding2d Padding, int Threads, bool Winograd, bool BFloat16);

    private readonly record struct MatMulKey(int M, int K, int N, int Threads);

    private readonly record struct Bf16GemmKey(int M, int N, int K, int Lda, int Ldb, int Ldc, bool Accumulate,
        int Threads);

    private sealed record Bf16Gemm(nint Primitive, nint A, nint B, nint C);

    private sealed record MatMul(nint Primitive, ReorderStep SrcReorder, ReorderStep WeightReorder, nint Weights,
        nint Dst);

    private sealed record Convolution(nint Primitive, nint Src, nint Weights, nint Bias, nint Dst, ReorderStep? SrcReorder, ReorderStep? DstReorder, ReorderStep? WeightReorder);

    /// <summary>A reorder primitive with its plain and blocked memory objects.</summary>
    private sealed record ReorderStep(nint Primitive, nint Plain, nint Blocked, long BlockedBytes, string LayoutKey);

    private sealed class BlockedWeightSet
    {
        public Dictionary<string, nint> Buffers { get; } = new();
    }

    [StructLayout(LayoutKind.Sequential)]
    private readonly struct ExecArg(int arg, nint memory)
    {
        public readonly int Arg = arg;
        public readonly nint Memory = memory;
    }

    /// <summary>A thread's engine, stream and primitives: nothing is shared between rank threads.</summary>
    private sealed class ThreadState
    {
        public ThreadState(DnnlBackend dnnl)
        {
            nint engine, stream;
            Check(dnnl._engineCreate(&engine, EngineCpu, 0), "dnnl_engine_create");
            Check(dnnl._streamCreate(&stream, engine, StreamInOrder), "dnnl_stream_create");
            Engine = engine;
            Stream = stream;
        }

        public nint Engine { get; }
        public nint Stream { get; }
        public Dictionary<ConvKey, Convolution> Convolutions { get; } = new();
        public Dictionary<MatMulKey, MatMul> MatMuls { get; } = new();
        public Dictionary<Bf16GemmKey, Bf16Gemm> Bf16Gemms { get; } = new();
    }
}

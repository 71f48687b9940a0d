using DistriGen.Tensors.Ops;
using TensorOps = DistriGen.Tensors.Ops.Ops;

namespace DistriGen.Tensors.Tests;

/// <summary>
/// Patch parallelism gives each rank a band of rows plus halo rows from its neighbours and pads only
/// the image's real edges. Its output is exact only if a band's conv gives bit for bit the rows the
/// whole image's conv gives, whatever the number of columns the GEMM sees. That is the managed
/// backend's guarantee; on OpenBLAS the band is only checked to float tolerance.
/// </summary>
[Collection(GlobalStateCollection.Name)]
public class ConvBandExactnessTests
{
    /// <summary>Output rows [r0, r1) computed from just the input rows they need, padded only at the image's edges.</summary>
    private static Tensor BandConv(Tensor x, Tensor w, Tensor? bias, int stride, Padding2d pad, int r0, int r1)
    {
        int h = x.Dim(2), k = w.Dim(2);
        int lo = r0 * stride - pad.Top, hi = (r1 - 1) * stride - pad.Top + k;
        int top = Math.Max(0, -lo), bottom = Math.Max(0, hi - h);
        using var rows = TensorOps.SliceRows(x, Math.Max(0, lo), Math.Min(h, hi));
        return TensorOps.Conv2d(rows, w, bias, stride, new Padding2d(top, bottom, pad.Left, pad.Right));
    }

    private static void AssertBandsExact(int cin, int cout, int h, int w, int k, int stride, Padding2d pad, int[] bandEdges)
    {
        using var x = Check.Normal(11, 2, cin, h, w);
        using var weight = Check.Normal(12, cout, cin, k, k);
        using var bias = Check.Normal(13, cout);
        using var full = TensorOps.Conv2d(x, weight, bias, stride, pad);
        for (int i = 0; i + 1 < bandEdges.Length; i++)
        {
            int r0 = bandEdges[i], r1 = bandEdges[i + 1];
            using var band = BandConv(x, weight, bias, stride, pad, r0, r1);
            using var expected = TensorOps.SliceRows(full, r0, r1);
            Check.Shape(band, expected.Shape);
            var what = $"{ComputeBackendName()}: rows [{r0}, {r1}) of a {k}×{k} stride-{stride} conv";
            // The managed kernels promise the same bits (each element is summed over K in one fixed
            // order). OpenBLAS picks kernels by matrix width, so a band may round differently: it is
            // held to the float tolerance only, and patch-parallel runs are bit-exact on managed only.
            if (Compute.ComputeBackends.Current is Compute.ManagedBackend) Check.Bitwise(expected.Span, band.Span, what);
            else Check.Close(expected.ToArray().Select(v => (double)v).ToArray(), band, rtol: 1e-5, what: what);
        }
    }

    private static string ComputeBackendName() => Compute.ComputeBackends.Current.Name;

    [Theory]
    [MemberData(nameof(BackendNames))]
    public void Band_of_a_3x3_conv_with_halo_rows_matches_the_full_conv(string backend) =>
        // Interior bands get Padding2d(0, 0, 1, 1): their top and bottom come from halo rows.
        Backends.On(backend, () => AssertBandsExact(5, 17, 13, 37, 3, 1, Padding2d.Same(1), [0, 4, 5, 9, 13]));

    [Theory]
    [MemberData(nameof(BackendNames))]
    public void Band_of_a_wide_3x3_conv_matches_the_full_conv(string backend) =>
        // 33 → 40 channels on 70 columns: the full image and the bands put columns in different vector tiles.
        Backends.On(backend, () => AssertBandsExact(33, 40, 9, 70, 3, 1, Padding2d.Same(1), [0, 1, 3, 8, 9]));

    [Theory]
    [MemberData(nameof(BackendNames))]
    public void Band_of_a_1x1_conv_matches_the_full_conv(string backend) =>
        Backends.On(backend, () => AssertBandsExact(17, 9, 10, 11, 1, 1, default, [0, 3, 10]));

    [Theory]
    [MemberData(nameof(BackendNames))]
    public void Band_of_a_stride_2_downsample_matches_the_full_conv(string backend) =>
        // diffusers' Downsample2D pads (0, 1, 0, 1): a band needs one halo row below and none above.
        Backends.On(backend, () => AssertBandsExact(6, 7, 12, 10, 3, 2, new Padding2d(0, 1, 0, 1), [0, 2, 3, 6]));

    [Fact]
    public void Interior_band_uses_zero_top_and_bottom_padding()
    {
        // The case the patch-parallel layer hits most: rows [4, 8) of 12, input rows [3, 9), Padding2d(0, 0, 1, 1).
        Backends.On("managed", () =>
        {
            using var x = Check.Normal(21, 1, 3, 12, 8);
            using var weight = Check.Normal(22, 5, 3, 3, 3);
            using var full = TensorOps.Conv2d(x, weight, null, 1, Padding2d.Same(1));
            using var halo = TensorOps.SliceRows(x, 3, 9);
            using var band = TensorOps.Conv2d(halo, weight, null, 1, new Padding2d(0, 0, 1, 1));
            using var expected = TensorOps.SliceRows(full, 4, 8);
            Check.Bitwise(expected.Span, band.Span, "rows [4, 8)");
        });
    }

    public static TheoryData<string> BackendNames => Backends.Names;
}

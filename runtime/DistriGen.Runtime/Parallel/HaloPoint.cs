using DistriGen.Tensors;
using DistriGen.Tensors.Ops;

namespace DistriGen.Runtime;

/// <summary>
/// A convolution's halo: each step a band sends its top <c>rows</c> rows to the band above and its
/// bottom rows to the band below, and gets theirs — fresh in synchronous steps, the previous step's
/// after warmup (the exchange decides). Bands at the image's top and bottom have no neighbour there.
/// </summary>
public sealed class HaloPoint(ActivationCache exchange, string path, int rows, int rank, int ranks)
{
    private int _slot = -1;

    public string Path => path;
    public int Rows => rows;
    private bool HasAbove => rank > 0;
    private bool HasBelow => rank < ranks - 1;

    /// <summary>The neighbours' edge rows for this step, (B, C, rows, W) each, null at the image's edges.</summary>
    public (Tensor? Above, Tensor? Below) Neighbours(Tensor band)
    {
        int batch = band.Dim(0), channels = band.Dim(1), h = band.Dim(2), w = band.Dim(3);
        if (h < rows) throw new InvalidOperationException($"'{path}': a band of {h} rows is thinner than the halo of {rows}; use fewer ranks or a larger image.");
        int values = batch * channels * rows * w;
        if (_slot < 0)
        {
            int[] counts = Enumerable.Range(0, ranks).Select(p => p == rank - 1 || p == rank + 1 ? values : 0).ToArray();
            _slot = exchange.Register(path, CommKind.Halo, counts, counts, SlotSchedule.WarmupSyncThenAsync);
        }
        if (band.IsMeta) return (HasAbove ? Tensor.Meta(batch, channels, rows, w) : null, HasBelow ? Tensor.Meta(batch, channels, rows, w) : null);
        // Our top rows go to the band above, our bottom rows to the band below.
        var data = exchange.Step(_slot, (peer, destination) =>
        {
            using var edge = Ops.SliceRows(band, peer == rank - 1 ? 0 : h - rows, peer == rank - 1 ? rows : h);
            Ops.CopyToHost(edge, destination);
        });
        return (HasAbove ? Ops.FromHost(data.From(rank - 1).Span, band.Device, batch, channels, rows, w) : null,
            HasBelow ? Ops.FromHost(data.From(rank + 1).Span, band.Device, batch, channels, rows, w) : null);
    }
}

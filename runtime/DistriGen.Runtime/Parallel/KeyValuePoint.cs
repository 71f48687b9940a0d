using DistriGen.Tensors;
using DistriGen.Tensors.Ops;

namespace DistriGen.Runtime;

/// <summary>
/// Self-attention's keys and values. DistriFusion: every band's, in row order (the own fresh, the
/// others' fresh in synchronous steps and from the previous step after). PCPP after warmup: only the
/// nearest whole rows of the neighbouring bands — ⌊p·rows⌋, at least one when p &gt; 0 — around the
/// own band, from the neighbours alone; the first asynchronous step cuts them from the last full exchange.
/// </summary>
public sealed class KeyValuePoint(ActivationCache exchange, string path, BandLayout layout, int rank, double? pcppRatio)
{
    private Geometry? _geometry;

    public string Path => path;

    /// <summary>Keys and values this band attends to in this step, (B, N', C) each; <paramref name="k"/>, <paramref name="v"/> are the band's own (B, N, C).</summary>
    public (Tensor Keys, Tensor Values) Gather(Tensor k, Tensor v)
    {
        var g = _geometry ??= Register(k);
        int batch = k.Dim(0), channels = k.Dim(2);
        bool window = g.WindowSlot >= 0 && !exchange.Scheduler.IsSync;
        if (k.IsMeta)
        {
            int n = window ? g.WindowTokens() : g.Tokens.Sum();
            return (Tensor.Meta(batch, n, channels), Tensor.Meta(batch, n, channels));
        }
        if (!window)
        {
            var data = exchange.Step(g.FullSlot, (_, destination) => Pack(k, v, 0, g.Tokens[rank], destination));
            return Assemble(k, v, Enumerable.Range(0, g.Tokens.Length).Select(p => (p, g.Tokens[p], 0)), p => data.From(p));
        }
        // PCPP after warmup: [last rows of the band above | own | first rows of the band below].
        int up = rank - 1, down = rank + 1, mine = g.WindowRows[rank] * g.Width;
        bool cutFromFull = exchange.Scheduler.Step - 1 < exchange.Scheduler.WarmupSteps;
        var parts = new List<(int Peer, int Tokens, int Offset)>();
        if (up >= 0 && g.WindowRows[up] > 0) parts.Add((up, g.WindowRows[up] * g.Width, cutFromFull ? (g.Rows[up] - g.WindowRows[up]) * g.Width : 0));
        parts.Add((rank, g.Tokens[rank], 0));
        if (down < g.Tokens.Length && g.WindowRows[down] > 0) parts.Add((down, g.WindowRows[down] * g.Width, 0));
        var windowData = exchange.Step(g.WindowSlot, (p, destination) => Pack(k, v, p == up ? 0 : g.Tokens[rank] - mine, mine, destination));
        var full = exchange.LastExchange(g.FullSlot);
        return Assemble(k, v, parts, p => cutFromFull ? full.From(p) : windowData.From(p));
    }

    /// <summary>Tokens [t0, t0 + count) of k then of v: [k of every batch row | v of every batch row].</summary>
    private static void Pack(Tensor k, Tensor v, int t0, int count, Span<float> destination)
    {
        int half = destination.Length / 2;
        using var ks = Ops.SliceTokens(k, t0, t0 + count);
        using var vs = Ops.SliceTokens(v, t0, t0 + count);
        Ops.CopyToHost(ks, destination[..half]);
        Ops.CopyToHost(vs, destination[half..]);
    }

    /// <summary>
    /// Keys and values in part order: the own band's as they are, a peer's <c>Tokens</c> tokens from token
    /// <c>Offset</c> of its message, which holds that peer's full band or window.
    /// </summary>
    private (Tensor, Tensor) Assemble(Tensor k, Tensor v, IEnumerable<(int Peer, int Tokens, int Offset)> parts, Func<int, ReadOnlyMemory<float>> received)
    {
        int batch = k.Dim(0), c = k.Dim(2);
        var keys = new List<Tensor>();
        var values = new List<Tensor>();
        try
        {
            foreach (var (peer, tokens, offset) in parts)
            {
                if (peer == rank)
                {
                    keys.Add(k);
                    values.Add(v);
                    continue;
                }
                var message = received(peer).Span;
                int half = message.Length / 2, messageTokens = half / (batch * c);
                using var allK = Ops.FromHost(message[..half], k.Device, batch, messageTokens, c);
                using var allV = Ops.FromHost(message[half..], k.Device, batch, messageTokens, c);
                keys.Add(Ops.SliceTokens(allK, offset, offset + tokens));
                values.Add(Ops.SliceTokens(allV, offset, offset + tokens));
            }
            return (Ops.ConcatTokens(keys), Ops.ConcatTokens(values));
        }
        finally
        {
            foreach (var t in keys.Concat(values)) if (!ReferenceEquals(t, k) && !ReferenceEquals(t, v)) t.Dispose();
        }
    }

    private Geometry Register(Tensor k)
    {
        int size = layout.Ranks, batch = k.Dim(0), channels = k.Dim(2);
        var (level, _, width) = layout.TokenShape(rank, k.Dim(1));
        var rows = Enumerable.Range(0, size).Select(p => layout.RowsAt(p, level)).ToArray();
        var tokens = rows.Select(r => r * width).ToArray();
        var window = rows.Select(r => pcppRatio is { } p ? WindowRows(r, p) : 0).ToArray();
        int Values(int tokenCount) => 2 * batch * tokenCount * channels;
        int[] PerPeer(Func<int, int> count) => Enumerable.Range(0, size).Select(p => p == rank ? 0 : count(p)).ToArray();

        int full = exchange.Register(path, CommKind.Attention, PerPeer(_ => Values(tokens[rank])), PerPeer(p => Values(tokens[p])),
            pcppRatio is null ? SlotSchedule.WarmupSyncThenAsync : SlotSchedule.WarmupOnly);
        int windowSlot = -1;
        if (pcppRatio is not null)
        {
            bool IsNeighbour(int p) => p == rank - 1 || p == rank + 1;
            windowSlot = exchange.Register(path + "#window", CommKind.Attention,
                PerPeer(p => IsNeighbour(p) ? Values(window[rank] * width) : 0),
                PerPeer(p => IsNeighbour(p) ? Values(window[p] * width) : 0),
                SlotSchedule.AsyncOnly);
        }
        return new Geometry(rank, width, rows, tokens, window, full, windowSlot);
    }

    /// <summary>PCPP's window: whole rows, ⌊p·rows⌋ but at least one when p &gt; 0, at most all.</summary>
    internal static int WindowRows(int rows, double ratio) =>
        ratio <= 0 ? 0 : Math.Min(rows, Math.Max(1, (int)Math.Floor(ratio * rows + 1e-9)));

    private sealed record Geometry(int Rank, int Width, int[] Rows, int[] Tokens, int[] WindowRows, int FullSlot, int WindowSlot)
    {
        public int WindowTokens() =>
            Tokens[Rank] + (Rank > 0 ? WindowRows[Rank - 1] * Width : 0) + (Rank < Tokens.Length - 1 ? WindowRows[Rank + 1] * Width : 0);
    }
}

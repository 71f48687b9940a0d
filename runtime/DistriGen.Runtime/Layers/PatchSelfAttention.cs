using DistriGen.Tensors;
using DistriGen.Tensors.Nn;

namespace DistriGen.Runtime.Layers;

/// <summary>
/// Self-attention on a band: queries from the own tokens, keys and values of the whole image in row
/// order — the own fresh, the others' from the previous step after warmup (DistriFusion). With PCPP,
/// after warmup a band attends to its own tokens plus the nearest whole rows (a fraction p of each
/// neighbour's rows, at least one when p &gt; 0), received from its neighbours only.
/// Cross-attention (keys from the text) is not rewritten.
/// </summary>
internal sealed class PatchSelfAttention(Attention source, PatchContext context, string path) : Attention(source)
{
    private Geometry? _geometry;

    public override Tensor Forward(Tensor x, Tensor? encoderStates = null)
    {
        if (encoderStates is not null) return base.Forward(x, encoderStates);
        using var q = ToQ.Forward(x);
        using var k = ToK.Forward(x);
        using var v = ToV.Forward(x);
        var g = _geometry ??= Register(x);
        if (x.IsMeta) return Attend(q, k, v);

        int rank = context.Rank;
        int batch = x.Dim(0), channels = k.Dim(2);
        var scheduler = context.Scheduler;
        bool pcppWindow = context.Mode == ParallelMode.Pcpp && !scheduler.IsSync;

        var parts = new List<(int Peer, int Tokens, int Offset)>();

        if (!pcppWindow)
        {
            void Own(int _, Span<float> destination) => PackTokens(k, v, 0, g.Tokens[rank], destination);
            if (scheduler.IsSync) context.Cache.Exchange(g.FullSlot, Own);
            for (int p = 0; p < context.Size; p++) parts.Add((p, g.Tokens[p], 0));
            using var kFull = Tensor.Empty(batch, g.Tokens.Sum(), channels);
            using var vFull = Tensor.Empty(batch, g.Tokens.Sum(), channels);
            Gather(kFull, vFull, k, v, parts, p => scheduler.IsSync ? context.Cache.Current(g.FullSlot, p) : context.Cache.Previous(g.FullSlot, p));
            if (!scheduler.IsSync && !scheduler.IsLastStep) context.Cache.Publish(g.FullSlot, Own);
            return Attend(q, kFull, vFull);
        }

        // PCPP after warmup: [last rows of the band above | own | first rows of the band below].
        int up = rank - 1, down = rank + 1;
        bool previousWasSync = scheduler.Step - 1 < context.Options.WarmupSteps;
        if (up >= 0 && g.WindowRows[up] > 0) parts.Add((up, g.WindowRows[up] * g.Width, previousWasSync ? (g.Rows[up] - g.WindowRows[up]) * g.Width : 0));
        parts.Add((rank, g.Tokens[rank], 0));
        if (down < context.Size && g.WindowRows[down] > 0) parts.Add((down, g.WindowRows[down] * g.Width, 0));
        int total = parts.Sum(p => p.Tokens);
        using var kWin = Tensor.Empty(batch, total, channels);
        using var vWin = Tensor.Empty(batch, total, channels);
        // Right after warmup the neighbours' rows come from the last synchronous full exchange.
        Gather(kWin, vWin, k, v, parts, p => previousWasSync ? context.Cache.Previous(g.FullSlot, p) : context.Cache.Previous(g.WindowSlot, p));
        if (!scheduler.IsLastStep)
        {
            int mine = g.WindowRows[rank] * g.Width;
            context.Cache.Publish(g.WindowSlot, (p, destination) => PackTokens(k, v, p == up ? 0 : g.Tokens[rank] - mine, mine, destination));
        }
        return Attend(q, kWin, vWin);
    }

    /// <summary>
    /// Copies keys and values into (B, total, C) in part order. A peer's part is read from its packed
    /// message at token <c>Offset</c> of a message holding that peer's full band or window.
    /// </summary>
    private void Gather(Tensor kOut, Tensor vOut, Tensor k, Tensor v, List<(int Peer, int Tokens, int Offset)> parts, Func<int, ReadOnlySpan<float>> received)
    {
        int batch = k.Dim(0), c = k.Dim(2), total = kOut.Dim(1);
        int position = 0;
        foreach (var (peer, tokens, offset) in parts)
        {
            if (peer == context.Rank)
            {
                for (int b = 0; b < batch; b++)
                {
                    k.Span.Slice(b * tokens * c, tokens * c).CopyTo(kOut.Span.Slice((b * total + position) * c));
                    v.Span.Slice(b * tokens * c, tokens * c).CopyTo(vOut.Span.Slice((b * total + position) * c));
                }
            }
            else
            {
                var message = received(peer);
                int messageTokens = message.Length / (2 * batch * c);
                for (int b = 0; b < batch; b++)
                {
                    message.Slice((b * messageTokens + offset) * c, tokens * c).CopyTo(kOut.Span.Slice((b * total + position) * c));
                    message.Slice(((batch + b) * messageTokens + offset) * c, tokens * c).CopyTo(vOut.Span.Slice((b * total + position) * c));
                }
            }
            position += tokens;
        }
    }

    /// <summary>Tokens [t0, t0 + count) of k then of v, batch by batch: [k b0 | k b1 | … | v b0 | v b1 | …].</summary>
    private static void PackTokens(Tensor k, Tensor v, int t0, int count, Span<float> packed)
    {
        int batch = k.Dim(0), n = k.Dim(1), c = k.Dim(2);
        if (packed.Length != 2 * batch * count * c)
            throw new InvalidOperationException($"A message of {packed.Length} values cannot hold keys and values of {count} tokens × {c} channels × batch {batch}: the registered size does not match.");
        for (int b = 0; b < batch; b++)
        {
            k.Span.Slice((b * n + t0) * c, count * c).CopyTo(packed.Slice(b * count * c));
            v.Span.Slice((b * n + t0) * c, count * c).CopyTo(packed.Slice((batch + b) * count * c));
        }
    }

    private Geometry Register(Tensor x)
    {
        var layout = context.Layout;
        int rank = context.Rank, size = context.Size;
        var (level, _, width) = layout.TokenShape(rank, x.Dim(1));
        int batch = x.Dim(0), channels = ToK.OutFeatures;
        var rows = Enumerable.Range(0, size).Select(p => layout.RowsAt(p, level)).ToArray();
        var tokens = rows.Select(r => r * width).ToArray();
        var window = rows.Select(r => WindowRows(r, context.Options.PcppRatio)).ToArray();
        int Values(int tokenCount) => 2 * batch * tokenCount * channels;

        bool pcpp = context.Mode == ParallelMode.Pcpp;
        int full = context.Cache.Register(path, CommKind.Attention, context.PerPeer(_ => Values(tokens[rank])), context.PerPeer(p => Values(tokens[p])),
            pcpp ? SlotSchedule.WarmupOnly : SlotSchedule.WarmupSyncThenAsync);
        int windowSlot = -1;
        if (pcpp)
        {
            bool IsNeighbour(int p) => p == rank - 1 || p == rank + 1;
            windowSlot = context.Cache.Register(path + "#window", CommKind.Attention,
                context.PerPeer(p => IsNeighbour(p) ? Values(window[rank] * width) : 0),
                context.PerPeer(p => IsNeighbour(p) ? Values(window[p] * width) : 0),
                SlotSchedule.AsyncOnly);
        }
        return new Geometry(width, rows, tokens, window, full, windowSlot);
    }

    /// <summary>PCPP's window: whole rows, ⌊p·rows⌋ but at least one when p &gt; 0, at most all.</summary>
    internal static int WindowRows(int rows, double ratio) =>
        ratio <= 0 ? 0 : Math.Min(rows, Math.Max(1, (int)Math.Floor(ratio * rows + 1e-9)));

    private sealed record Geometry(int Width, int[] Rows, int[] Tokens, int[] WindowRows, int FullSlot, int WindowSlot);
}

using System.Runtime.InteropServices;
using System.Text;

namespace DistriGen.Runtime.Communication;

/// <summary>Ranks whose requests are not the same: the first setting that differs and each rank's value of it.</summary>
public sealed class RanksDifferException(string message) : Exception(message);

/// <summary>
/// Before any work every rank shares what it was asked to do, so ranks started with different
/// arguments stop at once with one message naming the setting, instead of computing a wrong image or
/// exchanging messages of sizes the others do not expect.
/// </summary>
public static class RankAgreement
{
    private const int MaxBytes = 1 << 20;

    /// <summary>
    /// Every rank passes its settings as (name, value) pairs in the same order; throws
    /// <see cref="RanksDifferException"/> on every rank when any value differs.
    /// </summary>
    public static void Agree(ICommunicator comm, IReadOnlyList<(string Name, string Value)> settings)
    {
        if (comm.Size == 1) return;
        var text = string.Join("\n", settings.Select(s => $"{s.Name}\u001f{s.Value}"));
        var bytes = Encoding.UTF8.GetBytes(text);
        if (bytes.Length > MaxBytes) throw new ArgumentException($"The request description is {bytes.Length} bytes, more than {MaxBytes}.");
        // Lengths first (one value per rank, the same on all), then the texts with the counts all ranks now know.
        var lengths = new float[comm.Size];
        comm.AllGather([bytes.Length], Enumerable.Repeat(1, comm.Size).ToArray(), lengths);
        var words = lengths.Select(l => l is >= 0 and <= MaxBytes ? ((int)l + 3) / 4 : throw new RanksDifferException(
            $"A rank sent a request description of {l} bytes; the ranks differ in their DistriGen version or are not DistriGen.")).ToArray();
        var padded = new byte[words[comm.Rank] * 4];
        bytes.CopyTo(padded, 0);
        var all = new float[words.Sum()];
        comm.AllGather(MemoryMarshal.Cast<byte, float>(padded), words, all);
        var allBytes = MemoryMarshal.AsBytes(all.AsSpan());
        var perRank = new List<string[]>();
        for (int r = 0, offset = 0; r < comm.Size; offset += words[r] * 4, r++)
            perRank.Add(Encoding.UTF8.GetString(allBytes.Slice(offset, (int)lengths[r])).Split('\n'));
        for (int i = 0; i < settings.Count; i++)
        {
            var values = perRank.Select(lines => i < lines.Length && lines[i].Split('\u001f') is [var name, var value] && name == settings[i].Name ? value : null).ToList();
            if (values.Any(v => v is null))
                throw new RanksDifferException($"The ranks differ in what they describe (setting '{settings[i].Name}'): they run different DistriGen versions.");
            if (values.Distinct().Count() > 1)
                throw new RanksDifferException($"The ranks differ in {settings[i].Name}: " +
                    string.Join(", ", values.Select((v, r) => $"rank {r} has {v}")) + ". Start every rank with the same arguments.");
        }
    }
}

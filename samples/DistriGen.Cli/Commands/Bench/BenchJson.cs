using System.Text.Json;
using DistriGen.Tensors.IO;

namespace DistriGen.Cli.Commands.Bench;

/// <summary>Machine-readable benchmark results: one JSON document per run, written whole or not at all.</summary>
internal static class BenchJson
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static void Write(string? path, object document)
    {
        if (path is null) return;
        var bytes = JsonSerializer.SerializeToUtf8Bytes(document, Indented);
        AtomicFile.Write(path, s => s.Write(bytes));
    }
}

using System.Runtime.CompilerServices;

namespace DistriGen.Testing;

/// <summary>A snapshot that differs from its verified file; the new text was written beside it as *.received.cs.</summary>
public sealed class SnapshotMismatchException(string message) : Exception(message);

/// <summary>
/// Compares text with a <c>{name}.verified.cs</c> file next to the calling test. On a mismatch the
/// new text goes to <c>{name}.received.cs</c> and the test fails with the first differing line;
/// with DISTRIGEN_ACCEPT=1 the verified file is (re)written instead.
/// </summary>
public static class Snapshot
{
    public static void Verify(string actual, string name, [CallerFilePath] string callerFile = "")
    {
        var directory = Path.Combine(Path.GetDirectoryName(callerFile)!, "Snapshots");
        Directory.CreateDirectory(directory);
        var verified = Path.Combine(directory, name + ".verified.cs");
        var received = Path.Combine(directory, name + ".received.cs");
        var normalized = Normalize(actual);
        if (Environment.GetEnvironmentVariable("DISTRIGEN_ACCEPT") == "1")
        {
            File.WriteAllText(verified, normalized);
            if (File.Exists(received)) File.Delete(received);
            return;
        }
        if (File.Exists(verified) && Normalize(File.ReadAllText(verified)) == normalized)
        {
            if (File.Exists(received)) File.Delete(received);
            return;
        }
        File.WriteAllText(received, normalized);
        if (!File.Exists(verified))
            throw new SnapshotMismatchException($"No verified snapshot {verified} yet; the output is in {received}. Review it and rename it, or run with DISTRIGEN_ACCEPT=1.");
        throw new SnapshotMismatchException($"{name} differs from {verified}: {FirstDifference(Normalize(File.ReadAllText(verified)), normalized)}. The new output is in {received}; run with DISTRIGEN_ACCEPT=1 to accept it.");
    }

    private static string Normalize(string text) => text.Replace("\r\n", "\n").TrimStart('\uFEFF').TrimEnd() + "\n";

    private static string FirstDifference(string expected, string actual)
    {
        var e = expected.Split('\n');
        var a = actual.Split('\n');
        for (int i = 0; i < Math.Max(e.Length, a.Length); i++)
        {
            var el = i < e.Length ? e[i] : "<end>";
            var al = i < a.Length ? a[i] : "<end>";
            if (el != al) return $"line {i + 1}: expected «{el.Trim()}», got «{al.Trim()}»";
        }
        return "whitespace only";
    }
}

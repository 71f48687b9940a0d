namespace DistriGen.Tensors.IO;

/// <summary>
/// Output files that are either written whole or not at all: the data goes to a temporary file next
/// to the target, is flushed to disk, and only then renamed over it, so a failed or interrupted write
/// leaves the previous file as it was and never a truncated one.
/// </summary>
public static class AtomicFile
{
    /// <summary>
    /// Fails at once, naming <paramref name="what"/> (e.g. "--out"), when <paramref name="path"/> cannot be
    /// an output file: empty, a folder, under a path that is a file, or in a folder that cannot be written.
    /// </summary>
    public static void CheckWritable(string path, string what)
    {
        if (string.IsNullOrWhiteSpace(path)) throw new ArgumentException($"{what}: the output path is empty.");
        var full = Path.GetFullPath(path);
        if (Directory.Exists(full)) throw new ArgumentException($"{what} {path} is a folder; give a file name.");
        var parent = Path.GetDirectoryName(full);
        for (var p = parent; !string.IsNullOrEmpty(p); p = Path.GetDirectoryName(p))
        {
            if (File.Exists(p)) throw new ArgumentException($"{what} {path} is under {p}, which is a file, not a folder.");
            if (Directory.Exists(p)) break;
        }
        if (parent is not null && Directory.Exists(parent))
        {
            var probe = Path.Combine(parent, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.probe");
            try
            {
                using (File.Create(probe, 1, FileOptions.DeleteOnClose)) { }
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                throw new ArgumentException($"{what} {path}: the folder {parent} cannot be written ({e.Message}).");
            }
        }
    }

    /// <summary>Writes <paramref name="path"/> through a temporary file; on failure the target is untouched.</summary>
    public static void Write(string path, Action<Stream> write) => WriteAll([(path, write)]);

    /// <summary>
    /// Writes every file to its temporary name first and renames them only when all were written, so a
    /// failure leaves all targets as they were.
    /// </summary>
    public static void WriteAll(IReadOnlyList<(string Path, Action<Stream> Write)> files)
    {
        var temporaries = new List<(string Temporary, string Target)>();
        try
        {
            foreach (var (path, write) in files)
            {
                var target = Path.GetFullPath(path);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                var temporary = Path.Combine(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}.{Guid.NewGuid():N}.tmp");
                temporaries.Add((temporary, target));
                using var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16);
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            foreach (var (temporary, target) in temporaries) File.Move(temporary, target, overwrite: true);
        }
        catch
        {
            foreach (var (temporary, _) in temporaries)
                try { File.Delete(temporary); } catch (IOException) { }
            throw;
        }
    }
}

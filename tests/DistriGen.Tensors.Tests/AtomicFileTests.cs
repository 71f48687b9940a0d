using System.Diagnostics;
using DistriGen.Tensors.IO;

namespace DistriGen.Tensors.Tests;

/// <summary>Outputs are replaced whole or not at all, and unusable paths fail before any work.</summary>
public class AtomicFileTests
{
    [Fact]
    public void A_write_that_fails_halfway_leaves_the_previous_file_byte_for_byte()
    {
        using var dir = new TempDirectory();
        var path = dir.File("image.png");
        File.WriteAllBytes(path, [1, 2, 3, 4]);
        Assert.Throws<IOException>(() => AtomicFile.Write(path, s =>
        {
            s.Write(new byte[1000]);
            throw new IOException("disk full");
        }));
        Assert.Equal([1, 2, 3, 4], File.ReadAllBytes(path));
        Assert.Equal([path], Directory.GetFiles(dir.Path));
    }

    [Fact]
    public void When_the_second_file_fails_neither_is_replaced()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("a"), "old a");
        File.WriteAllText(dir.File("b"), "old b");
        Assert.Throws<InvalidOperationException>(() => AtomicFile.WriteAll([
            (dir.File("a"), s => s.Write("new a"u8)),
            (dir.File("b"), _ => throw new InvalidOperationException("encoding failed")),
        ]));
        Assert.Equal("old a", File.ReadAllText(dir.File("a")));
        Assert.Equal("old b", File.ReadAllText(dir.File("b")));
        Assert.Equal(2, Directory.GetFiles(dir.Path).Length);
    }

    [Fact]
    public void A_file_system_that_runs_out_of_space_leaves_the_previous_file()
    {
        using var dir = new TempDirectory();
        var mount = dir.File("small");
        Directory.CreateDirectory(mount);
        if (!Mount(mount)) return; // needs root and a kernel that lets this process mount; the injected failures above cover the rest
        try
        {
            var path = Path.Combine(mount, "latents.safetensors");
            File.WriteAllBytes(path, [9, 9, 9]);
            using var big = Tensor.Zeros(64 * 1024);
            Assert.ThrowsAny<IOException>(() => SafeTensorsWriter.Write(path, new Dictionary<string, Tensor> { ["x"] = big }));
            Assert.Equal([9, 9, 9], File.ReadAllBytes(path));
            Assert.Equal([path], Directory.GetFiles(mount));
        }
        finally
        {
            Process.Start("umount", mount)!.WaitForExit();
        }
    }

    private static bool Mount(string path)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("mount", ["-t", "tmpfs", "-o", "size=64k", "tmpfs", path]) { RedirectStandardError = true })!;
            p.WaitForExit();
            return p.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }

    [Fact]
    public void Unusable_output_paths_are_rejected_naming_the_option()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("file"), "x");
        Assert.Contains("--out", Assert.Throws<ArgumentException>(() => AtomicFile.CheckWritable("", "--out")).Message);
        Assert.Contains("folder", Assert.Throws<ArgumentException>(() => AtomicFile.CheckWritable(dir.Path, "--out")).Message);
        Assert.Contains("is a file", Assert.Throws<ArgumentException>(() => AtomicFile.CheckWritable(dir.File("file/image.png"), "--out")).Message);
        AtomicFile.CheckWritable(dir.File("new/folder/image.png"), "--out");
        Assert.Single(Directory.GetFiles(dir.Path));
    }
}

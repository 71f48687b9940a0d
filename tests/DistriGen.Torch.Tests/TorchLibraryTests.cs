using static DistriGen.Torch.Tests.TorchTesting;

namespace DistriGen.Torch.Tests;

/// <summary>Loading TorchSharp's native bridge on a libstdc++ older than GCC 13's.</summary>
public sealed class TorchLibraryTests
{
    private static string Bridge => Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libLibTorchSharp.so");

    [Fact]
    public void TheBridgeNeedsOneGlibcxxVersionAndMarkingItWeakChangesOneFlag()
    {
        var original = File.ReadAllBytes(Bridge);
        var copy = (byte[])original.Clone();
        Assert.Equal(1, ElfVersionNeeds.MarkWeak(copy, "GLIBCXX_3.4.32"));
        // One byte of one entry's 16-bit flags field: nothing else in the library changes.
        Assert.Equal(1, original.Zip(copy).Count(p => p.First != p.Second));
        Assert.Equal(0, ElfVersionNeeds.MarkWeak(copy, "GLIBCXX_3.4.32"));
        Assert.Equal(0, ElfVersionNeeds.MarkWeak((byte[])original.Clone(), "GLIBCXX_9.9"));
        Assert.Throws<InvalidDataException>(() => ElfVersionNeeds.MarkWeak(new byte[100], "GLIBCXX_3.4.32"));
    }

    [Fact]
    public void LibTorchLoadsAndSaysFromWhere()
    {
        TorchTesting.Load();
        Assert.True(TorchLibrary.TryEnsureLoaded(out var why), why);
        Assert.EndsWith("libLibTorchSharp.so", TorchLibrary.LoadedFrom);
    }
}

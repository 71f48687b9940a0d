namespace DistriGen.Runtime.Tests;

public sealed class BandLayoutTests
{
    [Fact]
    public void AnyNumberOfRanksSplitsAtTheCoarsestLevel()
    {
        var layout = new BandLayout(latentHeight: 40, latentWidth: 24, ranks: 3, alignment: 8);
        // 5 coarse rows over 3 ranks: 2, 2, 1.
        Assert.Equal([0, 16, 32], Enumerable.Range(0, 3).Select(layout.Start));
        Assert.Equal([16, 32, 40], Enumerable.Range(0, 3).Select(layout.End));
        Assert.Equal(2, layout.LevelOf(0, 4));
        Assert.Equal(1, layout.RowsAt(2, 3));
        Assert.Equal((1, 8, 12), layout.TokenShape(0, 96));
    }

    [Fact]
    public void WidthsFollowStrideTwoConvolutions() => Assert.Equal(9, new BandLayout(8, 33, 1, 8).WidthAt(2));

    [Theory]
    [InlineData(64, 16, 8, 128)]
    [InlineData(60, 2, 8, 64)]
    public void ASizeThatCannotBeSplitNamesTheSmallestThatWorks(int height, int ranks, int alignment, int smallest)
    {
        var e = Assert.Throws<ArgumentException>(() => new BandLayout(height, 64, ranks, alignment));
        Assert.Contains($"smallest height that works is {smallest}", e.Message);
    }

    [Fact]
    public void PcppWindowsAreWholeRowsAndAtLeastOneRow()
    {
        Assert.Equal(0, KeyValuePoint.WindowRows(16, 0));
        Assert.Equal(1, KeyValuePoint.WindowRows(2, 0.1));
        Assert.Equal(4, KeyValuePoint.WindowRows(16, 0.3));
        Assert.Equal(3, KeyValuePoint.WindowRows(10, 0.3));
        Assert.Equal(16, KeyValuePoint.WindowRows(16, 1));
    }

    [Fact]
    public void OptionsAreValidatedWithMessagesNamingTheOption()
    {
        Assert.Contains("--warmup-steps", Assert.Throws<ArgumentOutOfRangeException>(() => new PatchParallelOptions { WarmupSteps = 0 }.Validate()).Message);
        Assert.Contains("--pcpp-ratio", Assert.Throws<ArgumentOutOfRangeException>(() => new PatchParallelOptions { PcppRatio = 1.5 }.Validate()).Message);
    }
}

using System.Diagnostics;
using DistriGen.Runtime.Communication;

namespace DistriGen.Runtime.Tests;

/// <summary>Ranks as threads: messages, collectives, groups, and failures that never hang.</summary>
public sealed class InProcessCommunicatorTests
{
    [Fact]
    public void SendIsBufferedSoNeighboursCanExchangeWithoutDeadlock()
    {
        var received = InProcessLauncher.Run(3, 1, comm =>
        {
            int up = (comm.Rank + comm.Size - 1) % comm.Size, down = (comm.Rank + 1) % comm.Size;
            comm.Send(up, 7, [comm.Rank, 10f]);
            comm.Send(down, 7, [comm.Rank, 20f]);
            var fromUp = new float[2];
            var fromDown = new float[2];
            comm.Receive(up, 7, fromUp);
            comm.Receive(down, 7, fromDown);
            return (fromUp, fromDown);
        });
        for (int r = 0; r < 3; r++)
        {
            Assert.Equal(new[] { (r + 2) % 3, 20f }, received[r].fromUp);
            Assert.Equal(new[] { (r + 1) % 3, 10f }, received[r].fromDown);
        }
    }

    [Fact]
    public void AllGatherConcatenatesUnequalContributionsInRankOrder()
    {
        var results = InProcessLauncher.Run(3, 1, comm =>
        {
            int[] counts = [1, 3, 2];
            var mine = Enumerable.Repeat((float)comm.Rank, counts[comm.Rank]).ToArray();
            var all = new float[6];
            comm.AllGather(mine, counts, all);
            return all;
        });
        Assert.All(results, r => Assert.Equal(new float[] { 0, 1, 1, 1, 2, 2 }, r));
    }

    [Fact]
    public void AllReduceGivesBitIdenticalSumsOnEveryRank()
    {
        var results = InProcessLauncher.Run(4, 1, comm =>
        {
            var values = new[] { 0.1 * (comm.Rank + 1), 1e-17 * comm.Rank, 1.0 };
            comm.AllReduceSum(values);
            return values;
        });
        Assert.All(results, r => Assert.Equal(results[0], r));
        Assert.Equal(4.0, results[0][2]);
    }

    [Fact]
    public void SplitFormsGroupsWithTheirOwnRanks()
    {
        var results = InProcessLauncher.Run(4, 1, comm =>
        {
            using var group = comm.Split(comm.Rank / 2, comm.Rank);
            var all = new float[2];
            group.AllGather([comm.Rank], [1, 1], all);
            return (group.Rank, group.Size, all);
        });
        Assert.Equal((0, 2), (results[0].Rank, results[0].Size));
        Assert.Equal((1, 2), (results[3].Rank, results[3].Size));
        Assert.Equal(new float[] { 2, 3 }, results[2].all);
    }

    [Fact]
    public void AMissingMessageTimesOutWithAClearError()
    {
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<RankFailedException>(() => InProcessLauncher.Run(2, 1, comm =>
        {
            if (comm.Rank == 0) comm.Receive(1, 42, new float[1]);
            return 0;
        }, TimeSpan.FromMilliseconds(300)));
        Assert.IsType<CommunicationTimeoutException>(e.InnerException);
        Assert.Contains("waited", e.Message);
        Assert.Contains("rank 1", e.Message);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10));
    }

    [Fact]
    public void AFailingRankStopsTheOthersAndIsReportedAsTheCause()
    {
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<RankFailedException>(() => InProcessLauncher.Run(3, 1, comm =>
        {
            if (comm.Rank == 1) throw new InvalidDataException("bad weights on rank 1");
            comm.Receive(1, 1, new float[1]);
            return 0;
        }, TimeSpan.FromSeconds(30)));
        Assert.Equal(1, e.Rank);
        Assert.IsType<InvalidDataException>(e.InnerException);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(10), "the other ranks stop at once, not at the timeout");
    }

    [Fact]
    public void AMessageOfTheWrongSizeIsAnError()
    {
        var e = Assert.Throws<RankFailedException>(() => InProcessLauncher.Run(2, 1, comm =>
        {
            if (comm.Rank == 1) comm.Send(0, 3, new float[5]);
            else comm.Receive(1, 3, new float[4]);
            return 0;
        }, TimeSpan.FromSeconds(5)));
        Assert.Contains("out of step", e.Message);
    }

    [Fact]
    public void A_rank_that_never_returns_does_not_hang_the_launcher()
    {
        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<RankFailedException>(() => InProcessLauncher.Run(2, 1, comm =>
        {
            if (comm.Rank == 1) Thread.Sleep(TimeSpan.FromMinutes(5)); // a rank stuck outside any exchange
            else comm.Receive(1, 5, new float[1]);
            return 0;
        }, TimeSpan.FromMilliseconds(300)));
        Assert.Contains("waited 0.3 s for rank 1", e.Message);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(30), $"the launcher waited {watch.Elapsed} for a stuck rank");
    }

    [Fact]
    public void All_gather_contributions_of_the_wrong_size_are_refused_before_copying()
    {
        var e = Assert.Throws<RankFailedException>(() => InProcessLauncher.Run(2, 1, comm =>
        {
            // Rank 1 believes it contributes 3 values and sends them; rank 0 expects 2 from it.
            int[] counts = comm.Rank == 0 ? [2, 2] : [2, 3];
            var all = new float[counts.Sum()];
            comm.AllGather(new float[counts[comm.Rank]], counts, all);
            return 0;
        }, TimeSpan.FromSeconds(5)));
        Assert.Contains("expected 2 values from rank 1", e.Message);
    }
}

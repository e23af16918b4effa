namespace MagDi.Losses.Tests;

public class PairingStrategyTests
{
    private static readonly int[] FivePositives = [10, 11, 12, 13, 14];
    private static readonly int[] ThreeNegatives = [20, 21, 22];

    [Fact]
    public void Paper_PairsOneToOneThenLeftoversWithRandomMinorityNodes()
    {
        var pairs = PairingStrategy.Paper.Pair(FivePositives, ThreeNegatives, new Random(1));

        Assert.Equal(5, pairs.Count);
        Assert.Equal([(10, 20), (11, 21), (12, 22)], pairs.Take(3));
        Assert.Equal([13, 14], pairs.Skip(3).Select(p => p.Positive));
        Assert.All(pairs.Skip(3), p => Assert.Contains(p.Negative, ThreeNegatives));
    }

    [Fact]
    public void Paper_WithNegativeMajority_SamplesPositives()
    {
        var pairs = PairingStrategy.Paper.Pair([1, 2], [5, 6, 7, 8], new Random(3));

        Assert.Equal(4, pairs.Count);
        Assert.Equal([5, 6, 7, 8], pairs.Select(p => p.Negative));
        Assert.All(pairs.Skip(2), p => Assert.Contains(p.Positive, new[] { 1, 2 }));
    }

    [Fact]
    public void Paper_IsDeterministicForASeed_AndSamplesDifferentlyAcrossSeeds()
    {
        int[] many = Enumerable.Range(0, 40).ToArray();
        var a = PairingStrategy.Paper.Pair(many, [100, 101, 102], new Random(7));
        var b = PairingStrategy.Paper.Pair(many, [100, 101, 102], new Random(7));
        var c = PairingStrategy.Paper.Pair(many, [100, 101, 102], new Random(8));

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
        Assert.Equal(3, a.Select(p => p.Negative).Distinct().Count());   // 37 draws from 3 hit all of them
    }

    [Fact]
    public void Cyclic_RepeatsTheSmallerGroup()
    {
        var pairs = PairingStrategy.Cyclic.Pair(FivePositives, ThreeNegatives, new Random(0));

        Assert.Equal([(10, 20), (11, 21), (12, 22), (13, 20), (14, 21)], pairs);
    }

    [Fact]
    public void AllPairs_IsTheCrossProduct()
    {
        var pairs = PairingStrategy.AllPairs.Pair(FivePositives, ThreeNegatives, new Random(0));

        Assert.Equal(15, pairs.Count);
        Assert.Equal(15, pairs.Distinct().Count());
    }

    public static TheoryData<string> Strategies => new() { "paper", "cyclic", "all-pairs" };

    [Theory]
    [MemberData(nameof(Strategies))]
    public void EmptyGroup_GivesNoPairs(string name)
    {
        PairingStrategy strategy = new[] { PairingStrategy.Paper, PairingStrategy.Cyclic, PairingStrategy.AllPairs }.Single(s => s.Name == name);

        Assert.Empty(strategy.Pair([], ThreeNegatives, new Random(0)));
        Assert.Empty(strategy.Pair(FivePositives, [], new Random(0)));
        Assert.Empty(strategy.Pair([], [], new Random(0)));
    }

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(1, 11, 11)]
    [InlineData(6, 6, 6)]
    [InlineData(9, 2, 9)]
    public void PaperAndCyclic_FormMaxOfGroupSizesPairs(int positives, int negatives, int expected)
    {
        int[] p = Enumerable.Range(0, positives).ToArray();
        int[] n = Enumerable.Range(100, negatives).ToArray();

        Assert.Equal(expected, PairingStrategy.Paper.Pair(p, n, new Random(0)).Count);
        Assert.Equal(expected, PairingStrategy.Cyclic.Pair(p, n, new Random(0)).Count);
        Assert.Equal(positives * negatives, PairingStrategy.AllPairs.Pair(p, n, new Random(0)).Count);
    }
}

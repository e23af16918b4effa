using MagDi.Training.Experiments;

namespace MagDi.Training.Tests;

public sealed class ExperimentStatisticsTests
{
    private static double[,] Matrix(params int[][] rows)
    {
        var m = new double[rows.Length, rows[0].Length];
        for (int i = 0; i < rows.Length; i++)
        {
            for (int j = 0; j < rows[i].Length; j++)
            {
                m[i, j] = rows[i][j];
            }
        }

        return m;
    }

    [Theory]
    [InlineData(0.975, 1, 12.706204736)]
    [InlineData(0.975, 2, 4.302652730)]
    [InlineData(0.975, 4, 2.776445105)]
    [InlineData(0.975, 9, 2.262157163)]
    [InlineData(0.975, 30, 2.042272456)]
    [InlineData(0.975, 2.5, 3.5746548)]
    [InlineData(0.95, 5, 2.015048373)]
    [InlineData(0.025, 3, -3.182446305)]
    [InlineData(0.975, double.PositiveInfinity, 1.959963985)]
    public void StudentTQuantile_MatchesTables(double p, double df, double expected) =>
        Assert.Equal(expected, ExperimentStatistics.StudentTQuantile(p, df), 5);

    [Fact]
    public void LogGammaAndIncompleteBeta_MatchKnownValues()
    {
        Assert.Equal(Math.Log(24), ExperimentStatistics.LogGamma(5), 12);
        Assert.Equal(Math.Log(Math.Sqrt(Math.PI)), ExperimentStatistics.LogGamma(0.5), 12);
        // I_x(1, 1) = x and I_x(2, 1) = x^2.
        Assert.Equal(0.3, ExperimentStatistics.RegularizedIncompleteBeta(0.3, 1, 1), 12);
        Assert.Equal(0.09, ExperimentStatistics.RegularizedIncompleteBeta(0.3, 2, 1), 12);
    }

    [Fact]
    public void Accuracy_OneSeed_IsTheQuestionMeanWithATInterval_ComputedByHand()
    {
        // 4 questions, 3 correct: mean 0.75, sample variance of (1,1,1,0) = 0.25, SE = sqrt(0.25 / 4) = 0.25, df = 3.
        Interval a = ExperimentStatistics.Accuracy(Matrix([1, 1, 1, 0]));

        Assert.Equal(0.75, a.Mean, 12);
        double half = 3.182446305 * 0.25;
        Assert.Equal(0.75 - half, a.Low, 6);
        Assert.Equal(0.75 + half, a.High, 6);
    }

    [Fact]
    public void Accuracy_SeveralSeeds_CombinesSeedAndQuestionVariance_ComputedByHand()
    {
        // Seeds: 3/4, 1/4, 2/4 -> per-seed (0.75, 0.25, 0.5), mean 0.5, var 0.0625, seed part 0.0625 / 3.
        // Per-question means over seeds: (1, 2/3, 0, 1/3): var = 0.185185..., question part / 4.
        var scores = Matrix([1, 1, 0, 1], [1, 0, 0, 0], [1, 1, 0, 0]);
        double seedPart = 0.0625 / 3;
        double[] q = [1, 2.0 / 3, 0, 1.0 / 3];
        double qMean = q.Average();
        double questionPart = q.Sum(v => (v - qMean) * (v - qMean)) / 3 / 4;
        double se2 = seedPart + questionPart;
        double df = se2 * se2 / ((seedPart * seedPart / 2) + (questionPart * questionPart / 3));

        Interval a = ExperimentStatistics.Accuracy(scores);

        Assert.Equal(0.5, a.Mean, 12);
        Assert.Equal([0.75, 0.25, 0.5], ExperimentStatistics.PerSeed(scores));
        double half = ExperimentStatistics.StudentTQuantile(0.975, df) * Math.Sqrt(se2);
        Assert.Equal(0.5 - half, a.Low, 10);
        Assert.Equal(0.5 + half, a.High, 10);
        Assert.InRange(df, 2, 5); // between the two parts' degrees of freedom
    }

    [Fact]
    public void Accuracy_AllRightEverywhere_HasAZeroWidthInterval()
    {
        Interval a = ExperimentStatistics.Accuracy(Matrix([1, 1, 1], [1, 1, 1]));
        Assert.Equal(new Interval(1, 1, 1), a);
    }

    [Fact]
    public void PairedBootstrap_ConstantDifference_IsExactAndSignificant()
    {
        // Row a is right on every question, b on none: every resample gives a difference of exactly 1.
        var (d, p) = ExperimentStatistics.PairedBootstrap(Matrix([1, 1, 1, 1], [1, 1, 1, 1]), Matrix([0, 0, 0, 0], [0, 0, 0, 0]), resamples: 2000);

        Assert.Equal(new Interval(1, 1, 1), d);
        Assert.True(p < 0.002, $"p = {p}");
    }

    [Fact]
    public void PairedBootstrap_SameRows_HaveNoDifference()
    {
        var a = Matrix([1, 0, 1, 0, 1], [0, 0, 1, 1, 1]);
        var (d, p) = ExperimentStatistics.PairedBootstrap(a, a);

        Assert.Equal(new Interval(0, 0, 0), d);
        Assert.Equal(1.0, p);
    }

    [Fact]
    public void PairedBootstrap_TwoQuestions_MatchesTheEnumeratedDistribution()
    {
        // One seed, two questions with differences (+1, 0): resampling two questions gives means 1, 0.5, 0.5, 0 with
        // probabilities 1/4, 1/2, 1/4. P(d <= 0) = 1/4, so p = 2 * (1/4) = 0.5 up to sampling noise.
        var (d, p) = ExperimentStatistics.PairedBootstrap(Matrix([1, 0]), Matrix([0, 0]), resamples: 20_000, seed: 3);

        Assert.Equal(0.5, d.Mean, 12);
        Assert.Equal(0.0, d.Low, 12);
        Assert.Equal(1.0, d.High, 12);
        Assert.InRange(p, 0.47, 0.53);
    }

    [Fact]
    public void PairedBootstrap_LargeSample_AgreesWithTheNormalApproximation()
    {
        // One seed, 400 questions: a right on 240, b on 200, discordant pairs 60 (a only) and 20 (b only).
        // The paired difference has mean 0.1 and SE sqrt((80/400 - 0.1^2) / 400) = 0.02179; normal 95 % half-width 0.0427.
        var a = new double[1, 400];
        var b = new double[1, 400];
        for (int j = 0; j < 400; j++)
        {
            a[0, j] = j < 240 ? 1 : 0;
            b[0, j] = j < 180 || (j >= 240 && j < 260) ? 1 : 0;
        }

        var (d, p) = ExperimentStatistics.PairedBootstrap(a, b, resamples: 20_000, seed: 5);

        Assert.Equal(0.1, d.Mean, 12);
        Assert.InRange(d.Low, 0.1 - 0.0427 - 0.006, 0.1 - 0.0427 + 0.006);
        Assert.InRange(d.High, 0.1 + 0.0427 - 0.006, 0.1 + 0.0427 + 0.006);
        Assert.True(p < 0.002, $"p = {p}");
    }

    [Fact]
    public void PairedBootstrap_RejectsUnpairedRows() =>
        Assert.Throws<ArgumentException>(() => ExperimentStatistics.PairedBootstrap(Matrix([1, 0]), Matrix([1, 0, 1])));
}

/// <summary>Paired speed ratios (after / before, or one path / the other, measured in the same rounds).</summary>
internal static class PairedRatio
{
    /// <summary>
    /// Two-sided 95 % Student t quantiles for 1..30 degrees of freedom; beyond 30 the value for 30 (slightly wide, never
    /// narrow). The library's exact quantile (ExperimentStatistics.StudentTQuantile) is internal to MagDi.Training.
    /// </summary>
    private static readonly double[] T95 =
    [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
        2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086,
        2.080, 2.074, 2.069, 2.064, 2.060, 2.056, 2.052, 2.048, 2.045, 2.042,
    ];

    /// <summary>The geometric mean of <paramref name="ratios"/> and a 95 % t interval on their logarithms (NaN bounds for one ratio).</summary>
    public static (double Mean, double Low, double High) GeometricMeanInterval(IReadOnlyList<double> ratios)
    {
        ArgumentOutOfRangeException.ThrowIfZero(ratios.Count);
        double[] logs = [.. ratios.Select(r => Math.Log(r))];
        double mean = logs.Average();
        if (logs.Length < 2)
        {
            return (Math.Exp(mean), double.NaN, double.NaN);
        }

        double sd = Math.Sqrt(logs.Sum(x => (x - mean) * (x - mean)) / (logs.Length - 1));
        double t = T95[Math.Min(logs.Length - 1, T95.Length) - 1];
        double half = t * sd / Math.Sqrt(logs.Length);
        return (Math.Exp(mean), Math.Exp(mean - half), Math.Exp(mean + half));
    }
}

namespace MagDi.Training.Experiments;

/// <summary>A mean with its 95 % confidence interval.</summary>
public readonly struct Interval
{
    internal Interval(double mean, double low, double high)
    {
        Mean = mean;
        Low = low;
        High = high;
    }

    /// <summary>The mean.</summary>
    public double Mean { get; }

    /// <summary>Lower end of the 95 % interval.</summary>
    public double Low { get; }

    /// <summary>Upper end of the 95 % interval.</summary>
    public double High { get; }

    /// <summary>Whether the interval lies entirely above zero.</summary>
    public bool ExcludesZeroAbove => Low > 0;

    /// <summary>Whether the interval lies entirely below zero.</summary>
    public bool ExcludesZeroBelow => High < 0;
}

/// <summary>
/// The statistics of an experiment: accuracies over seeds and questions, and paired comparisons between rows that were
/// evaluated on the same questions with the same seeds.
/// </summary>
/// <remarks>
/// Scores are a matrix [seeds, questions] of per-question scores (1 correct, 0 wrong). Two sources of chance move a
/// row's accuracy: the training run (its seed) and which questions the test set happens to hold.
/// <list type="bullet">
/// <item>A row's interval combines both: <c>SE² = s²_seeds / S + s²_questions / Q</c>, where <c>s²_seeds</c> is the sample
/// variance of the per-seed accuracies and <c>s²_questions</c> the sample variance of the per-question scores averaged over
/// seeds, with Student's t at the Welch-Satterthwaite degrees of freedom. One seed leaves only the question part.</item>
/// <item>A comparison of two rows is a paired bootstrap over both sources (seeds resampled, then questions, the same draws
/// for both rows), giving the mean difference, its 95 % percentile interval and a two-sided p-value.</item>
/// </list>
/// </remarks>
internal static class ExperimentStatistics
{
    /// <summary>Mean accuracy of <paramref name="scores"/> [seeds, questions] with its 95 % interval.</summary>
    public static Interval Accuracy(double[,] scores)
    {
        int s = scores.GetLength(0), q = scores.GetLength(1);
        if (s == 0 || q == 0)
        {
            throw new ArgumentException("Scores need at least one seed and one question.", nameof(scores));
        }

        double[] perSeed = PerSeed(scores);
        double[] perQuestion = PerQuestion(scores);
        double mean = perSeed.Average();
        double seedPart = s > 1 ? Variance(perSeed) / s : 0;
        double questionPart = q > 1 ? Variance(perQuestion) / q : 0;
        double se2 = seedPart + questionPart;
        if (se2 <= 0)
        {
            return new Interval(mean, mean, mean);
        }

        // Welch-Satterthwaite: the parts have S - 1 and Q - 1 degrees of freedom.
        double denominator = (s > 1 ? seedPart * seedPart / (s - 1) : 0) + (q > 1 ? questionPart * questionPart / (q - 1) : 0);
        double df = denominator > 0 ? se2 * se2 / denominator : double.PositiveInfinity;
        double half = StudentTQuantile(0.975, df) * Math.Sqrt(se2);
        return new Interval(mean, mean - half, mean + half);
    }

    /// <summary>Accuracy of each seed (mean over questions).</summary>
    public static double[] PerSeed(double[,] scores)
    {
        int s = scores.GetLength(0), q = scores.GetLength(1);
        var result = new double[s];
        for (int i = 0; i < s; i++)
        {
            double sum = 0;
            for (int j = 0; j < q; j++)
            {
                sum += scores[i, j];
            }

            result[i] = sum / q;
        }

        return result;
    }

    /// <summary>Score of each question averaged over seeds.</summary>
    public static double[] PerQuestion(double[,] scores)
    {
        int s = scores.GetLength(0), q = scores.GetLength(1);
        var result = new double[q];
        for (int j = 0; j < q; j++)
        {
            double sum = 0;
            for (int i = 0; i < s; i++)
            {
                sum += scores[i, j];
            }

            result[j] = sum / s;
        }

        return result;
    }

    /// <summary><c>a - b</c> per seed and question (same shapes), e.g. a student's self-consistency gain.</summary>
    public static double[,] Difference(double[,] a, double[,] b)
    {
        var d = new double[a.GetLength(0), a.GetLength(1)];
        for (int i = 0; i < a.GetLength(0); i++)
        {
            for (int j = 0; j < a.GetLength(1); j++)
            {
                d[i, j] = a[i, j] - b[i, j];
            }
        }

        return d;
    }

    /// <summary>
    /// Paired bootstrap of <c>mean(a) - mean(b)</c>: each resample draws S seeds with replacement, then Q questions with
    /// replacement, and uses the same draws for both rows.
    /// </summary>
    /// <returns>The observed difference with its 95 % percentile interval, and the two-sided p-value of "no difference".</returns>
    public static (Interval Difference, double PValue) PairedBootstrap(double[,] a, double[,] b, int resamples = 10_000, int seed = 12345)
    {
        int s = a.GetLength(0), q = a.GetLength(1);
        if (b.GetLength(0) != s || b.GetLength(1) != q)
        {
            throw new ArgumentException($"Paired rows need the same seeds and questions ([{s}, {q}] vs [{b.GetLength(0)}, {b.GetLength(1)}]).", nameof(b));
        }

        if (s == 0 || q == 0)
        {
            throw new ArgumentException("Scores need at least one seed and one question.", nameof(a));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(resamples, 100);
        double[,] d = Difference(a, b);
        double observed = 0;
        foreach (double value in d)
        {
            observed += value;
        }

        observed /= s * q;
        var rng = new Random(seed);
        var samples = new double[resamples];
        var seeds = new int[s];
        for (int r = 0; r < resamples; r++)
        {
            for (int i = 0; i < s; i++)
            {
                seeds[i] = rng.Next(s);
            }

            double sum = 0;
            for (int j = 0; j < q; j++)
            {
                int question = rng.Next(q);
                for (int i = 0; i < s; i++)
                {
                    sum += d[seeds[i], question];
                }
            }

            samples[r] = sum / (s * q);
        }

        Array.Sort(samples);
        double low = Percentile(samples, 0.025), high = Percentile(samples, 0.975);
        int atOrBelow = samples.Count(x => x <= 0), atOrAbove = samples.Count(x => x >= 0);
        double p = Math.Min(1.0, 2.0 * (Math.Min(atOrBelow, atOrAbove) + 1) / (resamples + 1));
        if (low == high && low == observed && observed != 0)
        {
            p = 2.0 / (resamples + 1); // every resample agrees: the smallest p-value this many resamples can show
        }

        return (new Interval(observed, low, high), p);
    }

    /// <summary>Linear-interpolated percentile of sorted values (the "R-7" definition, as numpy's default).</summary>
    internal static double Percentile(double[] sorted, double p)
    {
        double h = (sorted.Length - 1) * p;
        int lo = (int)Math.Floor(h);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + ((h - lo) * (sorted[hi] - sorted[lo]));
    }

    /// <summary>Sample variance (n - 1 in the denominator).</summary>
    internal static double Variance(IReadOnlyList<double> values)
    {
        if (values.Count < 2)
        {
            return 0;
        }

        double mean = values.Average();
        return values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1);
    }

    /// <summary>The <paramref name="p"/> quantile of Student's t with <paramref name="df"/> degrees of freedom (the normal for infinite df).</summary>
    internal static double StudentTQuantile(double p, double df)
    {
        if (!(p > 0 && p < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, "p must be in (0, 1).");
        }

        if (!(df > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(df), df, "Degrees of freedom must be positive.");
        }

        if (p < 0.5)
        {
            return -StudentTQuantile(1 - p, df);
        }

        // Bisection on the CDF: monotone, and 200 halvings of [0, 1e6] reach double precision.
        double lo = 0, hi = 1e6;
        for (int i = 0; i < 200 && hi - lo > 1e-13 * Math.Max(1, hi); i++)
        {
            double mid = 0.5 * (lo + hi);
            if (StudentTCdf(mid, df) < p)
            {
                lo = mid;
            }
            else
            {
                hi = mid;
            }
        }

        return 0.5 * (lo + hi);
    }

    /// <summary>The CDF of Student's t: <c>1 - I_{df/(df+t²)}(df/2, 1/2) / 2</c> for t ≥ 0.</summary>
    internal static double StudentTCdf(double t, double df)
    {
        if (double.IsPositiveInfinity(df))
        {
            return NormalCdf(t);
        }

        double x = df / (df + (t * t));
        double tail = 0.5 * RegularizedIncompleteBeta(x, df / 2, 0.5);
        return t >= 0 ? 1 - tail : tail;
    }

    private static double NormalCdf(double z) => 0.5 * Erfc(-z / Math.Sqrt(2));

    /// <summary>erfc through the regularized incomplete gamma function Q(1/2, x²), accurate to double precision.</summary>
    private static double Erfc(double x)
    {
        if (x < 0)
        {
            return 2 - Erfc(-x);
        }

        return x == 0 ? 1 : UpperIncompleteGammaRatio(0.5, x * x);
    }

    /// <summary>Q(a, x) = Γ(a, x) / Γ(a) by the series (x &lt; a + 1) or the continued fraction (Numerical Recipes 6.2).</summary>
    private static double UpperIncompleteGammaRatio(double a, double x)
    {
        double gln = LogGamma(a);
        if (x < a + 1)
        {
            double sum = 1 / a, term = sum, ap = a;
            for (int n = 0; n < 1000; n++)
            {
                ap++;
                term *= x / ap;
                sum += term;
                if (Math.Abs(term) < Math.Abs(sum) * 1e-16)
                {
                    break;
                }
            }

            return 1 - (sum * Math.Exp(-x + (a * Math.Log(x)) - gln));
        }

        double b = x + 1 - a, c = 1 / 1e-300, d = 1 / b, h = d;
        for (int i = 1; i < 1000; i++)
        {
            double an = -i * (i - a);
            b += 2;
            d = (an * d) + b;
            if (Math.Abs(d) < 1e-300) d = 1e-300;
            c = b + (an / c);
            if (Math.Abs(c) < 1e-300) c = 1e-300;
            d = 1 / d;
            double delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < 1e-16)
            {
                break;
            }
        }

        return Math.Exp(-x + (a * Math.Log(x)) - gln) * h;
    }

    /// <summary>I_x(a, b), the regularized incomplete beta function (Numerical Recipes 6.4, Lentz's continued fraction).</summary>
    internal static double RegularizedIncompleteBeta(double x, double a, double b)
    {
        if (x <= 0)
        {
            return 0;
        }

        if (x >= 1)
        {
            return 1;
        }

        double front = Math.Exp((a * Math.Log(x)) + (b * Math.Log(1 - x)) - (LogGamma(a) + LogGamma(b) - LogGamma(a + b)));
        return x < (a + 1) / (a + b + 2)
            ? front * BetaContinuedFraction(x, a, b) / a
            : 1 - (front * BetaContinuedFraction(1 - x, b, a) / b);
    }

    private static double BetaContinuedFraction(double x, double a, double b)
    {
        const double Tiny = 1e-300;
        double qab = a + b, qap = a + 1, qam = a - 1;
        double c = 1, d = 1 - (qab * x / qap);
        if (Math.Abs(d) < Tiny) d = Tiny;
        d = 1 / d;
        double h = d;
        for (int m = 1; m <= 1000; m++)
        {
            int m2 = 2 * m;
            double aa = m * (b - m) * x / ((qam + m2) * (a + m2));
            d = 1 + (aa * d);
            if (Math.Abs(d) < Tiny) d = Tiny;
            c = 1 + (aa / c);
            if (Math.Abs(c) < Tiny) c = Tiny;
            d = 1 / d;
            h *= d * c;
            aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2));
            d = 1 + (aa * d);
            if (Math.Abs(d) < Tiny) d = Tiny;
            c = 1 + (aa / c);
            if (Math.Abs(c) < Tiny) c = Tiny;
            d = 1 / d;
            double delta = d * c;
            h *= delta;
            if (Math.Abs(delta - 1) < 1e-16)
            {
                break;
            }
        }

        return h;
    }

    /// <summary>ln Γ(x) for x &gt; 0 (Lanczos, g = 7, nine coefficients; about 15 significant digits).</summary>
    internal static double LogGamma(double x)
    {
        ReadOnlySpan<double> g =
        [
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
        ];
        if (x < 0.5)
        {
            return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        }

        x -= 1;
        double sum = g[0];
        for (int i = 1; i < g.Length; i++)
        {
            sum += g[i] / (x + i);
        }

        double t = x + 7.5;
        return (0.5 * Math.Log(2 * Math.PI)) + ((x + 0.5) * Math.Log(t)) - t + Math.Log(sum);
    }
}

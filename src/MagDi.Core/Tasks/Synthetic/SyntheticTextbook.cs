using System.Globalization;

namespace MagDi.Tasks.Synthetic;

/// <summary>One problem of a pretraining corpus with its worked solution.</summary>
/// <param name="Problem">The problem.</param>
/// <param name="Reasoning">The worked solution (without the final "So the answer is" sentence).</param>
/// <param name="Answer">The answer the solution reaches.</param>
/// <param name="Derivation">The numbers behind the solution, with its mistake if it has one.</param>
public sealed record SyntheticWorkedExample(SyntheticProblem Problem, string Reasoning, string Answer, SyntheticDerivation Derivation)
{
    /// <summary>Whether the solution reaches the gold answer.</summary>
    public bool IsCorrect => Derivation.IsCorrect;
}

/// <summary>Settings of <see cref="SyntheticTextbook.Write"/>.</summary>
public sealed class SyntheticTextbookOptions
{
    /// <summary>Share of solutions that contain one mistake (of any <see cref="ReasoningMistake"/> kind). Default 0.1.</summary>
    public double MistakeRate { get; set; } = 0.1;

    /// <summary>Seed of the wording and of the mistakes. Default 0.</summary>
    public int Seed { get; set; }
}

/// <summary>
/// Worked solutions of synthetic problems in a neutral textbook voice, for the corpus a base student is pretrained on
/// before it ever sees a teacher. Each solution walks through the steps in the question's order, with its wording drawn
/// from a small bank of phrasings (as a corpus written by many authors would be) and, at
/// <see cref="SyntheticTextbookOptions.MistakeRate"/>, one mistake that the following steps build on (as web text has).
/// It is not teacher output: it shares the language of the problems, not any teacher's style.
/// </summary>
public static class SyntheticTextbook
{
    private static readonly ReasoningMistake[] AllMistakes = Enum.GetValues<ReasoningMistake>();

    /// <summary>Writes one worked solution per problem, in order. The same seed gives the same text.</summary>
    /// <exception cref="ArgumentException">The mistake rate is outside [0, 1].</exception>
    public static IEnumerable<SyntheticWorkedExample> Write(IEnumerable<SyntheticProblem> problems, SyntheticTextbookOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(problems);
        options ??= new SyntheticTextbookOptions();
        if (!(options.MistakeRate is >= 0 and <= 1))
        {
            throw new ArgumentException($"MistakeRate must be in [0, 1] (was {options.MistakeRate}).", nameof(options));
        }

        return WriteCore(problems, options);
    }

    private static IEnumerable<SyntheticWorkedExample> WriteCore(IEnumerable<SyntheticProblem> problems, SyntheticTextbookOptions options)
    {
        var rng = new Random(options.Seed);
        foreach (SyntheticProblem p in problems)
        {
            SyntheticDerivation d = rng.NextDouble() < options.MistakeRate
                ? SyntheticDerivation.WithMistake(p, AllMistakes[rng.Next(AllMistakes.Length)], rng)
                : SyntheticDerivation.Correct(p);
            yield return new SyntheticWorkedExample(p, Render(d, rng), d.Answer, d);
        }
    }

    /// <summary>The textbook wording of a derivation.</summary>
    internal static string Render(SyntheticDerivation d, Random rng)
    {
        SyntheticProblem p = d.Problem;
        var parts = new List<string>
        {
            Pick(rng,
                $"{p.Subject} starts with {d.Start} {p.Items}.",
                $"At first {p.Subject} has {d.Start} {p.Items}.",
                $"We begin with {d.Start} {p.Items}."),
        };
        foreach (DerivationStep s in d.Steps)
        {
            if (s.Skipped)
            {
                continue;
            }

            string eq = Equation(s);
            parts.Add(s.Used.Operator switch
            {
                '+' => Pick(rng, $"{eq}.", $"Adding {N(s.Used.Operand)} gives {eq}.", $"After getting {N(s.Used.Operand)} more: {eq}."),
                '-' => Pick(rng, $"{eq}.", $"Taking away {N(s.Used.Operand)} leaves {eq}.", $"After losing {N(s.Used.Operand)}: {eq}."),
                _ => Pick(rng, $"{eq}.", s.Used.Operand == 2 ? $"Doubling gives {eq}." : $"Tripling gives {eq}.", $"Multiplying: {eq}."),
            });
        }

        if (p.Family == SyntheticFamily.Comparison)
        {
            int t = p.Threshold!.Value;
            parts.Add(d.Final > t ? $"{N(d.Final)} is more than {N(t)}." : $"{N(d.Final)} is not more than {N(t)}.");
        }
        else if (rng.Next(2) == 0)
        {
            parts.Add($"{p.Subject} has {N(d.Final)} {p.Items} now.");
        }

        return string.Join(" ", parts);
    }

    internal static string Equation(DerivationStep s) =>
        string.Create(CultureInfo.InvariantCulture, $"{s.Before} {s.Used.Operator} {s.Used.Operand} = {s.After}");

    private static string N(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Pick(Random rng, params string[] options) => options[rng.Next(options.Length)];
}

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
/// Worked solutions of synthetic problems as a corpus written by many authors, for the text a base student is pretrained on
/// before it ever sees a teacher. Every sentence of a solution is worded independently from a broad bank (equations or
/// words, terse or chatty, labels or prose, and now and then the gains and losses summed first), as a web corpus mixes
/// the ways people explain such problems; at <see cref="SyntheticTextbookOptions.MistakeRate"/> a solution has one mistake
/// that the following steps build on. It is not teacher output: it shares the language the teachers write in, as a real
/// base model's corpus shares English with GPT-4's, but no solution follows any one teacher's consistent style.
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

    /// <summary>The wording of a derivation: each sentence drawn on its own from the bank.</summary>
    internal static string Render(SyntheticDerivation d, Random rng)
    {
        SyntheticProblem p = d.Problem;
        string s = p.Subject, items = p.Items, start = N(d.Start);
        var parts = new List<string>();
        if (rng.Next(4) == 0)
        {
            parts.Add(Pick(rng, "Let's work through this step by step.", "We follow each change in order.", "Let me solve it one event at a time.", "Step by step:"));
        }

        parts.Add(Pick(rng,
            $"{s} starts with {start} {items}.",
            $"At first {s} has {start} {items}.",
            $"We begin with {start} {items}.",
            $"Start: {start} {items}.",
            $"Initial amount: {start} {items}.",
            $"Initially, {s} has {start} {items}.",
            $"{s} begins with {start}.",
            $"Start = {start}."));

        var active = d.Steps.Where(x => !x.Skipped).ToList();
        bool grouped = active.Count >= 2 && rng.Next(5) == 0;
        if (grouped)
        {
            parts.AddRange(GroupedSteps(active, rng));
        }
        else
        {
            for (int i = 0; i < active.Count; i++)
            {
                parts.Add(Step(p, active[i], i == 0, rng));
            }
        }

        if (p.Family == SyntheticFamily.Comparison)
        {
            int t = p.Threshold!.Value;
            bool more = d.Final > t;
            parts.Add(more
                ? Pick(rng, $"{N(d.Final)} is more than {N(t)}.", $"{N(d.Final)} > {N(t)}.", $"Since {N(d.Final)} is more than {N(t)}, yes.")
                : Pick(rng, $"{N(d.Final)} is not more than {N(t)}.", $"{N(d.Final)} <= {N(t)}.", $"Since {N(d.Final)} is not more than {N(t)}, no."));
        }
        else
        {
            string f = N(d.Final);
            string? end = Pick(rng,
                $"{s} has {f} {items} now.",
                $"Final count: {f} {items}.",
                $"So in the end there are {f} {items}.",
                $"Total: {f} {items}.",
                $"Answer: {f}.",
                $"That leaves {s} with {f} {items}.",
                null,
                null);
            if (end is not null)
            {
                parts.Add(end);
            }
        }

        return string.Join(" ", parts);
    }

    private static string Step(SyntheticProblem p, DerivationStep step, bool first, Random rng)
    {
        string a = N(step.Before), b = N(step.Used.Operand), c = N(step.After), eq = Equation(step);
        string verb = p.VerbOf(step.Index);
        string then = first ? Pick(rng, "First", "To start", "Then") : Pick(rng, "Then", "Next", "After that");
        string gerund = Gerund(verb);
        return step.Used.Operator switch
        {
            '+' => Pick(rng,
                $"{eq}.",
                $"Adding {b} gives {eq}.",
                $"After {gerund} {b}: {eq}.",
                $"{Capital(gerund)} {b}: {eq}.",
                $"{then}, {p.Subject} {verb} {b}, so the total becomes {a} plus {b}, which is {c}.",
                $"{then} {a} + {b} = {c}.",
                $"Plus {b}: {eq}.",
                $"{a} plus {b} is {c}."),
            '-' => Pick(rng,
                $"{eq}.",
                $"Taking away {b} leaves {eq}.",
                $"After {gerund} {b}: {eq}.",
                $"{Capital(gerund)} {b}: {eq}.",
                $"{then}, {p.Subject} {verb} {b}, leaving {a} minus {b}, which is {c}.",
                $"{then} {a} - {b} = {c}.",
                $"Minus {b}: {eq}.",
                $"{a} minus {b} leaves {c}."),
            _ => Pick(rng,
                $"{eq}.",
                step.Used.Operand == 2 ? $"Doubling gives {eq}." : $"Tripling gives {eq}.",
                $"After {gerund}: {eq}.",
                $"{then}, the amount {(step.Used.Operand == 2 ? "doubles" : "triples")}: {a} times {b} is {c}.",
                $"Multiplying: {eq}.",
                $"{a} times {b} equals {c}."),
        };
    }

    /// <summary>Gains and losses of each stretch between doublings summed first, then combined.</summary>
    private static IEnumerable<string> GroupedSteps(List<DerivationStep> active, Random rng)
    {
        int i = 0;
        while (i < active.Count)
        {
            if (active[i].Used.Operator == '*')
            {
                DerivationStep m = active[i++];
                yield return $"{(m.Used.Operand == 2 ? "Doubled" : "Tripled")}: {Equation(m)}.";
                continue;
            }

            var segment = new List<DerivationStep>();
            while (i < active.Count && active[i].Used.Operator != '*')
            {
                segment.Add(active[i++]);
            }

            if (segment.Count == 1)
            {
                yield return $"{Equation(segment[0])}.";
                continue;
            }

            var gains = segment.Where(x => x.Used.Operator == '+').ToList();
            var losses = segment.Where(x => x.Used.Operator == '-').ToList();
            int gainTotal = gains.Sum(x => x.Used.Operand) + (gains.Count > 1 ? gains.Sum(x => x.Slip) : 0);
            int lossTotal = losses.Sum(x => x.Used.Operand) - (losses.Count > 1 ? losses.Sum(x => x.Slip) : 0);
            if (gains.Count > 1) yield return $"{Pick(rng, "Gains", "Added", "In total gained")}: {string.Join(" + ", gains.Select(x => N(x.Used.Operand)))} = {N(gainTotal)}.";
            if (losses.Count > 1) yield return $"{Pick(rng, "Losses", "Removed", "In total lost")}: {string.Join(" + ", losses.Select(x => N(x.Used.Operand)))} = {N(lossTotal)}.";
            int before = segment[0].Before, after = segment[^1].After;
            string net = gains.Count == 0 ? $"{N(before)} - {N(lossTotal)} = {N(after)}"
                : losses.Count == 0 ? $"{N(before)} + {N(gainTotal)} = {N(after)}"
                : $"{N(before)} + {N(gainTotal)} - {N(lossTotal)} = {N(after)}";
            yield return Pick(rng, $"Net: {net}.", $"So {net}.", $"{net}.");
        }
    }

    internal static string Equation(DerivationStep s) =>
        string.Create(CultureInfo.InvariantCulture, $"{s.Before} {s.Used.Operator} {s.Used.Operand} = {s.After}");

    private static string Gerund(string verb) => verb switch
    {
        "buys" => "buying",
        "finds" => "finding",
        "gets" => "getting",
        "gives away" => "giving away",
        "loses" => "losing",
        "sells" => "selling",
        "doubles" => "doubling",
        "triples" => "tripling",
        _ => verb,
    };

    private static string Capital(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];

    private static string N(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static T Pick<T>(Random rng, params T[] options) => options[rng.Next(options.Length)];
}

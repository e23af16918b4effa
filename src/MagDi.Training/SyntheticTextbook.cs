using System.Globalization;
using MagDi.Graphs.Discussion.Simulation;
using MagDi.Tasks.Synthetic;

namespace MagDi.Training;

/// <summary>One problem of a pretraining corpus with its worked solution.</summary>
internal sealed class SyntheticWorkedExample
{
    internal SyntheticWorkedExample(SyntheticProblem problem, string reasoning, string answer, SyntheticDerivation derivation)
    {
        Problem = problem;
        Reasoning = reasoning;
        Answer = answer;
        Derivation = derivation;
    }

    /// <summary>The problem.</summary>
    public SyntheticProblem Problem { get; }

    /// <summary>The worked solution (without the final "So the answer is" sentence).</summary>
    public string Reasoning { get; }

    /// <summary>The answer the solution reaches.</summary>
    public string Answer { get; }

    /// <summary>The numbers behind the solution, with its mistake if it has one.</summary>
    public SyntheticDerivation Derivation { get; }

    /// <summary>Whether the solution reaches the gold answer.</summary>
    public bool IsCorrect => Derivation.IsCorrect;
}

/// <summary>Settings of <see cref="SyntheticTextbook.Write"/>.</summary>
internal sealed class SyntheticTextbookOptions
{
    /// <summary>Share of solutions that contain one mistake (of any <see cref="ReasoningMistake"/> kind). Default 0.1.</summary>
    public double MistakeRate { get; set; } = 0.1;

    /// <summary>Seed of the wording and of the mistakes. Default 0.</summary>
    public int Seed { get; set; }
}

/// <summary>
/// Worked solutions of synthetic problems as a corpus written by many authors, for the text a base student is pretrained on
/// before it ever sees a teacher. Each solution is written by one of seven authors with a coherent way of explaining (plain
/// equations, prose with the operations in words, a terse running total, and the four <see cref="TeacherStyle"/> forms:
/// labelled equations, prose or bullets with equations, gains and losses summed first, and explained steps), its wording
/// drawn from a few variants, as a web corpus holds many consistent writers rather than one voice; at
/// <see cref="SyntheticTextbookOptions.MistakeRate"/> a solution has one mistake that the following steps build on. It is
/// not teacher output: it is written over easier problems, and shares the ways of writing that teachers use, as a real base
/// model's corpus shares them with GPT-4's, without copying any teacher.
/// </summary>
internal static class SyntheticTextbook
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
        foreach (SyntheticProblem problem in problems)
        {
            // The problem crosses the package boundary as text; its structure is recovered exactly as the teachers do.
            ProblemStructure structure = ProblemStructure.Parse(problem.Text, problem.Id)
                ?? throw new ArgumentException($"Problem '{problem.Id}' is not a synthetic benchmark problem.", nameof(problems));
            SyntheticDerivation d = rng.NextDouble() < options.MistakeRate
                ? SyntheticDerivation.WithMistake(structure, AllMistakes[rng.Next(AllMistakes.Length)], rng)
                : SyntheticDerivation.Correct(structure);
            yield return new SyntheticWorkedExample(problem, Render(d, rng), d.Answer, d);
        }
    }

    /// <summary>
    /// The ways of writing a solution: three of the textbook's own, and every <see cref="TeacherStyle"/>, written by the
    /// teachers' own writer so that the base student has seen each form a teacher uses (as a real base model's corpus holds
    /// text like GPT-4's, Claude's and Bard's) and the two cannot drift apart.
    /// </summary>
    private enum Author
    {
        PlainEquations,
        ProseInWords,
        RunningTotal,
        LabelledEquations,
        Narrative,
        Grouped,
        Explained,
    }

    private static readonly Author[] Authors = Enum.GetValues<Author>();

    /// <summary>The wording of a derivation by one of the authors, drawn from <paramref name="rng"/>.</summary>
    internal static string Render(SyntheticDerivation d, Random rng)
    {
        ProblemStructure p = d.Problem;
        var active = d.Steps.Where(x => !x.Skipped).ToList();
        Author author = Authors[rng.Next(Authors.Length)];
        if (author == Author.Grouped && active.Count < 2)
        {
            author = Author.PlainEquations; // nothing to group
        }

        string s = p.Subject, items = p.Items, start = N(d.Start);
        var parts = new List<string>();
        switch (author)
        {
            case Author.LabelledEquations:
                return TeacherWriter.Solve(TeacherStyle.Equations, d, rng);
            case Author.Narrative:
                return TeacherWriter.Solve(TeacherStyle.Narrative, d, rng);
            case Author.Grouped:
                return TeacherWriter.Solve(TeacherStyle.Grouped, d, rng);
            case Author.Explained:
                return TeacherWriter.Solve(TeacherStyle.Explained, d, rng);
            case Author.PlainEquations:
                parts.Add(Pick(rng, $"{s} starts with {start} {items}.", $"At first {s} has {start} {items}.", $"We begin with {start} {items}."));
                parts.AddRange(active.Select(x => TeacherWriter.Eq(x) + "."));
                break;
            case Author.ProseInWords:
                parts.Add(Pick(rng, "Let's work through this step by step.", "We follow each change in order.", "Let me solve it one event at a time."));
                parts.Add(Pick(rng, $"{s} begins with {start} {items}.", $"Initially, {s} has {start} {items}."));
                for (int i = 0; i < active.Count; i++)
                {
                    parts.Add(Prose(p, active[i], i == 0, rng));
                }

                break;
            default: // a terse running total
                parts.Add($"{start} {items}.");
                parts.AddRange(active.Select(x => x.Used.Operator switch
                {
                    '+' => $"Plus {N(x.Used.Operand)}: {N(x.After)}.",
                    '-' => $"Minus {N(x.Used.Operand)}: {N(x.After)}.",
                    _ => $"Times {N(x.Used.Operand)}: {N(x.After)}.",
                }));
                break;
        }

        parts.Add(Conclusion(d, author, rng));
        return string.Join(" ", parts.Where(x => x.Length > 0));
    }

    private static string Conclusion(SyntheticDerivation d, Author author, Random rng)
    {
        ProblemStructure p = d.Problem;
        string f = N(d.Final);
        if (p.Family == SyntheticFamily.Comparison)
        {
            string t = N(p.Threshold!.Value);
            bool more = d.Final > p.Threshold.Value;
            return author == Author.RunningTotal
                ? (more ? $"{f} > {t}." : $"{f} <= {t}.")
                : (more ? $"{f} is more than {t}." : $"{f} is not more than {t}.");
        }

        return author switch
        {
            Author.PlainEquations => Pick(rng, $"{p.Subject} has {f} {p.Items} now.", string.Empty),
            Author.ProseInWords => Pick(rng, $"That means {p.Subject} ends up with {f} {p.Items}.", $"So in the end there are {f} {p.Items}."),
            _ => string.Empty,
        };
    }

    private static string Prose(ProblemStructure p, DerivationStep step, bool first, Random rng)
    {
        string a = N(step.Before), b = N(step.Used.Operand), c = N(step.After);
        string verb = p.VerbOf(step.Index);
        string then = first ? Pick(rng, "First", "To start") : Pick(rng, "Then", "Next", "After that");
        return step.Used.Operator switch
        {
            '+' => Pick(rng,
                $"{then}, {p.Subject} {verb} {b} more, so the total becomes {a} plus {b}, which is {c}.",
                $"{then}, {p.Subject} {verb} {b}, bringing the count from {a} up to {a} plus {b}, that is {c}."),
            '-' => Pick(rng,
                $"{then}, {p.Subject} {verb} {b}, leaving {a} minus {b}, which is {c}.",
                $"{then}, {p.Subject} {verb} {b}, so {a} minus {b} leaves {c}."),
            _ => Pick(rng,
                $"{then}, the amount {(step.Used.Operand == 2 ? "doubles" : "triples")}: {a} times {b} is {c}.",
                $"{then}, {p.Subject} {verb} them, giving {a} times {b}, which equals {c}."),
        };
    }

    private static string N(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static T Pick<T>(Random rng, params T[] options) => options[rng.Next(options.Length)];
}

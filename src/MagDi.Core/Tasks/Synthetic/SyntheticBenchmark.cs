using System.Globalization;
using System.Text.RegularExpressions;

namespace MagDi.Tasks.Synthetic;

/// <summary>The problem families of the built-in synthetic benchmark.</summary>
public enum SyntheticFamily
{
    /// <summary>Multi-step arithmetic word problems with a numeric answer, in the spirit of GSM8K.</summary>
    Arithmetic,

    /// <summary>A multi-step word problem followed by a yes/no comparison, in the spirit of StrategyQA.</summary>
    Comparison,
}

/// <summary>One arithmetic step of a synthetic problem: <c>Before Operator Operand = After</c>.</summary>
public readonly struct ArithmeticStep
{
    /// <summary>Creates a <see cref="ArithmeticStep"/>.</summary>
    /// <param name="op">'+', '-' or '*'.</param>
    /// <param name="operand">The right-hand operand.</param>
    public ArithmeticStep(char op, int operand)
    {
        Operator = op;
        Operand = operand;
    }

    /// <summary>'+', '-' or '*'.</summary>
    public char Operator { get; }

    /// <summary>The right-hand operand.</summary>
    public int Operand { get; }

    /// <summary>Applies the step to <paramref name="value"/>.</summary>
    public int Apply(int value) => Operator switch
    {
        '+' => value + Operand,
        '-' => value - Operand,
        '*' => value * Operand,
        _ => throw new InvalidOperationException($"Unknown operator '{Operator}'."),
    };
}

/// <summary>
/// A generated problem with its structure, so simulated teachers can solve it (correctly or with
/// realistic mistakes) without a language model.
/// </summary>
public sealed class SyntheticProblem
{
    internal SyntheticProblem(string id, SyntheticFamily family, string text, string subject, string items, int start, IReadOnlyList<ArithmeticStep> steps, int? threshold)
    {
        Id = id;
        Family = family;
        Text = text;
        Subject = subject;
        Items = items;
        Start = start;
        Steps = steps;
        Threshold = threshold;
    }

    /// <summary>Stable id, unique within a generated benchmark.</summary>
    public string Id { get; }

    /// <summary>The problem family.</summary>
    public SyntheticFamily Family { get; }

    /// <summary>The question as a reader sees it.</summary>
    public string Text { get; }

    /// <summary>Who the problem is about (used in reasoning sentences).</summary>
    public string Subject { get; }

    /// <summary>What is counted (plural noun).</summary>
    public string Items { get; }

    /// <summary>The starting quantity.</summary>
    public int Start { get; }

    /// <summary>The arithmetic steps in order.</summary>
    public IReadOnlyList<ArithmeticStep> Steps { get; }

    /// <summary>For <see cref="SyntheticFamily.Comparison"/>: the number the result is compared with.</summary>
    public int? Threshold { get; }

    /// <summary>The correct final quantity.</summary>
    public int Result => Steps.Aggregate(Start, (v, s) => s.Apply(v));

    /// <summary>The gold answer: the number, or <c>yes</c>/<c>no</c> for comparisons.</summary>
    public string GoldAnswer => Family == SyntheticFamily.Arithmetic
        ? Result.ToString(CultureInfo.InvariantCulture)
        : (Result > Threshold!.Value ? "yes" : "no");

    /// <summary>The gold step-by-step reasoning (without the final "So the answer is" sentence).</summary>
    public string GoldReasoning => SyntheticBenchmark.Explain(this, Steps.Select(s => (s, (int?)null)).ToList());

    /// <summary>
    /// The verb of each step as the question words it (<c>buys</c>, <c>gives away</c>, <c>doubles</c>, ...), so solvers can
    /// refer to the events; empty when the problem was built without its text's verbs.
    /// </summary>
    public IReadOnlyList<string> StepVerbs { get; internal init; } = [];

    /// <summary>The -ing form of step <paramref name="index"/>'s verb (<c>buying</c>, <c>giving away</c>, <c>doubling</c>, ...).</summary>
    public string GerundOf(int index) => VerbOf(index) switch
    {
        "buys" => "buying",
        "finds" => "finding",
        "gets" => "getting",
        "gives away" => "giving away",
        "loses" => "losing",
        "sells" => "selling",
        "doubles" => "doubling",
        "triples" => "tripling",
        var other => other,
    };

    /// <summary>The verb of step <paramref name="index"/> as the question words it, or a neutral one.</summary>
    public string VerbOf(int index) => index >= 0 && index < StepVerbs.Count
        ? StepVerbs[index]
        : Steps[index].Operator switch { '+' => "gets", '-' => "gives away", _ => Steps[index].Operand == 2 ? "doubles" : "triples" };
}

/// <summary>Options of <see cref="SyntheticBenchmark.Generate"/>.</summary>
public sealed class SyntheticBenchmarkOptions
{
    /// <summary>Seed of the generator; the same seed gives the same problems. Default 1234.</summary>
    public int Seed { get; set; } = 1234;

    /// <summary>Fewest arithmetic steps per problem. Default 1.</summary>
    public int MinSteps { get; set; } = 1;

    /// <summary>Most arithmetic steps per problem. Default 3.</summary>
    public int MaxSteps { get; set; } = 3;

    /// <summary>Largest starting quantity and operand. Default 20.</summary>
    public int MaxOperand { get; set; } = 20;

    /// <summary>Largest intermediate or final quantity. Default 99.</summary>
    public int MaxValue { get; set; } = 99;

    /// <summary>Allow a doubling step ('*' 2). Default true.</summary>
    public bool AllowMultiplication { get; set; } = true;

    internal void Validate()
    {
        var errors = new List<string>();
        if (MinSteps < 1) errors.Add($"MinSteps must be at least 1 (was {MinSteps}).");
        if (MaxSteps < MinSteps) errors.Add($"MaxSteps ({MaxSteps}) must be at least MinSteps ({MinSteps}).");
        if (MaxOperand < 2) errors.Add($"MaxOperand must be at least 2 (was {MaxOperand}).");
        if (MaxValue < MaxOperand * 2) errors.Add($"MaxValue ({MaxValue}) must be at least twice MaxOperand ({MaxOperand}).");
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid synthetic benchmark options: " + string.Join(" ", errors));
        }
    }
}

/// <summary>
/// The built-in synthetic reasoning benchmark: seeded, multi-step word problems whose structure is
/// known, so that discussions among simulated teachers, distillation and evaluation can all run
/// offline. Problems are unique by text within one call.
/// </summary>
public static partial class SyntheticBenchmark
{
    /// <summary>Task name of the arithmetic family (numeric answers).</summary>
    public const string ArithmeticTaskName = "synthetic-arithmetic";

    /// <summary>Task name of the comparison family (yes/no answers).</summary>
    public const string ComparisonTaskName = "synthetic-comparison";

    private static readonly (string Name, string Pronoun)[] People =
    [
        ("Tom", "He"), ("Ana", "She"), ("Lee", "He"), ("Mia", "She"), ("Sam", "He"), ("Ivy", "She"),
        ("Max", "He"), ("Zoe", "She"), ("Ben", "He"), ("Eva", "She"), ("Leo", "He"), ("Amy", "She"),
    ];

    private static readonly string[] ItemNames = ["apples", "coins", "books", "pens", "cards", "stamps", "shells", "marbles"];

    /// <summary>Generates <paramref name="count"/> distinct problems of one family.</summary>
    public static IReadOnlyList<SyntheticProblem> Generate(SyntheticFamily family, int count, SyntheticBenchmarkOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        options ??= new SyntheticBenchmarkOptions();
        options.Validate();
        // Not HashCode.Combine: it is randomised per process, so the same seed gave different problems in every run.
        var rng = new Random(unchecked((options.Seed * 1_000_003) + (int)family));
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var problems = new List<SyntheticProblem>(count);
        int attempts = 0;
        string prefix = family == SyntheticFamily.Arithmetic ? "arith" : "cmp";
        while (problems.Count < count)
        {
            if (++attempts > (count * 50) + 1000)
            {
                throw new InvalidOperationException(
                    $"Could only generate {problems.Count} distinct {family} problems of the {count} asked for; widen MaxOperand or MaxSteps.");
            }

            SyntheticProblem p = GenerateOne(family, rng, options, $"{prefix}-{options.Seed}-{problems.Count:D5}");
            if (seen.Add(p.Text))
            {
                problems.Add(p);
            }
        }

        return problems;
    }

    /// <summary>
    /// Generates disjoint train and test splits of one family (no question text appears in both).
    /// </summary>
    public static (IReadOnlyList<SyntheticProblem> Train, IReadOnlyList<SyntheticProblem> Test) GenerateSplits(
        SyntheticFamily family, int trainCount, int testCount, SyntheticBenchmarkOptions? options = null)
    {
        IReadOnlyList<SyntheticProblem> all = Generate(family, trainCount + testCount, options);
        return (all.Take(trainCount).ToList(), all.Skip(trainCount).ToList());
    }

    /// <summary>
    /// Recovers the structure of a problem from its text (the inverse of generation), so a simulated
    /// teacher can solve any question this generator wrote. Returns null for other text.
    /// </summary>
    public static SyntheticProblem? Parse(string text, string id = "")
    {
        ArgumentNullException.ThrowIfNull(text);
        Match start = StartPattern().Match(text);
        if (!start.Success)
        {
            return null;
        }

        string subject = start.Groups["name"].Value;
        string items = start.Groups["items"].Value;
        int value = int.Parse(start.Groups["n"].Value, CultureInfo.InvariantCulture);
        var steps = new List<ArithmeticStep>();
        var verbs = new List<string>();
        foreach (Match m in StepPattern().Matches(text, start.Index + start.Length))
        {
            if (m.Groups["double"].Success)
            {
                steps.Add(new ArithmeticStep('*', 2));
                verbs.Add("doubles");
            }
            else if (m.Groups["triple"].Success)
            {
                steps.Add(new ArithmeticStep('*', 3));
                verbs.Add("triples");
            }
            else
            {
                int n = int.Parse(m.Groups["n"].Value, CultureInfo.InvariantCulture);
                bool plus = m.Groups["plus"].Success;
                steps.Add(new ArithmeticStep(plus ? '+' : '-', n));
                verbs.Add(plus ? m.Groups["plus"].Value : m.Groups["minus"].Value);
            }
        }

        if (steps.Count == 0)
        {
            return null;
        }

        Match cmp = ComparisonPattern().Match(text);
        if (cmp.Success)
        {
            int threshold = int.Parse(cmp.Groups["n"].Value, CultureInfo.InvariantCulture);
            return new SyntheticProblem(id, SyntheticFamily.Comparison, text, subject, items, value, steps, threshold) { StepVerbs = verbs };
        }

        return HowManyPattern().IsMatch(text)
            ? new SyntheticProblem(id, SyntheticFamily.Arithmetic, text, subject, items, value, steps, null) { StepVerbs = verbs }
            : null;
    }

    /// <summary>
    /// Writes step-by-step reasoning for <paramref name="problem"/> following <paramref name="steps"/>, where
    /// each step may carry a wrong result (a simulated arithmetic slip) that later steps build on.
    /// </summary>
    /// <returns>The reasoning, ending with the final quantity (and the comparison for yes/no problems).</returns>
    internal static string Explain(SyntheticProblem problem, IReadOnlyList<(ArithmeticStep Step, int? WrongResult)> steps)
    {
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(steps);
        var parts = new List<string> { $"{problem.Subject} starts with {problem.Start} {problem.Items}." };
        int value = problem.Start;
        foreach (var (step, wrong) in steps)
        {
            int next = wrong ?? step.Apply(value);
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{value} {step.Operator} {step.Operand} = {next}."));
            value = next;
        }

        if (problem.Family == SyntheticFamily.Comparison)
        {
            int t = problem.Threshold!.Value;
            parts.Add(value > t
                ? string.Create(CultureInfo.InvariantCulture, $"{value} is more than {t}.")
                : string.Create(CultureInfo.InvariantCulture, $"{value} is not more than {t}."));
        }

        return string.Join(" ", parts);
    }

    /// <summary>The answer that reasoning ending in <paramref name="finalValue"/> leads to.</summary>
    internal static string AnswerFor(SyntheticProblem problem, int finalValue)
    {
        ArgumentNullException.ThrowIfNull(problem);
        return problem.Family == SyntheticFamily.Arithmetic
            ? finalValue.ToString(CultureInfo.InvariantCulture)
            : (finalValue > problem.Threshold!.Value ? "yes" : "no");
    }

    private static SyntheticProblem GenerateOne(SyntheticFamily family, Random rng, SyntheticBenchmarkOptions o, string id)
    {
        var (name, pronoun) = People[rng.Next(People.Length)];
        string items = ItemNames[rng.Next(ItemNames.Length)];
        int start = rng.Next(2, o.MaxOperand + 1);
        int stepCount = rng.Next(o.MinSteps, o.MaxSteps + 1);
        var steps = new List<ArithmeticStep>(stepCount);
        var sentences = new List<string> { $"{name} has {start} {items}." };
        var verbs = new List<string>(stepCount);
        int value = start;
        for (int i = 0; i < stepCount; i++)
        {
            ArithmeticStep step = NextStep(rng, value, o);
            steps.Add(step);
            value = step.Apply(value);
            var (sentence, verb) = Describe(step, pronoun, i > 0, rng);
            sentences.Add(sentence);
            verbs.Add(verb);
        }

        int? threshold = null;
        if (family == SyntheticFamily.Arithmetic)
        {
            sentences.Add($"How many {items} does {name} have now?");
        }
        else
        {
            // Thresholds near the result make the comparison depend on getting every step right.
            int t = Math.Max(0, value + rng.Next(-4, 5));
            if (t == value) t = rng.Next(2) == 0 ? value - 1 : value;
            threshold = Math.Max(0, t);
            sentences.Add($"Does {name} have more than {threshold} {items} now?");
        }

        return new SyntheticProblem(id, family, string.Join(" ", sentences), name, items, start, steps, threshold) { StepVerbs = verbs };
    }

    private static ArithmeticStep NextStep(Random rng, int value, SyntheticBenchmarkOptions o)
    {
        for (int attempt = 0; attempt < 20; attempt++)
        {
            int kind = rng.Next(o.AllowMultiplication ? 5 : 4);
            if (kind <= 1)
            {
                int n = rng.Next(1, o.MaxOperand + 1);
                if (value + n <= o.MaxValue) return new ArithmeticStep('+', n);
            }
            else if (kind <= 3)
            {
                if (value > 1)
                {
                    int n = rng.Next(1, Math.Min(value, o.MaxOperand + 1));
                    return new ArithmeticStep('-', n);
                }
            }
            else if (value * 2 <= o.MaxValue)
            {
                return new ArithmeticStep('*', 2);
            }
        }

        return new ArithmeticStep('+', 1);
    }

    private static (string Sentence, string Verb) Describe(ArithmeticStep step, string pronoun, bool then, Random rng)
    {
        string p = then ? "Then " + pronoun.ToLowerInvariant() : pronoun;
        string n = step.Operand.ToString(CultureInfo.InvariantCulture);
        string verb = step.Operator switch
        {
            '+' => rng.Next(3) switch { 0 => "buys", 1 => "finds", _ => "gets" },
            '-' => rng.Next(3) switch { 0 => "gives away", 1 => "loses", _ => "sells" },
            _ => step.Operand == 2 ? "doubles" : "triples",
        };
        return step.Operator switch
        {
            '+' => ($"{p} {verb} {n} more.", verb),
            '-' => ($"{p} {verb} {n}.", verb),
            _ => ($"{p} {verb} them.", verb),
        };
    }

    [GeneratedRegex(@"(?<name>[A-Z][a-z]+) has (?<n>\d+) (?<items>[a-z]+)\.")]
    private static partial Regex StartPattern();

    [GeneratedRegex(@"(?:(?<plus>buys|finds|gets) (?<n>\d+) more\.|(?<minus>gives away|loses|sells) (?<n>\d+)\.|(?<double>doubles them\.)|(?<triple>triples them\.))")]
    private static partial Regex StepPattern();

    [GeneratedRegex(@"Does [A-Z][a-z]+ have more than (?<n>\d+) [a-z]+ now\?")]
    private static partial Regex ComparisonPattern();

    [GeneratedRegex(@"How many [a-z]+ does [A-Z][a-z]+ have now\?")]
    private static partial Regex HowManyPattern();
}

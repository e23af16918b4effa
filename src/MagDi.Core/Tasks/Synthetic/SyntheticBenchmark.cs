using System.Globalization;

namespace MagDi.Tasks.Synthetic;

/// <summary>The problem families of the built-in synthetic benchmark.</summary>
public enum SyntheticFamily
{
    /// <summary>Multi-step arithmetic word problems with a numeric answer, in the spirit of GSM8K.</summary>
    Arithmetic,

    /// <summary>A multi-step word problem followed by a yes/no comparison, in the spirit of StrategyQA.</summary>
    Comparison,
}

/// <summary>A generated problem of the built-in synthetic benchmark.</summary>
public sealed class SyntheticProblem
{
    internal SyntheticProblem(ProblemStructure structure) => Structure = structure;

    /// <summary>Stable id, unique within a generated benchmark.</summary>
    public string Id => Structure.Id;

    /// <summary>The problem family.</summary>
    public SyntheticFamily Family => Structure.Family;

    /// <summary>The question as a reader sees it.</summary>
    public string Text => Structure.Text;

    /// <summary>The gold answer: the number, or <c>yes</c>/<c>no</c> for comparisons.</summary>
    public string GoldAnswer => Structure.GoldAnswer;

    /// <summary>The numbers and words of the problem, for solvers (internal: other packages recover it from <see cref="Text"/>).</summary>
    internal ProblemStructure Structure { get; }
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
public static class SyntheticBenchmark
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
    internal static (IReadOnlyList<SyntheticProblem> Train, IReadOnlyList<SyntheticProblem> Test) GenerateSplits(
        SyntheticFamily family, int trainCount, int testCount, SyntheticBenchmarkOptions? options = null)
    {
        IReadOnlyList<SyntheticProblem> all = Generate(family, trainCount + testCount, options);
        return (all.Take(trainCount).ToList(), all.Skip(trainCount).ToList());
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

        return new SyntheticProblem(new ProblemStructure(id, family, string.Join(" ", sentences), name, items, start, steps, threshold) { StepVerbs = verbs });
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
}

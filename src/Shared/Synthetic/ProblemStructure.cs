using System.Globalization;
using System.Text.RegularExpressions;

namespace MagDi.Tasks.Synthetic;

/// <summary>One arithmetic step of a synthetic problem: <c>Before Operator Operand = After</c>.</summary>
internal readonly struct ArithmeticStep
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
/// The structure of a synthetic word problem (who, what is counted, the start, the steps and their verbs, the comparison
/// threshold), so that solvers can work it correctly or with realistic mistakes without a language model.
/// </summary>
/// <remarks>
/// Not MagDi's API: shared as source (src/Shared/Synthetic) by the generator in MagDi.Core, the simulated teachers in
/// MagDi.Graphs and the pretraining corpus in MagDi.Training, each compiling its own internal copy. The packages hand
/// problems to each other as text; <see cref="Parse"/> recovers the structure of any text the generator wrote.
/// </remarks>
internal sealed partial class ProblemStructure
{
    internal ProblemStructure(string id, SyntheticFamily family, string text, string subject, string items, int start, IReadOnlyList<ArithmeticStep> steps, int? threshold)
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

    /// <summary>
    /// The verb of each step as the question words it (<c>buys</c>, <c>gives away</c>, <c>doubles</c>, ...), so solvers can
    /// refer to the events; empty when the problem was built without its text's verbs.
    /// </summary>
    public IReadOnlyList<string> StepVerbs { get; init; } = [];

    /// <summary>The correct final quantity.</summary>
    public int Result => Steps.Aggregate(Start, (v, s) => s.Apply(v));

    /// <summary>The gold answer: the number, or <c>yes</c>/<c>no</c> for comparisons.</summary>
    public string GoldAnswer => AnswerFor(Result);

    /// <summary>The answer that reasoning ending in <paramref name="finalValue"/> leads to.</summary>
    public string AnswerFor(int finalValue) => Family == SyntheticFamily.Arithmetic
        ? finalValue.ToString(CultureInfo.InvariantCulture)
        : (finalValue > Threshold!.Value ? "yes" : "no");

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

    /// <summary>
    /// Recovers the structure of a problem from its text (the inverse of generation), so a solver can work any question the
    /// generator wrote. Returns null for other text.
    /// </summary>
    public static ProblemStructure? Parse(string text, string id = "")
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
            return new ProblemStructure(id, SyntheticFamily.Comparison, text, subject, items, value, steps, threshold) { StepVerbs = verbs };
        }

        return HowManyPattern().IsMatch(text)
            ? new ProblemStructure(id, SyntheticFamily.Arithmetic, text, subject, items, value, steps, null) { StepVerbs = verbs }
            : null;
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

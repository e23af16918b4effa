using System.Globalization;

namespace MagDi.Tasks.Synthetic;

/// <summary>One line of a <see cref="SyntheticDerivation"/>: the step as the question states it, as the solver used it, and the values.</summary>
internal sealed class DerivationStep
{
    internal DerivationStep(int index, ArithmeticStep stated, ArithmeticStep used, int before, int after, bool skipped)
    {
        Index = index;
        Stated = stated;
        Used = used;
        Before = before;
        After = after;
        Skipped = skipped;
    }

    /// <summary>Position of the step in the problem (0-based).</summary>
    public int Index { get; }

    /// <summary>The step as the question states it.</summary>
    public ArithmeticStep Stated { get; }

    /// <summary>The step as the solver applied it (differs after a misread quantity or a wrong operation).</summary>
    public ArithmeticStep Used { get; }

    /// <summary>The running value before the step.</summary>
    public int Before { get; }

    /// <summary>The running value after the step as the solver wrote it (the same as <see cref="Before"/> for a skipped step).</summary>
    public int After { get; }

    /// <summary>Whether the solver left the step out.</summary>
    public bool Skipped { get; }

    /// <summary>How far <see cref="After"/> is from what <see cref="Used"/> gives (0 unless the step has an arithmetic slip).</summary>
    public int Slip => Skipped ? 0 : After - Used.Apply(Before);
}

/// <summary>
/// A worked solution of a synthetic problem as numbers: the start the solver read, every step it applied and
/// the running values, with at most one <see cref="ReasoningMistake"/>. Writers of reasoning text (simulated teachers,
/// the pretraining corpus) render a derivation in their own words, so the numbers of a chain always follow from its
/// mistake.
/// </summary>
/// <remarks>
/// Not MagDi's API: shared as source (src/Shared/Synthetic) by the simulated teachers in MagDi.Graphs and the pretraining
/// corpus in MagDi.Training, each compiling its own internal copy.
/// </remarks>
internal sealed class SyntheticDerivation
{
    private SyntheticDerivation(ProblemStructure problem, int start, IReadOnlyList<DerivationStep> steps, ReasoningMistake? mistake, int? mistakeIndex)
    {
        Problem = problem;
        Start = start;
        Steps = steps;
        Mistake = mistake;
        MistakeIndex = mistakeIndex;
    }

    /// <summary>The problem solved.</summary>
    public ProblemStructure Problem { get; }

    /// <summary>The starting quantity as the solver read it.</summary>
    public int Start { get; }

    /// <summary>Every step of the problem in order (skipped ones included, marked <see cref="DerivationStep.Skipped"/>).</summary>
    public IReadOnlyList<DerivationStep> Steps { get; }

    /// <summary>The mistake in this derivation, or null when it is correct.</summary>
    public ReasoningMistake? Mistake { get; }

    /// <summary>The step the mistake is in (-1 for a misread start quantity), or null when there is none.</summary>
    public int? MistakeIndex { get; }

    /// <summary>The final quantity the solver reached.</summary>
    public int Final => Steps.Count == 0 ? Start : Steps[^1].After;

    /// <summary>The answer this derivation leads to (a number, or yes/no for comparison problems).</summary>
    public string Answer => Problem.AnswerFor(Final);

    /// <summary>Whether <see cref="Answer"/> is the gold answer (a mistake can still lead to the right yes/no).</summary>
    public bool IsCorrect => string.Equals(Answer, Problem.GoldAnswer, StringComparison.Ordinal);

    /// <summary>The correct derivation.</summary>
    public static SyntheticDerivation Correct(ProblemStructure problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        // Correct running values of a generated problem are never negative, so this always builds.
        return Build(problem, problem.Start, problem.Steps, skip: -1, slipAt: -1, slip: 0, null, null)
            ?? throw new ArgumentException($"Problem '{problem.Id}' goes below zero; it is not a valid synthetic problem.", nameof(problem));
    }

    /// <summary>
    /// A derivation with one mistake of kind <paramref name="mistake"/> at a step drawn from <paramref name="random"/>. When the
    /// kind does not fit the problem (a skipped step in a one-step problem, a misreading that would go below zero), an
    /// off-by-one slip is made instead.
    /// </summary>
    public static SyntheticDerivation WithMistake(ProblemStructure problem, ReasoningMistake mistake, Random random)
    {
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(random);
        int k = random.Next(problem.Steps.Count);
        SyntheticDerivation? d = mistake switch
        {
            ReasoningMistake.SkippedStep when problem.Steps.Count >= 2 => Skip(problem, k),
            ReasoningMistake.WrongOperation => WrongOperation(problem, k),
            ReasoningMistake.MisreadQuantity => Misread(problem, random.Next(-1, problem.Steps.Count), random),
            ReasoningMistake.OffByTen => SlipAt(problem, k, Correct(problem).Steps[k].After >= 10 && random.Next(2) == 0 ? -10 : 10, ReasoningMistake.OffByTen),
            _ => null,
        };
        return d ?? SlipAt(problem, k, random.Next(2) == 0 ? 1 : -1, ReasoningMistake.OffByOne) ?? SlipAt(problem, k, 1, ReasoningMistake.OffByOne)!;
    }

    /// <summary>
    /// A derivation that leads to <paramref name="answer"/>: the correct one when that is the gold answer, otherwise one with
    /// a single plausible mistake (drawn from <paramref name="random"/> among all that lead there), or else an arithmetic slip
    /// in the last step. Null when no derivation of this problem can give the answer (not a whole number, or not yes/no).
    /// </summary>
    public static SyntheticDerivation? Reaching(ProblemStructure problem, string answer, Random random)
    {
        ArgumentNullException.ThrowIfNull(problem);
        ArgumentNullException.ThrowIfNull(answer);
        ArgumentNullException.ThrowIfNull(random);
        string target = answer.Trim();
        var correct = Correct(problem);
        if (string.Equals(correct.Answer, target, StringComparison.OrdinalIgnoreCase))
        {
            return correct;
        }

        int? targetValue = null;
        if (problem.Family == SyntheticFamily.Arithmetic)
        {
            if (!int.TryParse(target, NumberStyles.Integer, CultureInfo.InvariantCulture, out int v))
            {
                return null;
            }

            targetValue = v;
        }
        else if (!target.Equals("yes", StringComparison.OrdinalIgnoreCase) && !target.Equals("no", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        var candidates = SingleMistakes(problem)
            .Where(d => targetValue is int t ? d.Final == t : string.Equals(d.Answer, target, StringComparison.OrdinalIgnoreCase))
            .ToList();
        if (candidates.Count > 0)
        {
            return candidates[random.Next(candidates.Count)];
        }

        int last = problem.Steps.Count - 1;
        int wanted = targetValue ?? (target.Equals("yes", StringComparison.OrdinalIgnoreCase) ? problem.Threshold!.Value + 1 : Math.Max(0, problem.Threshold!.Value));
        int slip = wanted - correct.Final;
        return slip == 0 ? null : SlipAt(problem, last, slip, Math.Abs(slip) == 10 ? ReasoningMistake.OffByTen : ReasoningMistake.OffByOne);
    }

    /// <summary>
    /// The first place where this derivation and <paramref name="other"/> differ: -1 for the start quantity, a step index, or
    /// null when they write the same numbers.
    /// </summary>
    public int? FirstDifference(SyntheticDerivation other)
    {
        ArgumentNullException.ThrowIfNull(other);
        if (Start != other.Start)
        {
            return -1;
        }

        for (int i = 0; i < Math.Min(Steps.Count, other.Steps.Count); i++)
        {
            DerivationStep a = Steps[i], b = other.Steps[i];
            if (a.Skipped != b.Skipped || !a.Used.Equals(b.Used) || a.After != b.After)
            {
                return i;
            }
        }

        return Steps.Count == other.Steps.Count ? null : Math.Min(Steps.Count, other.Steps.Count);
    }

    /// <summary>Every derivation with exactly one mistake (each kind at each step where it applies), in a fixed order.</summary>
    internal static IEnumerable<SyntheticDerivation> SingleMistakes(ProblemStructure problem)
    {
        var correct = Correct(problem);
        for (int k = 0; k < problem.Steps.Count; k++)
        {
            if (problem.Steps.Count >= 2 && Skip(problem, k) is { } skipped) yield return skipped;
            if (WrongOperation(problem, k) is { } wrongOp) yield return wrongOp;
            foreach (int slip in new[] { 1, -1, 10, -10 })
            {
                if (correct.Steps[k].After + slip >= 0 && SlipAt(problem, k, slip, Math.Abs(slip) == 10 ? ReasoningMistake.OffByTen : ReasoningMistake.OffByOne) is { } slipped)
                {
                    yield return slipped;
                }
            }
        }

        for (int k = -1; k < problem.Steps.Count; k++)
        {
            foreach (int misread in MisreadCandidates(problem, k))
            {
                if (MisreadAs(problem, k, misread) is { } d) yield return d;
            }
        }
    }

    private static SyntheticDerivation? Skip(ProblemStructure problem, int k) =>
        Build(problem, problem.Start, problem.Steps, skip: k, slipAt: -1, slip: 0, ReasoningMistake.SkippedStep, k);

    private static SyntheticDerivation? WrongOperation(ProblemStructure problem, int k)
    {
        ArithmeticStep s = problem.Steps[k];
        ArithmeticStep used = s.Operator switch
        {
            '+' => new ArithmeticStep('-', s.Operand),
            '-' => new ArithmeticStep('+', s.Operand),
            _ => new ArithmeticStep('+', s.Operand),
        };
        var steps = problem.Steps.ToArray();
        steps[k] = used;
        return Build(problem, problem.Start, steps, skip: -1, slipAt: -1, slip: 0, ReasoningMistake.WrongOperation, k, stated: problem.Steps);
    }

    private static SyntheticDerivation? SlipAt(ProblemStructure problem, int k, int slip, ReasoningMistake kind) =>
        Build(problem, problem.Start, problem.Steps, skip: -1, slipAt: k, slip: slip, kind, k);

    private static SyntheticDerivation? Misread(ProblemStructure problem, int k, Random random)
    {
        var options = MisreadCandidates(problem, k).ToList();
        return options.Count == 0 ? null : MisreadAs(problem, k, options[random.Next(options.Count)]);
    }

    private static SyntheticDerivation? MisreadAs(ProblemStructure problem, int k, int value)
    {
        if (k < 0)
        {
            return Build(problem, value, problem.Steps, skip: -1, slipAt: -1, slip: 0, ReasoningMistake.MisreadQuantity, -1);
        }

        var steps = problem.Steps.ToArray();
        steps[k] = new ArithmeticStep(steps[k].Operator, value);
        return Build(problem, problem.Start, steps, skip: -1, slipAt: -1, slip: 0, ReasoningMistake.MisreadQuantity, k, stated: problem.Steps);
    }

    /// <summary>Plausible misreadings of the quantity at <paramref name="k"/> (-1: the start): swapped digits, or another number of the question.</summary>
    private static IEnumerable<int> MisreadCandidates(ProblemStructure problem, int k)
    {
        if (k >= 0 && problem.Steps[k].Operator == '*')
        {
            yield break; // "doubles" has no number to misread
        }

        int original = k < 0 ? problem.Start : problem.Steps[k].Operand;
        var seen = new HashSet<int> { original };
        if (original is >= 10 and <= 99 && original % 10 != 0 && original / 10 != original % 10)
        {
            int swapped = ((original % 10) * 10) + (original / 10);
            if (seen.Add(swapped)) yield return swapped;
        }

        foreach (int other in problem.Steps.Where(s => s.Operator != '*').Select(s => s.Operand).Prepend(problem.Start))
        {
            if (other > 0 && seen.Add(other)) yield return other;
        }
    }

    private static SyntheticDerivation? Build(
        ProblemStructure problem, int start, IReadOnlyList<ArithmeticStep> used, int skip, int slipAt, int slip,
        ReasoningMistake? mistake, int? mistakeIndex, IReadOnlyList<ArithmeticStep>? stated = null)
    {
        stated ??= problem.Steps;
        var steps = new List<DerivationStep>(used.Count);
        int value = start;
        for (int i = 0; i < used.Count; i++)
        {
            if (i == skip)
            {
                steps.Add(new DerivationStep(i, stated[i], used[i], value, value, skipped: true));
                continue;
            }

            int next = used[i].Apply(value) + (i == slipAt ? slip : 0);
            if (next < 0)
            {
                return null; // nobody has a negative number of apples: not a plausible mistake
            }

            steps.Add(new DerivationStep(i, stated[i], used[i], value, next, skipped: false));
            value = next;
        }

        return new SyntheticDerivation(problem, start, steps, mistake, mistakeIndex);
    }
}

using System.Globalization;
using MagDi.Tasks.Synthetic;

namespace MagDi.Graphs.Discussion.Simulation;

/// <summary>
/// Writes a simulated teacher's reasoning for a <see cref="SyntheticDerivation"/> in its <see cref="TeacherStyle"/>: the
/// first solution, a revision that repairs the step other agents contradicted, and a restatement that defends a kept answer.
/// Wording is drawn from the given random source, so two solutions by one teacher differ the way two samples of an LLM do,
/// while its structure (layout, framing, verbosity) stays its own.
/// </summary>
/// <remarks>
/// Shared as source (src/Shared/Synthetic) by the simulated teachers in MagDi.Graphs and the pretraining textbook in
/// MagDi.Training, so the synthetic base student has seen every form a teacher writes in (as a real base model has seen
/// text like GPT-4's), and the two cannot drift apart.
/// </remarks>
internal static class TeacherWriter
{
    /// <summary>A full solution.</summary>
    public static string Solve(TeacherStyle style, SyntheticDerivation d, Random rng) => style switch
    {
        TeacherStyle.Narrative => Narrative(d, rng),
        TeacherStyle.Grouped => Grouped(d, rng),
        TeacherStyle.Explained => Explained(d, rng),
        _ => Equations(d, rng),
    };

    /// <summary>
    /// A changed answer: which step of the previous solution was wrong (as the other agents' answers showed), then the new
    /// solution derived again in the teacher's own style.
    /// </summary>
    /// <remarks>
    /// It opens by agreeing with the agents who gave the new answer: ReConcile's debate prompt asks every agent to "clearly
    /// state which point of view you agree or disagree with and why", and the MAGDi release strips those sentences.
    /// </remarks>
    public static string Revise(TeacherStyle style, SyntheticDerivation previous, SyntheticDerivation revised, Random rng)
    {
        string stance = Agreement(style, revised.Answer, changed: true, rng);
        string repair = Repair(style, previous, revised, rng);
        return stance + " " + repair + " " + Solve(style, revised, rng);
    }

    /// <summary>
    /// A kept answer: the solution written again, with the teacher's stance (a rebuttal of a disagreeing answer, or
    /// agreement with the others, sometimes followed by a check), as ReConcile's debate prompt asks for.
    /// </summary>
    /// <remarks>The stance is a sentence that starts "I disagree" or "I agree", the form the release's cleaning removes.</remarks>
    public static string Restate(TeacherStyle style, SyntheticDerivation d, IReadOnlyList<string> otherAnswers, Random rng)
    {
        string solution = Solve(style, d, rng);
        string? other = otherAnswers.FirstOrDefault(a => !string.Equals(a.Trim(), d.Answer, StringComparison.OrdinalIgnoreCase));
        string refinement;
        if (other is not null && SyntheticDerivation.Reaching(d.Problem, other, rng) is { } theirs && theirs.FirstDifference(d) is int k)
        {
            refinement = Rebuttal(style, d, theirs, k, other);
        }
        else if (other is null)
        {
            refinement = Agreement(style, d.Answer, changed: false, rng);
            if (rng.Next(2) == 0)
            {
                refinement += " " + Check(style, d, rng);
            }
        }
        else
        {
            // A dissenting answer no derivation of this problem reaches: the stance without a step to point at.
            refinement = Disagreement(style, other) + " " + Check(style, d, rng);
        }

        return rng.Next(3) == 0 ? refinement + " " + solution : solution + " " + refinement;
    }

    private static string Equations(SyntheticDerivation d, Random rng)
    {
        ProblemStructure p = d.Problem;
        var parts = new List<string>
        {
            Pick(rng, $"Start: {N(d.Start)} {p.Items}.", $"Initial amount: {N(d.Start)} {p.Items}.", $"{p.Subject} starts with {N(d.Start)} {p.Items}."),
        };
        foreach (DerivationStep s in d.Steps.Where(s => !s.Skipped))
        {
            string eq = Eq(s);
            string gerund = p.GerundOf(s.Index);
            parts.Add(s.Used.Operator == '*' || s.Stated.Operator == '*'
                ? Pick(rng, $"After {gerund}: {eq}.", $"{Capitalize(gerund)}: {eq}.")
                : Pick(rng, $"After {gerund} {N(s.Used.Operand)}: {eq}.", $"{Capitalize(gerund)} {N(s.Used.Operand)}: {eq}."));
        }

        parts.Add(Conclusion(TeacherStyle.Equations, d, rng));
        return string.Join(" ", parts);
    }

    private static string Narrative(SyntheticDerivation d, Random rng)
    {
        ProblemStructure p = d.Problem;
        var active = d.Steps.Where(s => !s.Skipped).ToList();
        var parts = new List<string>();
        if (rng.Next(4) == 0)
        {
            // Claude lists the facts as hyphen bullets or numbered lines in 2 of its 8 GSM8K chains in ReConcile's samples.
            parts.Add(Pick(rng, $"To calculate how many {p.Items} {p.Subject} has at the end:", $"Tracking the {p.Items} through each event:", "Here is each event in order:"));
            parts.Add(Pick(rng, $"- {p.Subject} starts with {N(d.Start)} {p.Items}", $"- Initially: {N(d.Start)} {p.Items}"));
            foreach (DerivationStep s in active)
            {
                string eq = Eq(s);
                parts.Add(Pick(rng, $"- {p.Subject} {Event(p, s)}: {eq} {p.Items}", $"- {p.Subject} {Event(p, s)}, so there are {eq} {p.Items}"));
            }
        }
        else
        {
            bool ordinals = rng.Next(2) == 0;
            parts.Add(Pick(rng, "Let's work through this step by step.", $"Let me trace the {p.Items} one event at a time.", "I'll follow each change in order."));
            parts.Add(Pick(rng, $"{p.Subject} begins with {N(d.Start)} {p.Items}.", $"Initially, {p.Subject} has {N(d.Start)} {p.Items}."));
            for (int i = 0; i < active.Count; i++)
            {
                DerivationStep s = active[i];
                string then = ordinals
                    ? (i == 0 ? "First" : i == active.Count - 1 && i > 1 ? "Finally" : i == 1 ? "Second" : "Third")
                    : i == 0 ? Pick(rng, "First", "To start") : Pick(rng, "Then", "Next", "After that");
                string verb = p.VerbOf(s.Index);
                string a = N(s.Before), b = N(s.Used.Operand), c = N(s.After);
                parts.Add(s.Used.Operator switch
                {
                    '+' when s.Stated.Operator == '*' => $"{then}, {p.Subject} {verb} the amount, so we add {b}: {a} + {b} = {c}.",
                    '+' => Pick(rng,
                        $"{then}, {p.Subject} {verb} {b} more, so the total becomes {a} + {b} = {c}.",
                        $"{then}, {p.Subject} {verb} {b}, bringing the count from {a} up to {a} + {b} = {c}."),
                    '-' => Pick(rng,
                        $"{then}, {p.Subject} {verb} {b}, leaving {a} - {b} = {c}.",
                        $"{then}, {p.Subject} {verb} {b}, so {a} - {b} = {c} remain."),
                    _ => Pick(rng,
                        $"{then}, the amount {(s.Used.Operand == 2 ? "doubles" : "triples")}: {a} * {b} = {c}.",
                        $"{then}, {p.Subject} {verb} them, giving {a} * {b} = {c}."),
                });
            }
        }

        parts.Add(Conclusion(TeacherStyle.Narrative, d, rng));
        return string.Join(" ", parts);
    }

    private static string Explained(SyntheticDerivation d, Random rng)
    {
        ProblemStructure p = d.Problem;
        var active = d.Steps.Where(s => !s.Skipped).ToList();
        var parts = new List<string>();
        if (rng.Next(8) == 0)
        {
            // Bard's numbered form, 1 of its 8 GSM8K chains in ReConcile's samples: each line a fact and the equation it rests
            // on ("2. She drinks 32 ounces a day because 2 x 16 = 32.").
            parts.Add($"{p.Subject} starts with {N(d.Start)} {p.Items}.");
            for (int i = 0; i < active.Count; i++)
            {
                DerivationStep s = active[i];
                parts.Add($"{i + 1}. After {Gerund(p, s)}, {p.Subject} has {N(s.After)} {p.Items} because {Eq(s)}.");
            }
        }
        else
        {
            parts.Add(Pick(rng,
                $"To find how many {p.Items} {p.Subject} has now, we need to follow each change in order.",
                $"To answer this question, we first need to track the {p.Items} {p.Subject} has after each event."));
            parts.Add(Pick(rng, $"We know that {p.Subject} starts with {N(d.Start)} {p.Items}.", $"{p.Subject} starts with {N(d.Start)} {p.Items}."));
            foreach (DerivationStep s in active)
            {
                string eq = Eq(s);
                string how = s.Used.Operator switch { '+' => "add", '-' => "subtract", _ => "multiply by" };
                parts.Add(Pick(rng,
                    $"{p.Subject} {Event(p, s)}, so {p.Subject} has {eq} {p.Items}.",
                    $"Since {p.Subject} {Event(p, s)}, we {how} {N(s.Used.Operand)}: {eq}.",
                    $"{p.Subject} {Event(p, s)}. This gives us {eq}."));
            }
        }

        parts.Add(Conclusion(TeacherStyle.Explained, d, rng));
        return string.Join(" ", parts);
    }

    /// <summary>The event of step <paramref name="s"/> as the question words it, with the quantity the solver used.</summary>
    private static string Event(ProblemStructure p, DerivationStep s) =>
        s.Stated.Operator == '*' ? $"{p.VerbOf(s.Index)} them" : $"{p.VerbOf(s.Index)} {N(s.Used.Operand)}";

    private static string Gerund(ProblemStructure p, DerivationStep s) =>
        s.Stated.Operator == '*' ? p.GerundOf(s.Index) : $"{p.GerundOf(s.Index)} {N(s.Used.Operand)}";

    private static string Grouped(SyntheticDerivation d, Random rng)
    {
        ProblemStructure p = d.Problem;
        var parts = new List<string> { Pick(rng, $"{p.Subject} starts with {N(d.Start)}.", $"Start = {N(d.Start)}.") };
        string gainsLabel = Pick(rng, "Gains", "Added");
        string lossesLabel = Pick(rng, "Losses", "Removed");
        var active = d.Steps.Where(s => !s.Skipped).ToList();
        int i = 0;
        while (i < active.Count)
        {
            if (active[i].Used.Operator == '*')
            {
                DerivationStep m = active[i];
                parts.Add($"{(m.Used.Operand == 2 ? "Doubled" : "Tripled")}: {Eq(m.Before, '*', m.Used.Operand, m.After)}.");
                i++;
                continue;
            }

            // One segment of additions and subtractions, up to the next multiplication.
            var segment = new List<DerivationStep>();
            while (i < active.Count && active[i].Used.Operator != '*')
            {
                segment.Add(active[i++]);
            }

            int before = segment[0].Before, after = segment[^1].After;
            var gains = segment.Where(s => s.Used.Operator == '+').ToList();
            var losses = segment.Where(s => s.Used.Operator == '-').ToList();
            if (segment.Count == 1)
            {
                DerivationStep s = segment[0];
                parts.Add($"{(s.Used.Operator == '+' ? gainsLabel : lossesLabel)}: {N(s.Used.Operand)}. {Eq(before, s.Used.Operator, s.Used.Operand, after)}.");
                continue;
            }

            // A slip in a step shows in the sum of its group when the group has several numbers, else in the net equation.
            int gainSlip = gains.Count > 1 ? gains.Sum(s => s.Slip) : 0;
            int lossSlip = losses.Count > 1 ? -losses.Sum(s => s.Slip) : 0;
            int gainTotal = gains.Sum(s => s.Used.Operand) + gainSlip;
            int lossTotal = losses.Sum(s => s.Used.Operand) + lossSlip;
            if (gains.Count > 0)
            {
                parts.Add(gains.Count == 1 ? $"{gainsLabel}: {N(gainTotal)}." : $"{gainsLabel}: {string.Join(" + ", gains.Select(s => N(s.Used.Operand)))} = {N(gainTotal)}.");
            }

            if (losses.Count > 0)
            {
                parts.Add(losses.Count == 1 ? $"{lossesLabel}: {N(lossTotal)}." : $"{lossesLabel}: {string.Join(" + ", losses.Select(s => N(s.Used.Operand)))} = {N(lossTotal)}.");
            }

            string net = gains.Count == 0 ? $"{N(before)} - {N(lossTotal)} = {N(after)}"
                : losses.Count == 0 ? $"{N(before)} + {N(gainTotal)} = {N(after)}"
                : $"{N(before)} + {N(gainTotal)} - {N(lossTotal)} = {N(after)}";
            parts.Add(Pick(rng, $"Net: {net}.", $"So {net}."));
        }

        parts.Add(Conclusion(TeacherStyle.Grouped, d, rng));
        return string.Join(" ", parts);
    }

    private static string Conclusion(TeacherStyle style, SyntheticDerivation d, Random rng)
    {
        ProblemStructure p = d.Problem;
        string f = N(d.Final);
        if (p.Family == SyntheticFamily.Comparison)
        {
            string t = N(p.Threshold!.Value);
            bool more = d.Final > p.Threshold.Value;
            return style switch
            {
                TeacherStyle.Narrative => more
                    ? $"That leaves {p.Subject} with {f} {p.Items}, which is more than {t}."
                    : $"That leaves {p.Subject} with {f} {p.Items}, which is not more than {t}.",
                TeacherStyle.Grouped => more ? $"{f} > {t}." : $"{f} <= {t}.",
                TeacherStyle.Explained => more
                    ? $"Therefore, {p.Subject} has {f} {p.Items}, which is more than {t}."
                    : $"Therefore, {p.Subject} has {f} {p.Items}, which is not more than {t}.",
                _ => more ? $"Compare: {f} is more than {t}." : $"Compare: {f} is not more than {t}.",
            };
        }

        return style switch
        {
            TeacherStyle.Narrative => Pick(rng, $"That means {p.Subject} ends up with {f} {p.Items}.", $"So in the end there are {f} {p.Items}."),
            TeacherStyle.Grouped => Pick(rng, $"Total: {f} {p.Items}.", $"Answer: {f}."),
            TeacherStyle.Explained => Pick(rng, $"Therefore, {p.Subject} has {f} {p.Items}.", $"Therefore, {p.Subject} ends up with {f} {p.Items}."),
            _ => Pick(rng, $"Final count: {f} {p.Items}.", $"{p.Subject} has {f} {p.Items} now.", $"Result: {f}."),
        };
    }

    /// <summary>The sentence that names the step of <paramref name="previous"/> that <paramref name="revised"/> changes.</summary>
    private static string Repair(TeacherStyle style, SyntheticDerivation previous, SyntheticDerivation revised, Random rng)
    {
        int k = previous.FirstDifference(revised) ?? (revised.Steps.Count - 1);
        string what = Describe(previous, revised, k);
        return style switch
        {
            TeacherStyle.Narrative => Pick(rng,
                $"Looking at the other solutions, I see where I went wrong: {what}",
                $"After comparing with the other agents, I found my error: {what}"),
            TeacherStyle.Grouped => Pick(rng, $"Rechecked: {what}", $"Fixing my count: {what}"),
            TeacherStyle.Explained => Pick(rng,
                $"I made a mistake in my previous answer: {what}",
                $"Upon reviewing the other agents' answers, I see my error: {what}"),
            _ => Pick(rng, $"Correction: {what}", $"I revise my answer. {Capitalize(what)}"),
        };
    }

    private static string Describe(SyntheticDerivation from, SyntheticDerivation to, int k)
    {
        ProblemStructure p = from.Problem;
        if (k < 0)
        {
            return $"{p.Subject} starts with {N(to.Start)} {p.Items}, not {N(from.Start)}.";
        }

        DerivationStep a = from.Steps[k], b = to.Steps[k];
        string verb = p.VerbOf(k);
        string stated = p.Steps[k].Operator == '*' ? verb : $"{verb} {N(p.Steps[k].Operand)}";
        if (a.Skipped && !b.Skipped)
        {
            return $"I left out that {p.Subject} {stated}; that step gives {Eq(b)}.";
        }

        if (b.Skipped && !a.Skipped)
        {
            return $"the step where {p.Subject} {stated} should not change the count, so I drop {Eq(a)}.";
        }

        if (a.Used.Operand != b.Used.Operand && a.Used.Operator == b.Used.Operator)
        {
            return $"the question says {N(b.Used.Operand)}, not {N(a.Used.Operand)}, so that step is {Eq(b)}.";
        }

        if (a.Used.Operator != b.Used.Operator)
        {
            return $"when {p.Subject} {stated}, the step is {Eq(b)}, not {Eq(a)}.";
        }

        return $"{Eq(b)}, not {N(a.After)}.";
    }

    private static string Rebuttal(TeacherStyle style, SyntheticDerivation mine, SyntheticDerivation theirs, int k, string other)
    {
        ProblemStructure p = mine.Problem;
        string step = k < 0
            ? $"{p.Subject} starts with {N(mine.Start)}"
            : mine.Steps[k].Skipped ? $"the step where {p.Subject} {p.VerbOf(k)} does not count"
            : theirs.Steps[k].Skipped ? $"the step where {p.Subject} {p.VerbOf(k)} must be counted"
            : Eq(mine.Steps[k]);
        return style switch
        {
            TeacherStyle.Narrative => $"I disagree with the answer {other}: as far as I can tell, {step}, so I keep {mine.Answer}.",
            TeacherStyle.Grouped => $"I disagree with {other}: {step}.",
            TeacherStyle.Explained => $"I disagree with the answer {other} because {step}, so the answer is still {mine.Answer}.",
            _ => $"I disagree with the answer {other}: {step}.",
        };
    }

    /// <summary>A stance sentence that agrees with the agents who answered <paramref name="answer"/>.</summary>
    private static string Agreement(TeacherStyle style, string answer, bool changed, Random rng) => (style, changed) switch
    {
        (TeacherStyle.Narrative, true) => Pick(rng, $"I agree with the agents who think the answer is {answer}; their reasoning holds up.", $"I agree with the other agents that the answer is {answer}."),
        (TeacherStyle.Narrative, false) => Pick(rng, "I agree with the other agents; every step checks out.", "I agree with the other agents, since all of us reached the same result."),
        (TeacherStyle.Grouped, true) => Pick(rng, $"I agree with {answer}.", $"I agree: {answer}."),
        (TeacherStyle.Grouped, false) => Pick(rng, "I agree: same total as the others.", "I agree with the others' total."),
        (TeacherStyle.Explained, true) => Pick(rng, $"I agree with the other agents that the answer is {answer}.", $"I agree with the agents who think the answer is {answer}."),
        (TeacherStyle.Explained, false) => Pick(rng, $"I agree with the other agents that the answer is {answer}.", "I agree with the other agents, and our reasoning matches."),
        (_, true) => Pick(rng, $"I agree with the answer {answer}.", $"I agree with the other agents: {answer}."),
        _ => Pick(rng, "I agree with the other solutions.", "I agree with the other agents."),
    };

    /// <summary>A stance sentence that disagrees with <paramref name="other"/> without naming a step.</summary>
    private static string Disagreement(TeacherStyle style, string other) => style switch
    {
        TeacherStyle.Grouped => $"I disagree with {other}.",
        _ => $"I disagree with the answer {other}.",
    };

    private static string Check(TeacherStyle style, SyntheticDerivation d, Random rng)
    {
        DerivationStep? last = d.Steps.LastOrDefault(s => !s.Skipped);
        string? inverse = last is null ? null : last.Used.Operator switch
        {
            '+' => $"{N(last.After)} - {N(last.Used.Operand)} = {N(last.After - last.Used.Operand)}",
            '-' => $"{N(last.After)} + {N(last.Used.Operand)} = {N(last.After + last.Used.Operand)}",
            _ => last.After % last.Used.Operand == 0 ? $"{N(last.After)} / {N(last.Used.Operand)} = {N(last.After / last.Used.Operand)}" : null,
        };
        return style switch
        {
            TeacherStyle.Narrative => inverse is null
                ? Pick(rng, $"I double-checked each step and I still get {N(d.Final)}.", "Going over the events again gives the same result.")
                : $"To double-check, undoing the last step gives {inverse}, which matches the step before, so I still get {N(d.Final)}.",
            TeacherStyle.Grouped => Pick(rng, $"Recount confirms {N(d.Final)}.", $"Same result as before: {N(d.Final)}."),
            TeacherStyle.Explained => inverse is null
                ? $"I checked my answer by going through the steps again, and I still get {N(d.Final)}."
                : $"I checked my answer by working backwards: {inverse}, which matches the previous step.",
            _ => inverse is null ? $"Check: the result is still {N(d.Final)}." : $"Check: {inverse}.",
        };
    }

    /// <summary>The equation of a step as computed ("12 + 5 = 17"), the form every teacher and the textbook write it in.</summary>
    internal static string Eq(DerivationStep s) => Eq(s.Before, s.Used.Operator, s.Used.Operand, s.After);

    private static string Eq(int a, char op, int b, int c) => $"{N(a)} {op} {N(b)} = {N(c)}";

    private static string N(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Capitalize(string s) => s.Length == 0 ? s : char.ToUpperInvariant(s[0]) + s[1..];

    private static string Pick(Random rng, params string[] options) => options[rng.Next(options.Length)];
}

using System.Globalization;
using System.Text;

namespace MagDi.Tasks;

/// <summary>
/// A reasoning task: how its questions are written into a prompt, how a final answer is found in
/// free text, how answers are normalised and how they are compared with the gold answer.
/// </summary>
/// <remarks>
/// Built-in tasks live in <see cref="ReasoningTasks"/>. Derive from this class (or use
/// <see cref="YesNoTask"/>, <see cref="MultipleChoiceTask"/>, <see cref="NumericTask"/>,
/// <see cref="MathTask"/> or <see cref="FreeTextTask"/> with your own name) and call
/// <see cref="ReasoningTasks.Register"/> to add a task of your own.
/// </remarks>
public abstract class ReasoningTask
{
    /// <summary>Creates a task.</summary>
    /// <param name="name">The canonical task name (lower case by convention, for example <c>gsm8k</c>).</param>
    /// <param name="aliases">Other names the registry resolves to this task (for example <c>sqa</c>).</param>
    protected ReasoningTask(string name, IEnumerable<string>? aliases = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        Name = name;
        Aliases = aliases?.ToArray() ?? [];
    }

    /// <summary>The canonical task name.</summary>
    public string Name { get; }

    /// <summary>Other names that resolve to this task in <see cref="ReasoningTasks"/>.</summary>
    public IReadOnlyList<string> Aliases { get; }

    /// <summary>The shape of this task's answers.</summary>
    public abstract AnswerKind Kind { get; }

    /// <summary>One sentence for prompts telling a model how to state its final answer.</summary>
    public abstract string AnswerFormatInstruction { get; }

    /// <summary>Writes a question as prompt text: the question, then the answer choices if any, one per line as <c>(A) text</c>.</summary>
    /// <param name="question">The question.</param>
    /// <returns>The question text ready to be placed into a prompt.</returns>
    public virtual string FormatQuestion(Question question)
    {
        ArgumentNullException.ThrowIfNull(question);
        if (question.Choices.Count == 0)
        {
            return question.Text;
        }

        var sb = new StringBuilder(question.Text.TrimEnd());
        sb.Append("\nAnswer Choices:");
        foreach (var choice in question.Choices)
        {
            sb.Append(CultureInfo.InvariantCulture, $"\n({choice.Label}) {choice.Text}");
        }

        return sb.ToString();
    }

    /// <summary>
    /// Finds the final answer in a model's free-text reply. Looks, in order, for a JSON <c>"answer"</c>
    /// field, a <c>\boxed{...}</c> expression, and a phrase such as "So the answer is X" (the last one
    /// wins), then falls back to a task-specific guess (for example the last number).
    /// </summary>
    /// <param name="freeText">The model output.</param>
    /// <returns>The answer in the task's canonical form (see <see cref="Normalize"/>; MATH answers are
    /// returned as written), or <see langword="null"/> when no answer can be found.</returns>
    public virtual string? ExtractAnswer(string freeText)
    {
        if (string.IsNullOrWhiteSpace(freeText))
        {
            return null;
        }

        foreach (var candidate in AnswerText.Candidates(freeText))
        {
            if (CleanCandidate(candidate) is { } answer)
            {
                return answer;
            }
        }

        return ExtractFallback(freeText);
    }

    /// <summary>
    /// Brings an answer into the task's canonical form (for example <c>"Yes."</c> to <c>yes</c>,
    /// <c>"$1,234.00"</c> to <c>1234</c>, <c>"(b) bank"</c> to <c>B</c>).
    /// </summary>
    /// <param name="answer">An answer as a model or a benchmark wrote it.</param>
    /// <returns>The canonical answer, or <see langword="null"/> when the text is not a valid answer for this task.</returns>
    public abstract string? Normalize(string? answer);

    /// <summary>Whether a predicted answer equals the gold answer after normalisation.</summary>
    /// <param name="predicted">The predicted answer (not the whole reply; see <see cref="ExtractAnswer"/>). <see langword="null"/> is never correct.</param>
    /// <param name="gold">The gold answer.</param>
    /// <returns><see langword="true"/> when both normalise to the same answer.</returns>
    public bool IsCorrect(string? predicted, string gold)
    {
        ArgumentNullException.ThrowIfNull(gold);
        return Normalize(predicted) is { } p && Normalize(gold) is { } g && AreEquivalent(p, g);
    }

    /// <summary>
    /// The most frequent answer among <paramref name="answers"/> after normalisation (self-consistency).
    /// Answers that do not normalise are ignored; ties go to the answer seen first.
    /// </summary>
    /// <param name="answers">Extracted answers, for example one per sampled generation.</param>
    /// <returns>The winning normalised answer, or <see langword="null"/> when no answer is valid.</returns>
    public string? MajorityVote(IEnumerable<string?> answers)
    {
        ArgumentNullException.ThrowIfNull(answers);
        return WeightedVote(answers.Select(a => (a, 1.0)));
    }

    /// <summary>
    /// The answer with the largest total weight after normalisation, as ReConcile's confidence-weighted team
    /// vote. Equivalent answers (for example <c>42</c> and <c>42.0</c>) pool their weights; answers that do not
    /// normalise and non-positive or non-finite weights are ignored; ties go to the answer seen first.
    /// </summary>
    /// <param name="votes">Answers with their weights (for example recalibrated confidences).</param>
    /// <returns>The winning normalised answer, or <see langword="null"/> when no vote counts.</returns>
    public string? WeightedVote(IEnumerable<(string? Answer, double Weight)> votes)
    {
        ArgumentNullException.ThrowIfNull(votes);
        var groups = new List<(string Answer, double Weight)>();
        foreach (var (answer, weight) in votes)
        {
            if (!(weight > 0) || !double.IsFinite(weight) || Normalize(answer) is not { } n)
            {
                continue;
            }

            var i = groups.FindIndex(g => AreEquivalent(n, g.Answer));
            if (i < 0)
            {
                groups.Add((n, weight));
            }
            else
            {
                groups[i] = (groups[i].Answer, groups[i].Weight + weight);
            }
        }

        string? best = null;
        var bestWeight = 0.0;
        foreach (var (a, w) in groups)
        {
            if (w > bestWeight)
            {
                best = a;
                bestWeight = w;
            }
        }

        return best;
    }

    /// <summary>Compares two normalised answers. The default is ordinal string equality.</summary>
    /// <param name="normalizedPredicted">The normalised prediction.</param>
    /// <param name="normalizedGold">The normalised gold answer.</param>
    /// <returns><see langword="true"/> when they denote the same answer.</returns>
    protected virtual bool AreEquivalent(string normalizedPredicted, string normalizedGold) =>
        string.Equals(normalizedPredicted, normalizedGold, StringComparison.Ordinal);

    /// <summary>Turns an answer candidate found by <see cref="ExtractAnswer"/> into the returned answer. The default normalises it.</summary>
    /// <param name="candidate">The text following "the answer is", inside <c>\boxed{}</c> or in a JSON answer field.</param>
    /// <returns>The answer, or <see langword="null"/> to try the next candidate.</returns>
    protected virtual string? CleanCandidate(string candidate) => Normalize(candidate);

    /// <summary>A task-specific last resort when no explicit answer statement is found. The default finds nothing.</summary>
    /// <param name="freeText">The model output.</param>
    /// <returns>The answer, or <see langword="null"/>.</returns>
    protected virtual string? ExtractFallback(string freeText) => null;

    /// <inheritdoc />
    public override string ToString() => Name;
}

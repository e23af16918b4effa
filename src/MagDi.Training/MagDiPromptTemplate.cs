using MagDi.Graphs.IO;
using MagDi.Tasks;
using MagDi.Tokenization;

namespace MagDi.Training;

/// <summary>
/// How a MAG node becomes a training example and a question becomes a test-time prompt, as in the released recipe:
/// <c>[INST] ### Question: {q}[/INST] ### Answer: {reasoning} So the answer is {answer}</c> followed by EOS, with the
/// chat wrapping taken from the student's <see cref="PromptFormat"/>. The test-time prompt is the same text up to
/// <c>### Answer:</c>, so the student answers alone and zero-shot.
/// </summary>
public sealed class MagDiPromptTemplate
{
    /// <summary>Creates the template over a prompt format.</summary>
    public MagDiPromptTemplate(PromptFormat format)
    {
        ArgumentNullException.ThrowIfNull(format);
        Format = format;
    }

    /// <summary>The chat format that wraps the question.</summary>
    public PromptFormat Format { get; }

    /// <summary>The test-time prompt for <paramref name="question"/>: everything before the student's answer.</summary>
    public string RenderPrompt(ReasoningTask task, Question question) => RenderPrompt(task, question, taskPrefix: null);

    /// <summary>
    /// The test-time prompt with a task prefix before the question (<c>[label] ### Question: ...</c>), for students trained
    /// on prefixed tasks such as DSS-MT (<see cref="Losses.StepByStepLoss.LabelPrefix"/>); null or empty gives
    /// <see cref="RenderPrompt(ReasoningTask, Question)"/>.
    /// </summary>
    public string RenderPrompt(ReasoningTask task, Question question, string? taskPrefix)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(question);
        string prefix = string.IsNullOrWhiteSpace(taskPrefix) ? string.Empty : taskPrefix.Trim() + " ";
        return Format.RenderPrompt(prefix + "### Question: " + task.FormatQuestion(question)).TrimEnd() + " ### Answer:";
    }

    /// <summary>The answer part of a target alone, <c> So the answer is X</c>: DSS-MT's label task.</summary>
    internal static string RenderAnswer(string? answer) => $" So the answer is {answer ?? string.Empty}".TrimEnd();

    /// <summary>
    /// The target the student learns to produce: reasoning, then "So the answer is X". With
    /// <paramref name="stripAgreementSentences"/>, sentences starting with "I agree"/"I disagree" are removed first
    /// (<see cref="ReasoningCleaner.RemoveAgreementSentences"/>, the release's cleaning).
    /// </summary>
    public static string RenderTarget(string reasoning, string? answer, bool stripAgreementSentences = false)
    {
        ArgumentNullException.ThrowIfNull(reasoning);
        string text = stripAgreementSentences ? ReasoningCleaner.RemoveAgreementSentences(reasoning) : reasoning.Trim();
        return $" {text} So the answer is {answer ?? string.Empty}".TrimEnd();
    }

    /// <summary>Prompt and target of one node of a MAG.</summary>
    public RenderedExample RenderNode(ReasoningTask task, Question question, string reasoning, string? answer, bool stripAgreementSentences = false) =>
        new(RenderPrompt(task, question), RenderTarget(reasoning, answer, stripAgreementSentences));
}

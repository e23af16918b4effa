using System.Globalization;
using System.Text;
using System.Text.Json;
using MagDi.Tasks;

namespace MagDi.Graphs.Discussion;

/// <summary>A worked example shown to agents in round 0 (ReConcile's "convincing samples").</summary>
public sealed class DiscussionDemonstration
{
    /// <summary>Creates a <see cref="DiscussionDemonstration"/>.</summary>
    /// <param name="question">The example question as prompt text.</param>
    /// <param name="reasoning">A correct step-by-step explanation.</param>
    /// <param name="answer">The correct answer.</param>
    public DiscussionDemonstration(string question, string reasoning, string answer)
    {
        Question = question;
        Reasoning = reasoning;
        Answer = answer;
    }

    /// <summary>The example question as prompt text.</summary>
    public string Question { get; }

    /// <summary>A correct step-by-step explanation.</summary>
    public string Reasoning { get; }

    /// <summary>The correct answer.</summary>
    public string Answer { get; }
}

/// <summary>The answers of the previous round that share one answer, shown to agents in a discussion round.</summary>
public sealed class AnswerGroup
{
    internal AnswerGroup(string answer, IReadOnlyList<(string Reasoning, double? Confidence)> explanations)
    {
        Answer = answer;
        Explanations = explanations;
    }

    /// <summary>The shared canonical answer.</summary>
    public string Answer { get; }

    /// <summary>Each supporting agent's reasoning and confidence, in agent order.</summary>
    public IReadOnlyList<(string Reasoning, double? Confidence)> Explanations { get; }
}

/// <summary>
/// The prompt templates of the ReConcile protocol. Replace any template with <c>init</c>, or derive and
/// override the <c>Format…</c> methods for full control.
/// </summary>
/// <remarks>
/// Placeholders (replaced literally, so JSON braces in templates are safe):
/// <c>{question}</c> (the task's <see cref="ReasoningTask.FormatQuestion"/>), <c>{answer_format}</c> (the task's
/// <see cref="ReasoningTask.AnswerFormatInstruction"/>), <c>{json_format}</c> (<see cref="JsonFormat"/>),
/// <c>{demonstrations}</c>, <c>{groups}</c> (the grouped answers of the previous round), <c>{count}</c>, <c>{answer}</c>,
/// <c>{reasoning}</c>, <c>{confidence}</c> and <c>{error}</c>. The simulated teachers find the question after the
/// last <c>Question:</c> and the groups by the sentence "There are N agents think the answer is X.", so keep those
/// when you change templates and still want to use them.
/// </remarks>
public class DiscussionPrompts
{
    /// <summary>The system message sent first in every conversation.</summary>
    public string System { get; init; } =
        "You are a careful expert who solves reasoning problems step by step and reports how confident you are.";

    /// <summary>How the reply must be formatted (the protocol's JSON).</summary>
    public string JsonFormat { get; init; } =
        "Output your answer in JSON format, with the format as follows: {\"reasoning\": \"\", \"answer\": \"\", \"confidence_level\": \"\"}. "
        + "The confidence_level is a number between 0.0 and 1.0 saying how sure you are. Please strictly output in JSON format.";

    /// <summary>The round-0 prompt.</summary>
    public string Initial { get; init; } =
        "{demonstrations}Question: {question}\n\nAnswer the question. Please think step by step. {answer_format}\n{json_format}";

    /// <summary>Header placed before the demonstrations, when there are any.</summary>
    public string DemonstrationsHeader { get; init; } = "Here are some examples of good answers.\n\n";

    /// <summary>One demonstration.</summary>
    public string Demonstration { get; init; } = "Question: {question}\nAnswer: {json}\n\n";

    /// <summary>The prompt of every later round.</summary>
    public string Discussion { get; init; } =
        "Question: {question}\n\nCarefully review the following solutions from all agents (yours included) in the previous round:\n\n{groups}\n"
        + "Use these solutions as additional advice, but note that they may be wrong. Answer the question again, step by step, "
        + "and say whether you agree or disagree with each solution. {answer_format}\n{json_format}";

    /// <summary>Header of one answer group.</summary>
    public string GroupHeader { get; init; } = "There are {count} agents think the answer is {answer}.\n";

    /// <summary>One explanation inside a group.</summary>
    public string GroupExplanation { get; init; } = "One agent solution: {reasoning} (confidence: {confidence})\n";

    /// <summary>The follow-up sent when a reply could not be parsed.</summary>
    public string Reask { get; init; } =
        "Your reply could not be read: {error} Please answer again. {answer_format}\n{json_format}";

    /// <summary>Writes the round-0 prompt.</summary>
    /// <param name="question">The question.</param>
    /// <param name="task">Its task, which decides the answer format.</param>
    /// <param name="demonstrations">The demonstrations (may be empty).</param>
    /// <returns>The user message.</returns>
    public virtual string FormatInitial(Question question, ReasoningTask task, IReadOnlyList<DiscussionDemonstration> demonstrations)
    {
        ArgumentNullException.ThrowIfNull(question);
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(demonstrations);
        var demos = new StringBuilder();
        if (demonstrations.Count > 0)
        {
            demos.Append(DemonstrationsHeader);
            foreach (var d in demonstrations)
            {
                string json = JsonSerializer.Serialize(new Dictionary<string, object>
                {
                    ["reasoning"] = d.Reasoning,
                    ["answer"] = d.Answer,
                    ["confidence_level"] = 1.0,
                });
                demos.Append(Demonstration.Replace("{question}", d.Question, StringComparison.Ordinal).Replace("{json}", json, StringComparison.Ordinal));
            }
        }

        return Fill(Initial, question, task).Replace("{demonstrations}", demos.ToString(), StringComparison.Ordinal);
    }

    /// <summary>Writes the prompt of a discussion round.</summary>
    /// <param name="question">The question.</param>
    /// <param name="task">Its task.</param>
    /// <param name="previousRound">The previous round's valid answers grouped by answer, largest group first.</param>
    /// <returns>The user message.</returns>
    public virtual string FormatDiscussion(Question question, ReasoningTask task, IReadOnlyList<AnswerGroup> previousRound)
    {
        ArgumentNullException.ThrowIfNull(question);
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(previousRound);
        var groups = new StringBuilder();
        foreach (var g in previousRound)
        {
            groups.Append(GroupHeader
                .Replace("{count}", g.Explanations.Count.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)
                .Replace("{answer}", g.Answer, StringComparison.Ordinal));
            foreach (var (reasoning, confidence) in g.Explanations)
            {
                groups.Append(GroupExplanation
                    .Replace("{reasoning}", reasoning, StringComparison.Ordinal)
                    .Replace("{confidence}", confidence?.ToString("0.##", CultureInfo.InvariantCulture) ?? "not given", StringComparison.Ordinal));
            }

            groups.Append('\n');
        }

        return Fill(Discussion, question, task).Replace("{groups}", groups.ToString(), StringComparison.Ordinal);
    }

    /// <summary>Writes the follow-up for a reply that could not be parsed.</summary>
    /// <param name="problem">Why it could not be parsed.</param>
    /// <param name="task">The task.</param>
    /// <returns>The user message.</returns>
    public virtual string FormatReask(string problem, ReasoningTask task)
    {
        ArgumentNullException.ThrowIfNull(task);
        return Reask.Replace("{error}", problem, StringComparison.Ordinal)
            .Replace("{answer_format}", task.AnswerFormatInstruction, StringComparison.Ordinal)
            .Replace("{json_format}", JsonFormat, StringComparison.Ordinal);
    }

    private string Fill(string template, Question question, ReasoningTask task) =>
        template.Replace("{question}", task.FormatQuestion(question), StringComparison.Ordinal)
            .Replace("{answer_format}", task.AnswerFormatInstruction, StringComparison.Ordinal)
            .Replace("{json_format}", JsonFormat, StringComparison.Ordinal);
}

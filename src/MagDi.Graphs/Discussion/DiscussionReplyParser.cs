using System.Globalization;
using MagDi.Tasks;

namespace MagDi.Graphs.Discussion;

/// <summary>What an agent said in one round, once parsed.</summary>
public sealed class AgentReply
{
    internal AgentReply(string reasoning, string answer, double? confidence)
    {
        Reasoning = reasoning;
        Answer = answer;
        Confidence = confidence;
    }

    /// <summary>The step-by-step reasoning.</summary>
    public string Reasoning { get; }

    /// <summary>The answer in the task's canonical form (see <see cref="ReasoningTask.Normalize"/>).</summary>
    public string Answer { get; }

    /// <summary>The self-reported confidence in [0,1], or <see langword="null"/> when the agent gave none.</summary>
    public double? Confidence { get; }
}

/// <summary>The outcome of parsing one reply: either a <see cref="AgentReply"/> or the reason it could not be parsed.</summary>
public sealed class ReplyParseResult
{
    internal ReplyParseResult(AgentReply? reply, string? error)
    {
        Reply = reply;
        Error = error;
    }

    /// <summary>The parsed reply, when parsing succeeded.</summary>
    public AgentReply? Reply { get; }

    /// <summary>Why the reply could not be parsed (suitable for a re-ask prompt), when it failed.</summary>
    public string? Error { get; }

    /// <summary>Whether the reply was parsed.</summary>
    public bool Success => Reply is not null;
}

/// <summary>
/// Parses the JSON replies of the ReConcile protocol, <c>{"reasoning": ..., "answer": ..., "confidence_level": ...}</c>,
/// the way language models actually write them.
/// </summary>
/// <remarks>
/// Tolerated: code fences, prose before and after the object, single-quoted strings, bare keys,
/// trailing commas, numbers written as strings (<c>"0.9"</c>), percentages (<c>"90%"</c> or <c>90</c> become 0.9),
/// JSON booleans for yes/no answers, and the key spellings <c>confidence_level</c>, <c>confidence</c> and
/// <c>confidence level</c>. A reply longer than <see cref="MaxReplyLength"/> is rejected (the MAG readers could not read it back).
/// The answer must be valid for the task (its <see cref="ReasoningTask.Normalize"/>
/// is not <see langword="null"/>). A missing confidence is allowed and reported as <see langword="null"/>.
/// </remarks>
public static class DiscussionReplyParser
{
    /// <summary>
    /// The longest reply accepted, in characters: <see cref="DataReadOptions.DefaultMaxTextLength"/>, the limit the MAG readers
    /// apply to every text field, so every parsed reasoning and answer can be read back.
    /// </summary>
    public const int MaxReplyLength = DataReadOptions.DefaultMaxTextLength;

    private static readonly string[] ConfidenceKeys = ["confidence_level", "confidence", "confidence level", "confidencelevel"];

    /// <summary>Parses a reply.</summary>
    /// <param name="text">The agent's raw reply.</param>
    /// <param name="task">The task whose answer logic validates and normalises the answer.</param>
    /// <returns>The parsed reply or the reason it could not be parsed.</returns>
    public static ReplyParseResult Parse(string? text, ReasoningTask task)
    {
        ArgumentNullException.ThrowIfNull(task);
        if (string.IsNullOrWhiteSpace(text))
        {
            return new ReplyParseResult(null, "The reply was empty.");
        }

        if (text.Length > MaxReplyLength)
        {
            // MAG readers reject longer text fields, so such a reply would make the corpus unreadable: ask again.
            return new ReplyParseResult(null, string.Create(CultureInfo.InvariantCulture,
                $"The reply was {text.Length} characters long, over the limit of {MaxReplyLength}. Answer again, more briefly."));
        }

        var obj = LenientJson.FindObject(text, o => o.ContainsKey("answer"));
        if (obj is null)
        {
            return new ReplyParseResult(null, "The reply did not contain a JSON object with an \"answer\" field.");
        }

        string? rawAnswer = obj["answer"] switch
        {
            string s => s,
            LenientJson.Number n => n.Text,
            bool b => b ? "yes" : "no",
            _ => null,
        };
        if (string.IsNullOrWhiteSpace(rawAnswer))
        {
            return new ReplyParseResult(null, "The \"answer\" field was empty.");
        }

        string? answer = task.Normalize(rawAnswer);
        if (answer is null)
        {
            return new ReplyParseResult(null, $"The answer \"{rawAnswer}\" is not a valid answer. {task.AnswerFormatInstruction}");
        }

        string reasoning = obj.TryGetValue("reasoning", out object? r) && r is string rs ? rs.Trim() : string.Empty;
        if (reasoning.Length == 0 && obj.TryGetValue("explanation", out object? ex) && ex is string es)
        {
            reasoning = es.Trim();
        }

        if (reasoning.Length == 0)
        {
            return new ReplyParseResult(null, "The \"reasoning\" field was missing or empty.");
        }

        double? confidence = null;
        foreach (string key in ConfidenceKeys)
        {
            if (obj.TryGetValue(key, out object? c) && c is not null)
            {
                if (!TryReadConfidence(c, out double value))
                {
                    return new ReplyParseResult(null, $"The \"confidence_level\" value \"{c}\" is not a number between 0 and 1.");
                }

                confidence = value;
                break;
            }
        }

        return new ReplyParseResult(new AgentReply(reasoning, answer, confidence), null);
    }

    private static bool TryReadConfidence(object value, out double confidence)
    {
        string text = value switch
        {
            LenientJson.Number n => n.Text,
            string s => s.Trim(),
            _ => string.Empty,
        };
        bool percent = text.EndsWith('%');
        if (percent)
        {
            text = text[..^1].Trim();
        }

        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out confidence) || double.IsNaN(confidence))
        {
            return false;
        }

        if (percent || (confidence > 1 && confidence <= 100))
        {
            confidence /= 100;
        }

        return confidence is >= 0 and <= 1;
    }
}

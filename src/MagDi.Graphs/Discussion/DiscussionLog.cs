using Microsoft.Extensions.Logging;

namespace MagDi.Graphs.Discussion;

/// <summary>Source-generated log messages of the discussion runner.</summary>
internal static partial class DiscussionLog
{
    [LoggerMessage(EventId = 8001, Level = LogLevel.Warning, Message = "Agent {Agent}: transient error, retry {Attempt} in {DelayMs} ms: {Error}")]
    public static partial void Retrying(ILogger logger, string agent, int attempt, double delayMs, string error);

    [LoggerMessage(EventId = 8002, Level = LogLevel.Information, Message = "Agent {Agent}, question {QuestionId}, round {Round}: reply could not be parsed ({Error}); re-ask {Reask} of {MaxReasks}")]
    public static partial void Reasking(ILogger logger, string agent, string questionId, int round, string error, int reask, int maxReasks);

    [LoggerMessage(EventId = 8003, Level = LogLevel.Warning, Message = "Agent {Agent}, question {QuestionId}, round {Round}: reply still unparseable after {MaxReasks} re-asks; recorded as an invalid node")]
    public static partial void InvalidNode(ILogger logger, string agent, string questionId, int round, int maxReasks);

    [LoggerMessage(EventId = 8004, Level = LogLevel.Information, Message = "Resuming {Path}: {Done} questions already done")]
    public static partial void Resuming(ILogger logger, string path, int done);

    [LoggerMessage(EventId = 8005, Level = LogLevel.Warning, Message = "{Path}: dropped an unfinished last line ({Bytes} bytes) left by an interrupted run")]
    public static partial void DroppedPartialLine(ILogger logger, string path, long bytes);

    [LoggerMessage(EventId = 8006, Level = LogLevel.Debug, Message = "Question {QuestionId}: G{Rounds}, team answer {TeamAnswer} ({Correctness}), {Tokens} tokens")]
    public static partial void QuestionDone(ILogger logger, string questionId, int rounds, string teamAnswer, string correctness, long tokens);

    [LoggerMessage(EventId = 8007, Level = LogLevel.Error, Message = "Question {QuestionId} failed and was not written; a rerun will try it again")]
    public static partial void QuestionFailed(ILogger logger, Exception exception, string questionId);

    [LoggerMessage(EventId = 8008, Level = LogLevel.Information, Message = "Discussion finished: {Completed} written, {Skipped} skipped (already done), {Failed} failed, {Tokens} tokens")]
    public static partial void RunFinished(ILogger logger, int completed, int skipped, int failed, long tokens);
}

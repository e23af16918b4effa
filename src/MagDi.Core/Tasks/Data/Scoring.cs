using System.Text.Json;
using MagDi.IO;

namespace MagDi.Tasks;

/// <summary>One model output to score.</summary>
public sealed class Prediction
{
    /// <summary>Creates a <see cref="Prediction"/>.</summary>
    /// <param name="id">The question id; <see langword="null"/> when predictions are matched to questions by position.</param>
    /// <param name="output">The model's free-text output, from which the answer is extracted with <see cref="ReasoningTask.ExtractAnswer"/>.</param>
    /// <param name="answer">An already extracted answer; used as is when given.</param>
    public Prediction(string? id, string? output, string? answer)
    {
        Id = id;
        Output = output;
        Answer = answer;
    }

    /// <summary>The question id; <see langword="null"/> when predictions are matched to questions by position.</summary>
    public string? Id { get; }

    /// <summary>The model's free-text output, from which the answer is extracted with <see cref="ReasoningTask.ExtractAnswer"/>.</summary>
    public string? Output { get; }

    /// <summary>An already extracted answer; used as is when given.</summary>
    public string? Answer { get; }
}

/// <summary>The outcome of one question.</summary>
public sealed class ScoredQuestion
{
    internal ScoredQuestion(string id, string? predicted, string gold, bool isCorrect, bool isMissing)
    {
        Id = id;
        Predicted = predicted;
        Gold = gold;
        IsCorrect = isCorrect;
        IsMissing = isMissing;
    }

    /// <summary>The question id.</summary>
    public string Id { get; }

    /// <summary>The extracted predicted answer, or <see langword="null"/> when none was found or the prediction is missing.</summary>
    public string? Predicted { get; }

    /// <summary>The gold answer.</summary>
    public string Gold { get; }

    /// <summary>Whether the prediction is correct.</summary>
    public bool IsCorrect { get; }

    /// <summary>Whether no prediction was given for this question.</summary>
    public bool IsMissing { get; }
}

/// <summary>The accuracy of a set of predictions on a benchmark.</summary>
public sealed class ScoreResult
{
    internal ScoreResult(string task, int count, int correct, int missing, int unanswered, IReadOnlyList<ScoredQuestion> questions)
    {
        Task = task;
        Count = count;
        Correct = correct;
        Missing = missing;
        Unanswered = unanswered;
        Questions = questions;
    }

    /// <summary>The task name.</summary>
    public string Task { get; }

    /// <summary>The number of questions scored (every question of the benchmark).</summary>
    public int Count { get; }

    /// <summary>The number answered correctly.</summary>
    public int Correct { get; }

    /// <summary>The number of questions without a prediction (counted as wrong).</summary>
    public int Missing { get; }

    /// <summary>The number of predictions from which no answer could be extracted (counted as wrong).</summary>
    public int Unanswered { get; }

    /// <summary>The outcome of each question, in benchmark order.</summary>
    public IReadOnlyList<ScoredQuestion> Questions { get; }

    /// <summary>Correct divided by count (0 for an empty benchmark).</summary>
    public double Accuracy => Count == 0 ? 0 : (double)Correct / Count;
}

/// <summary>
/// Scores model outputs against a benchmark's gold answers with the task's answer logic.
/// </summary>
/// <remarks>
/// Predictions files are JSON Lines, one object per line: <c>id</c> (string or number; optional when
/// every line omits it, then predictions match questions by position), and either <c>prediction</c> (or
/// <c>output</c>): the model's free text, from which the answer is extracted; or <c>answer</c>: the extracted
/// answer. Questions without a prediction count as wrong. A prediction for an unknown id, a duplicate id,
/// or a mix of lines with and without ids is an error.
/// </remarks>
public static class Scoring
{
    /// <summary>Scores predictions against questions.</summary>
    /// <param name="task">The task whose answer logic decides correctness.</param>
    /// <param name="questions">The benchmark questions.</param>
    /// <param name="predictions">The predictions.</param>
    /// <returns>The accuracy and the outcome of each question.</returns>
    /// <exception cref="ArgumentException">Predictions refer to unknown ids, repeat an id, mix lines with and without ids, or (without ids) outnumber the questions.</exception>
    public static ScoreResult Score(ReasoningTask task, IReadOnlyList<Question> questions, IReadOnlyList<Prediction> predictions)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentNullException.ThrowIfNull(questions);
        ArgumentNullException.ThrowIfNull(predictions);
        var byQuestion = new Prediction?[questions.Count];
        var withId = predictions.Count(p => p.Id is not null);
        if (withId == 0)
        {
            if (predictions.Count > questions.Count)
            {
                throw new ArgumentException($"There are {predictions.Count} predictions without ids but only {questions.Count} questions.", nameof(predictions));
            }

            for (var i = 0; i < predictions.Count; i++)
            {
                byQuestion[i] = predictions[i];
            }
        }
        else
        {
            if (withId != predictions.Count)
            {
                throw new ArgumentException($"{predictions.Count - withId} of {predictions.Count} predictions have no id; give every prediction an id or none.", nameof(predictions));
            }

            var index = new Dictionary<string, int>(StringComparer.Ordinal);
            for (var i = 0; i < questions.Count; i++)
            {
                index.TryAdd(questions[i].Id, i);
            }

            foreach (var p in predictions)
            {
                if (!index.TryGetValue(p.Id!, out var i))
                {
                    throw new ArgumentException($"Prediction for unknown question id '{p.Id}'.", nameof(predictions));
                }

                if (byQuestion[i] is not null)
                {
                    throw new ArgumentException($"More than one prediction for question id '{p.Id}'.", nameof(predictions));
                }

                byQuestion[i] = p;
            }
        }

        var scored = new List<ScoredQuestion>(questions.Count);
        int correct = 0, missing = 0, unanswered = 0;
        for (var i = 0; i < questions.Count; i++)
        {
            var q = questions[i];
            var p = byQuestion[i];
            if (p is null)
            {
                missing++;
                scored.Add(new ScoredQuestion(q.Id, null, q.GoldAnswer, false, true));
                continue;
            }

            var answer = p.Answer ?? (p.Output is null ? null : task.ExtractAnswer(p.Output));
            if (answer is null)
            {
                unanswered++;
            }

            var ok = answer is not null && task.IsCorrect(answer, q.GoldAnswer);
            if (ok)
            {
                correct++;
            }

            scored.Add(new ScoredQuestion(q.Id, answer, q.GoldAnswer, ok, false));
        }

        return new ScoreResult(task.Name, questions.Count, correct, missing, unanswered, scored);
    }

    /// <summary>Reads a predictions JSON Lines file (see the class remarks for the format).</summary>
    /// <param name="path">The file.</param>
    /// <param name="options">Limits; the error mode is always fail-fast for predictions (a skipped prediction would silently count as wrong).</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    /// <returns>The predictions in file order.</returns>
    /// <exception cref="MagDataException">A line is bad.</exception>
    public static async Task<IReadOnlyList<Prediction>> ReadPredictionsAsync(string path, DataReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        options ??= new DataReadOptions();
        options.Validate();
        if (InputFile.Problem(path) is { } problem)
        {
            throw new MagDataException(new DataError(path, null, null, null, problem));
        }

        var result = new List<Prediction>();
        var stream = InputFile.OpenRead(path);
        await using (stream.ConfigureAwait(false))
        {
            var index = 0;
            await foreach (var line in JsonLinesReader.ReadLinesAsync(stream, options.MaxRecordBytes, cancellationToken).ConfigureAwait(false))
            {
                if (line.IsBlank)
                {
                    continue;
                }

                var f = new JsonFields(path, line.Number, index, options.MaxTextLength);
                if (line.TooLong)
                {
                    throw f.Fail(null, $"line is over the limit of {options.MaxRecordBytes} bytes");
                }

                if (!line.IsValidUtf8)
                {
                    throw f.Fail(null, "invalid UTF-8");
                }

                try
                {
                    using var doc = JsonDocument.Parse(line.Utf8);
                    if (JsonStrings.FindInvalidEscape(line.Utf8.Span) is { } bad)
                    {
                        // An unpaired surrogate escape ("\ud800") parses but cannot be read as .NET text.
                        throw f.Fail(bad.Field, bad.Reason);
                    }

                    var r = doc.RootElement;
                    f.RequireObject(r, null);
                    var output = f.OptionalString(r, "prediction") ?? f.OptionalString(r, "output");
                    var answer = f.OptionalScalar(r, "answer");
                    if (output is null && answer is null)
                    {
                        throw f.Fail("prediction", "is missing (give 'prediction', 'output' or 'answer')");
                    }

                    result.Add(new Prediction(f.OptionalScalar(r, "id"), output, answer));
                }
                catch (JsonException ex)
                {
                    throw new MagDataException(JsonFields.AtLine(JsonFields.SyntaxError(path, index, ex, line.Number), line.Number), ex);
                }

                index++;
            }
        }

        return result;
    }

    /// <summary>Writes predictions as JSON Lines in the format <see cref="ReadPredictionsAsync"/> reads (<c>id</c>, <c>prediction</c>, <c>answer</c>; null fields omitted).</summary>
    /// <param name="path">The file (replaced atomically, see <see cref="MagDi.IO.AtomicFile"/>).</param>
    /// <param name="predictions">The predictions.</param>
    /// <param name="cancellationToken">Cancels writing.</param>
    /// <returns>The number of predictions written.</returns>
    public static async Task<int> WritePredictionsAsync(string path, IEnumerable<Prediction> predictions, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        ArgumentNullException.ThrowIfNull(predictions);
        var count = 0;
        await AtomicFile.WriteAsync(path, async (stream, ct) =>
        {
            var newline = "\n"u8.ToArray();
            foreach (var p in predictions)
            {
                var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
                await using (writer.ConfigureAwait(false))
                {
                    writer.WriteStartObject();
                    if (p.Id is not null)
                    {
                        writer.WriteString("id", p.Id);
                    }

                    if (p.Output is not null)
                    {
                        writer.WriteString("prediction", p.Output);
                    }

                    if (p.Answer is not null)
                    {
                        writer.WriteString("answer", p.Answer);
                    }

                    writer.WriteEndObject();
                }

                await stream.WriteAsync(newline, ct).ConfigureAwait(false);
                count++;
            }
        }, cancellationToken).ConfigureAwait(false);
        return count;
    }

    /// <summary>Scores a predictions file against a benchmark file.</summary>
    /// <param name="task">The task name or alias.</param>
    /// <param name="benchmarkPath">The benchmark file (see <see cref="BenchmarkReader"/>).</param>
    /// <param name="predictionsPath">The predictions JSON Lines file.</param>
    /// <param name="options">Limits. Both files are always read fail-fast, so no question or prediction silently disappears.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    /// <returns>The accuracy.</returns>
    public static async Task<ScoreResult> ScoreFilesAsync(string task, string benchmarkPath, string predictionsPath, DataReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        // Fail fast on the benchmark whatever the caller's mode: a skipped question would silently change the denominator.
        var strict = new DataReadOptions
        {
            ErrorMode = ReadErrorMode.FailFast,
            MaxTextLength = options?.MaxTextLength ?? new DataReadOptions().MaxTextLength,
            MaxRecordBytes = options?.MaxRecordBytes ?? new DataReadOptions().MaxRecordBytes,
        };
        var benchmark = await BenchmarkReader.ReadAsync(benchmarkPath, task, strict, cancellationToken).ConfigureAwait(false);
        var predictions = await ReadPredictionsAsync(predictionsPath, options, cancellationToken).ConfigureAwait(false);
        return Score(benchmark.Task, benchmark.Questions, predictions);
    }
}

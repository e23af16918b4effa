using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using MagDi.IO;

namespace MagDi.Tasks;

/// <summary>The questions read from a benchmark file.</summary>
public sealed class BenchmarkData
{
    internal BenchmarkData(ReasoningTask task, IReadOnlyList<Question> questions, ReadReport report)
    {
        Task = task;
        Questions = questions;
        Report = report;
    }

    /// <summary>The task.</summary>
    public ReasoningTask Task { get; }

    /// <summary>The questions with their gold answers, in file order.</summary>
    public IReadOnlyList<Question> Questions { get; }

    /// <summary>How many records were read and which were skipped.</summary>
    public ReadReport Report { get; }
}

/// <summary>
/// Reads the public release formats of the supported benchmarks into <see cref="Question"/>s.
/// </summary>
/// <remarks>
/// The file layout is detected from the content: a JSON array, JSON Lines, a single JSON object, or (for
/// MATH) a directory of <c>*.json</c> problem files. The record format follows the task:
/// <list type="bullet">
/// <item><c>gsm8k</c>: <c>question</c>, <c>answer</c> whose last line is <c>#### N</c>.</item>
/// <item><c>strategyqa</c>: <c>qid</c>, <c>question</c>, <c>answer</c> (boolean).</item>
/// <item><c>boolq</c>: <c>question</c>, <c>passage</c>, <c>answer</c> (boolean); the text is "passage\nQuestion: question?".</item>
/// <item><c>commonsenseqa</c>, <c>arc</c>: <c>id</c>, <c>question: {stem, choices: [{label, text}]}</c>, <c>answerKey</c>.</item>
/// <item><c>aqua</c>: <c>question</c>, <c>options</c> (<c>"A)21"</c>...), <c>correct</c>.</item>
/// <item><c>math</c>: <c>problem</c>, <c>solution</c> with the answer in <c>\boxed{}</c> (or an <c>answer</c> field).</item>
/// <item><c>svamp</c>: <c>ID</c>, <c>Body</c>, <c>Question</c>, <c>Answer</c> (number).</item>
/// <item>any other task: <c>id</c>, <c>question</c>, <c>answer</c> and optional <c>choices: [{label, text}]</c>.</item>
/// </list>
/// Records without an id get <c>&lt;task&gt;-&lt;index&gt;</c>; a repeated id is a bad record (file, line, id). Numeric gold answers are normalised (<c>8.0</c> becomes <c>8</c>).
/// </remarks>
public static partial class BenchmarkReader
{
    /// <summary>Reads a benchmark file (or, for MATH, a directory of problem files).</summary>
    /// <param name="path">The file or directory.</param>
    /// <param name="task">The task name or alias.</param>
    /// <param name="options">Error mode and limits; defaults when <see langword="null"/>.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    /// <returns>The questions and the read report.</returns>
    /// <exception cref="ArgumentException">The task is unknown.</exception>
    /// <exception cref="MagDataException">The file is bad (in fail-fast mode, also any bad record).</exception>
    public static async Task<BenchmarkData> ReadAsync(string path, string task, DataReadOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(path);
        var t = ReasoningTasks.Get(task);
        options ??= new DataReadOptions();
        options.Validate();
        var questions = new List<Question>();
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        var report = new ReadReport();
        if (Directory.Exists(path))
        {
            var files = Directory.GetFiles(path, "*.json", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToArray();
            foreach (var f in files)
            {
                var bytes = await ReadBoundedAsync(f, options, cancellationToken).ConfigureAwait(false);
                ReadBytes(bytes, f, t, options, questions, seen, report, Path.GetRelativePath(path, f));
            }
        }
        else
        {
            var bytes = await ReadBoundedAsync(path, options, cancellationToken).ConfigureAwait(false);
            ReadBytes(bytes, path, t, options, questions, seen, report, null);
        }

        return new BenchmarkData(t, questions, report);
    }

    /// <summary>Reads benchmark records from a stream.</summary>
    /// <param name="stream">The stream (read to the end).</param>
    /// <param name="task">The task name or alias.</param>
    /// <param name="options">Error mode and limits.</param>
    /// <param name="fileName">A name for error messages.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    /// <returns>The questions and the read report.</returns>
    public static async Task<BenchmarkData> ReadAsync(Stream stream, string task, DataReadOptions? options = null, string? fileName = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var t = ReasoningTasks.Get(task);
        options ??= new DataReadOptions();
        options.Validate();
        using var ms = new MemoryStream();
        await stream.CopyToAsync(ms, cancellationToken).ConfigureAwait(false);
        if (ms.Length > options.MaxRecordBytes)
        {
            throw new MagDataException(new DataError(fileName, null, null, null, $"input is {ms.Length} bytes, over the limit of {options.MaxRecordBytes}"));
        }

        var questions = new List<Question>();
        var report = new ReadReport();
        ReadBytes(ms.ToArray(), fileName, t, options, questions, new Dictionary<string, string>(StringComparer.Ordinal), report, null);
        return new BenchmarkData(t, questions, report);
    }

    private static async Task<byte[]> ReadBoundedAsync(string path, DataReadOptions options, CancellationToken ct)
    {
        if (InputFile.Problem(path) is { } problem)
        {
            throw new MagDataException(new DataError(path, null, null, null, problem));
        }

        var stream = InputFile.OpenRead(path, 1);
        await using (stream.ConfigureAwait(false))
        {
            var length = stream.Length;
            if (length > options.MaxRecordBytes)
            {
                throw new MagDataException(new DataError(path, null, null, null, $"file is {length} bytes, over the limit of {options.MaxRecordBytes} (DataReadOptions.MaxRecordBytes)"));
            }

            var bytes = new byte[length];
            await stream.ReadExactlyAsync(bytes, ct).ConfigureAwait(false);
            return bytes;
        }
    }

    private static void ReadBytes(byte[] bytes, string? file, ReasoningTask task, DataReadOptions options, List<Question> questions, Dictionary<string, string> seen, ReadReport report, string? idHint)
    {
        var span = bytes.AsSpan();
        if (span.StartsWith("\uFEFF"u8))
        {
            span = span[3..];
        }

        var trimmed = span.TrimStart(" \t\r\n"u8);
        if (trimmed.IsEmpty)
        {
            throw new MagDataException(new DataError(file, null, null, null, "the file is empty"));
        }

        var badLine = JsonLinesReader.FirstInvalidUtf8Line(span);
        if (trimmed[0] == (byte)'[' && badLine is not null)
        {
            throw new MagDataException(new DataError(file, badLine, null, null, "invalid UTF-8"));
        }

        // A single JSON document (array or one object); with invalid UTF-8, '{' files go line by line so the bad line is reported.
        if (trimmed[0] == (byte)'[' || (trimmed[0] == (byte)'{' && badLine is null))
        {

            JsonDocument? doc = null;
            try
            {
                doc = JsonDocument.Parse(span.ToArray(), new JsonDocumentOptions { MaxDepth = 64 });
            }
            catch (JsonException ex) when (trimmed[0] == (byte)'[')
            {
                throw new MagDataException(JsonFields.SyntaxError(file, null, ex), ex);
            }
            catch (JsonException)
            {
                doc = null; // not a single object: JSON Lines
            }

            if (doc is not null)
            {
                using (doc)
                {
                    if (doc.RootElement.ValueKind == JsonValueKind.Array)
                    {
                        var i = 0;
                        foreach (var item in doc.RootElement.EnumerateArray())
                        {
                            ReadRecord(item, new JsonFields(file, null, i, options.MaxTextLength), task, options, questions, seen, report, idHint is null ? null : $"{idHint}#{i}", i);
                            i++;
                        }
                    }
                    else
                    {
                        ReadRecord(doc.RootElement, new JsonFields(file, 1, 0, options.MaxTextLength), task, options, questions, seen, report, idHint, 0);
                    }
                }

                return;
            }
        }

        ReadJsonLines(span, file, task, options, questions, seen, report);
    }

    private static void ReadJsonLines(ReadOnlySpan<byte> span, string? file, ReasoningTask task, DataReadOptions options, List<Question> questions, Dictionary<string, string> seen, ReadReport report)
    {
        var lineNumber = 0;
        var index = 0;
        while (!span.IsEmpty || lineNumber == 0)
        {
            lineNumber++;
            var nl = span.IndexOf((byte)'\n');
            var line = nl < 0 ? span : span[..nl];
            span = nl < 0 ? [] : span[(nl + 1)..];
            if (line.Trim(" \t\r"u8).IsEmpty)
            {
                if (nl < 0)
                {
                    break;
                }

                continue;
            }

            var fields = new JsonFields(file, lineNumber, index, options.MaxTextLength);
            if (line.Length > options.MaxRecordBytes)
            {
                report.Fail(options.ErrorMode, fields.ErrorAt(null, $"line is {line.Length} bytes, over the limit of {options.MaxRecordBytes}"));
            }
            else if (!System.Text.Unicode.Utf8.IsValid(line))
            {
                report.Fail(options.ErrorMode, fields.ErrorAt(null, "invalid UTF-8"));
            }
            else
            {
                try
                {
                    using var doc = JsonDocument.Parse(line.ToArray());
                    ReadRecord(doc.RootElement, fields, task, options, questions, seen, report, null, index);
                }
                catch (JsonException ex)
                {
                    report.Fail(options.ErrorMode, JsonFields.AtLine(JsonFields.SyntaxError(file, index, ex, lineNumber), lineNumber), ex);
                }
            }

            index++;
            if (nl < 0)
            {
                break;
            }
        }
    }

    private static void ReadRecord(JsonElement record, JsonFields f, ReasoningTask task, DataReadOptions options, List<Question> questions, Dictionary<string, string> seen, ReadReport report, string? idHint, int index)
    {
        try
        {
            // A string with an unpaired surrogate escape ("\ud800") parses but cannot be read as .NET text, and a
            // property name like that breaks every lookup in its object: reject the record whether or not it is read.
            if (JsonStrings.FindInvalidEscape(JsonMarshal.GetRawUtf8Value(record)) is { } bad)
            {
                throw new MagDataException(JsonFields.AtLine(f.ErrorAt(bad.Field, bad.Reason), f.Line is { } first ? first + bad.Line - 1 : null));
            }

            f.RequireObject(record, null);
            var q = Map(record, f, task, idHint ?? $"{task.Name}-{index}");
            // A repeated id would be scored twice (or match the wrong prediction): the file is bad, say where.
            string here = (f.Line is { } line ? $"line {line}" : $"element {f.Element}") + (f.File is null ? string.Empty : " of " + f.File);
            if (!seen.TryAdd(q.Id, here))
            {
                throw f.Fail("id", $"duplicate question id '{q.Id}' (first at {seen[q.Id]})");
            }

            questions.Add(q);
            report.AddRead();
        }
        catch (MagDataException ex) when (options.ErrorMode == ReadErrorMode.SkipInvalid)
        {
            report.AddSkipped(ex.Error);
        }
    }

    private static Question Map(JsonElement r, JsonFields f, ReasoningTask task, string defaultId)
    {
        switch (task.Name)
        {
            case "gsm8k":
                {
                    var answer = f.RequiredString(r, "answer");
                    var at = answer.LastIndexOf("####", StringComparison.Ordinal);
                    if (at < 0)
                    {
                        throw f.Fail("answer", "has no final '#### <number>' line");
                    }

                    var gold = answer[(at + 4)..].Trim();
                    return new Question(f.OptionalScalar(r, "id") ?? defaultId, task.Name, f.RequiredString(r, "question"), Gold(task, gold, f, "answer"));
                }

            case "strategyqa":
                return new Question(f.OptionalScalar(r, "qid") ?? defaultId, task.Name, f.RequiredString(r, "question"), YesNo(r, f));

            case "boolq":
                {
                    var question = f.RequiredString(r, "question").Trim();
                    if (!question.EndsWith('?'))
                    {
                        question += "?";
                    }

                    question = char.ToUpperInvariant(question[0]) + question[1..];
                    var passage = f.OptionalString(r, "passage");
                    var text = passage is null ? question : $"{passage.Trim()}\nQuestion: {question}";
                    return new Question(f.OptionalScalar(r, "idx") ?? f.OptionalScalar(r, "id") ?? defaultId, task.Name, text, YesNo(r, f));
                }

            case "commonsenseqa":
            case "arc":
                {
                    if (!JsonFields.TryGet(r, "question", out var q))
                    {
                        throw f.Fail("question", "is missing");
                    }

                    f.RequireObject(q, "question");
                    var stem = f.RequiredString(q, "stem", "question.stem");
                    var choices = Choices(f.RequiredArray(q, "choices", "question.choices"), f, "question.choices");
                    var key = f.RequiredScalar(r, "answerKey").Trim();
                    if (!choices.Any(c => string.Equals(c.Label, key, StringComparison.OrdinalIgnoreCase)))
                    {
                        throw f.Fail("answerKey", $"'{key}' is not one of the choice labels ({string.Join(", ", choices.Select(c => c.Label))})");
                    }

                    return new Question(f.OptionalScalar(r, "id") ?? defaultId, task.Name, stem, choices, key.ToUpperInvariant());
                }

            case "aqua":
                {
                    var options = f.RequiredArray(r, "options");
                    var choices = new List<AnswerChoice>();
                    var i = 0;
                    foreach (var o in options.EnumerateArray())
                    {
                        if (o.ValueKind != JsonValueKind.String)
                        {
                            throw f.Fail($"options[{i}]", $"expected a string but found {JsonFields.Describe(o)}");
                        }

                        var m = AquaOptionRegex().Match(o.GetString()!);
                        if (!m.Success)
                        {
                            throw f.Fail($"options[{i}]", "expected a labelled option such as \"A)21\"");
                        }

                        choices.Add(new AnswerChoice(m.Groups["l"].Value.ToUpperInvariant(), m.Groups["t"].Value.Trim()));
                        i++;
                    }

                    var key = f.RequiredString(r, "correct").Trim().ToUpperInvariant();
                    if (!choices.Any(c => c.Label == key))
                    {
                        throw f.Fail("correct", $"'{key}' is not one of the option labels");
                    }

                    return new Question(f.OptionalScalar(r, "id") ?? defaultId, task.Name, f.RequiredString(r, "question"), choices, key);
                }

            case "math":
                {
                    var gold = f.OptionalScalar(r, "answer");
                    if (gold is null)
                    {
                        var solution = f.RequiredString(r, "solution");
                        gold = AnswerText.LastBoxed(solution) ?? throw f.Fail("solution", "has no \\boxed{...} answer");
                    }

                    return new Question(f.OptionalScalar(r, "unique_id") ?? f.OptionalScalar(r, "id") ?? defaultId, task.Name, f.RequiredString(r, "problem"), gold);
                }

            case "svamp":
                {
                    var body = f.RequiredString(r, "Body").Trim();
                    var question = f.RequiredString(r, "Question").Trim();
                    var text = body.Length == 0 ? question : $"{body} {question}";
                    return new Question(f.OptionalScalar(r, "ID") ?? defaultId, task.Name, text, Gold(task, f.RequiredScalar(r, "Answer"), f, "Answer"));
                }

            default:
                {
                    var choices = f.OptionalArray(r, "choices") is { } c ? Choices(c, f, "choices") : [];
                    return new Question(f.OptionalScalar(r, "id") ?? defaultId, task.Name, f.RequiredString(r, "question"), choices, Gold(task, f.RequiredScalar(r, "answer"), f, "answer"));
                }
        }
    }

    private static string Gold(ReasoningTask task, string raw, JsonFields f, string field)
    {
        if (task.Kind is AnswerKind.Number or AnswerKind.YesNo)
        {
            return task.Normalize(raw) ?? throw f.Fail(field, $"'{JsonFields.Shorten(raw)}' is not a valid {task.Name} answer");
        }

        return raw;
    }

    private static string YesNo(JsonElement r, JsonFields f)
    {
        if (!JsonFields.TryGet(r, "answer", out var a))
        {
            throw f.Fail("answer", "is missing");
        }

        return a.ValueKind switch
        {
            JsonValueKind.True => "yes",
            JsonValueKind.False => "no",
            JsonValueKind.String when ReasoningTasks.StrategyQA.Normalize(a.GetString()) is { } yn => yn,
            _ => throw f.Fail("answer", $"expected a boolean but found {JsonFields.Describe(a)}"),
        };
    }

    private static AnswerChoice[] Choices(JsonElement array, JsonFields f, string path)
    {
        var list = new List<AnswerChoice>();
        var i = 0;
        foreach (var c in array.EnumerateArray())
        {
            f.RequireObject(c, $"{path}[{i}]");
            list.Add(new AnswerChoice(f.RequiredScalar(c, "label", $"{path}[{i}].label").Trim(), f.RequiredString(c, "text", $"{path}[{i}].text")));
            i++;
        }

        if (list.Count == 0)
        {
            throw f.Fail(path, "has no choices");
        }

        return [.. list];
    }

    [GeneratedRegex(@"^\s*\(?(?<l>[A-Za-z])\s*\)\s*(?<t>.*)$", RegexOptions.Singleline | RegexOptions.CultureInvariant)]
    private static partial Regex AquaOptionRegex();
}

using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using System.Text.RegularExpressions;
using MagDi.Tasks;

namespace MagDi.Graphs.IO;

/// <summary>
/// Reads and writes the authors' released MAG format: one JSON array per task, each element an object with
/// <c>question</c>, <c>gold_answer</c> and, for every agent and round that spoke, a key <c>&lt;agent&gt;_output_&lt;round&gt;</c>
/// holding <c>reasoning</c>, <c>answer</c> and optionally <c>confidence_level</c> (number or numeric string).
/// </summary>
/// <remarks>
/// A missing key means the agent did not speak in that round. Elements have no id in the release; an <c>id</c>
/// or <c>qid</c> field is used when present, otherwise the id is <c>&lt;task&gt;-&lt;index&gt;</c>. Other keys are
/// ignored. Node correctness is computed with the task's answer logic. Agents are ordered by first appearance.
/// </remarks>
public static partial class MagReleaseFormat
{
    /// <summary>Infers the task from a released file name such as <c>SQA_1000.json</c> or <c>GSM8K.json</c>.</summary>
    /// <param name="fileName">The file name or path.</param>
    /// <returns>The task, or <see langword="null"/> when the name does not start with a known task name.</returns>
    internal static ReasoningTask? InferTask(string? fileName)
    {
        if (string.IsNullOrEmpty(fileName))
        {
            return null;
        }

        var stem = Path.GetFileNameWithoutExtension(fileName);
        var head = stem.Split('_', '-', '.')[0];
        return ReasoningTasks.TryGet(head, out var t) ? t : ReasoningTasks.TryGet(stem, out t) ? t : null;
    }

    /// <summary>Reads a released MAG array.</summary>
    /// <param name="utf8Json">The file content.</param>
    /// <param name="options">Task, error mode, limits and cleaning.</param>
    /// <param name="fileName">The file name, used in errors and to infer the task.</param>
    /// <returns>The graphs and the read report.</returns>
    /// <exception cref="MagDataException">The content is not a JSON array, is not valid UTF-8, the task is unknown, or (fail-fast) any element is bad.</exception>
    public static MagReadResult Read(ReadOnlyMemory<byte> utf8Json, MagReadOptions? options = null, string? fileName = null)
    {
        options ??= new MagReadOptions();
        options.Validate();
        ReasoningTask? task;
        if (options.Task is not null)
        {
            if (!ReasoningTasks.TryGet(options.Task, out task))
            {
                throw new MagDataException(new DataError(fileName, null, null, "task", $"unknown task '{options.Task}' (known: {string.Join(", ", ReasoningTasks.KnownNames)})"));
            }
        }
        else
        {
            task = InferTask(fileName) ?? throw new MagDataException(new DataError(fileName, null, null, "task",
                $"the released format does not name its task and it cannot be inferred from the file name; pass the task (known: {string.Join(", ", ReasoningTasks.KnownNames)})"));
        }

        if (utf8Json.Length > options.MaxRecordBytes)
        {
            throw new MagDataException(new DataError(fileName, null, null, null, $"file is {utf8Json.Length} bytes, over the limit of {options.MaxRecordBytes}"));
        }

        var bytes = utf8Json.Span;
        if (bytes.StartsWith("\uFEFF"u8))
        {
            utf8Json = utf8Json[3..];
        }

        if (JsonLinesReader.FirstInvalidUtf8Line(utf8Json.Span) is { } badLine)
        {
            throw new MagDataException(new DataError(fileName, badLine, null, null, "invalid UTF-8"));
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(utf8Json);
        }
        catch (JsonException ex)
        {
            throw new MagDataException(JsonFields.SyntaxError(fileName, null, ex), ex);
        }

        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Array)
            {
                throw new MagDataException(new DataError(fileName, 1, null, null, $"expected a JSON array of MAGs but found {JsonFields.Describe(doc.RootElement)}"));
            }

            var report = new ReadReport();
            var graphs = new List<InteractionGraph>();
            var lines = ElementLines(utf8Json.Span);
            var index = 0;
            foreach (var element in doc.RootElement.EnumerateArray())
            {
                var f = new JsonFields(fileName, index < lines.Count ? lines[index] : null, index, options.MaxTextLength);
                try
                {
                    // A string with an unpaired surrogate escape ("\ud800") parses but cannot be read as .NET text, and a
                    // property name like that breaks every lookup in its object: reject the element whether or not it is read.
                    if (JsonStrings.FindInvalidEscape(JsonMarshal.GetRawUtf8Value(element)) is { } bad)
                    {
                        throw new MagDataException(JsonFields.AtLine(f.ErrorAt(bad.Field, bad.Reason), f.Line + bad.Line - 1));
                    }

                    graphs.Add(ReadElement(element, f, task, options, index));
                    report.AddRead();
                }
                catch (MagDataException ex)
                {
                    report.Fail(options.ErrorMode, ex.Error, ex.InnerException);
                }
                catch (InvalidGraphException ex)
                {
                    report.Fail(options.ErrorMode, GraphErrors.ToDataError(f, ex), ex);
                }

                index++;
            }

            return new MagReadResult(graphs, report, MagFormat.MagdiRelease);
        }
    }

    /// <summary>Writes graphs as a released-format JSON array (with an extra <c>id</c> field per element).</summary>
    /// <param name="stream">The destination.</param>
    /// <param name="graphs">The graphs.</param>
    /// <param name="cancellationToken">Cancels writing.</param>
    /// <returns>A task that completes when everything is written and flushed.</returns>
    public static async Task WriteAsync(Stream stream, IEnumerable<InteractionGraph> graphs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(graphs);
        var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = MagJsonl.Encoder });
        await using (writer.ConfigureAwait(false))
        {
            writer.WriteStartArray();
            foreach (var g in graphs)
            {
                writer.WriteStartObject();
                writer.WriteString("id", g.Id);
                writer.WriteString("question", g.Question);
                writer.WriteString("gold_answer", g.GoldAnswer);
                foreach (var n in g.Nodes)
                {
                    writer.WriteStartObject($"{n.Agent}_output_{n.Round.ToString(CultureInfo.InvariantCulture)}");
                    writer.WriteString("reasoning", n.Reasoning);
                    if (n.Answer is null)
                    {
                        writer.WriteNull("answer");
                    }
                    else
                    {
                        writer.WriteString("answer", n.Answer);
                    }

                    if (n.Confidence is { } c)
                    {
                        writer.WriteNumber("confidence_level", c);
                    }

                    writer.WriteEndObject();
                }

                writer.WriteEndObject();
                if (writer.BytesPending > 1 << 16)
                {
                    await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            writer.WriteEndArray();
            await writer.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The 1-based line on which each element of the root array starts.</summary>
    private static List<int> ElementLines(ReadOnlySpan<byte> json)
    {
        var result = new List<int>();
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
        var line = 1;
        long scanned = 0;
        while (reader.Read())
        {
            if (reader.CurrentDepth == 1 && reader.TokenType is not (JsonTokenType.EndObject or JsonTokenType.EndArray))
            {
                var start = reader.TokenStartIndex;
                line += json[(int)scanned..(int)start].Count((byte)'\n');
                scanned = start;
                result.Add(line);
            }

            if (reader.CurrentDepth == 1 && reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray)
            {
                reader.Skip();
            }
        }

        return result;
    }

    private static InteractionGraph ReadElement(JsonElement e, JsonFields f, ReasoningTask task, MagReadOptions options, int index)
    {
        f.RequireObject(e, null);
        var id = f.OptionalScalar(e, "id") ?? f.OptionalScalar(e, "qid") ?? $"{task.Name}-{index.ToString(CultureInfo.InvariantCulture)}";
        var b = InteractionGraph.CreateBuilder()
            .WithId(id)
            .WithTask(task)
            .WithQuestion(f.RequiredString(e, "question"))
            .WithGoldAnswer(f.RequiredScalar(e, "gold_answer"))
            .WithPattern(options.Pattern);
        foreach (var p in e.EnumerateObject())
        {
            var m = NodeKey().Match(p.Name);
            if (!m.Success)
            {
                continue;
            }

            if (!int.TryParse(m.Groups["round"].Value, NumberStyles.None, CultureInfo.InvariantCulture, out var round))
            {
                throw f.Fail(p.Name, "round number is too large");
            }

            var node = p.Value;
            f.RequireObject(node, p.Name);
            var reasoning = f.RequiredString(node, "reasoning", $"{p.Name}.reasoning");
            if (options.RemoveAgreementSentences)
            {
                reasoning = ReasoningCleaner.RemoveAgreementSentences(reasoning);
            }

            var answer = f.OptionalScalar(node, "answer", $"{p.Name}.answer");
            var confidence = f.OptionalNumber(node, "confidence_level", $"{p.Name}.confidence_level");
            b.AddNode(m.Groups["agent"].Value, round, reasoning, answer, confidence);
        }

        return b.Build();
    }

    [GeneratedRegex(@"^(?<agent>.+)_output_(?<round>\d+)$", RegexOptions.CultureInvariant)]
    private static partial Regex NodeKey();
}

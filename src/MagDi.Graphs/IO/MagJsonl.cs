using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Encodings.Web;
using System.Text.Json;
using MagDi.Tasks;

namespace MagDi.Graphs.IO;

/// <summary>
/// MagDi's canonical MAG format: JSON Lines, one graph per line (see docs/mag-format.md and docs/mag.schema.json).
/// Reading and writing stream one graph at a time, so memory stays constant for large files, and a written
/// graph reads back equal in every field (lossless round trip).
/// </summary>
public static class MagJsonl
{
    internal static readonly JavaScriptEncoder Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping;

    /// <summary>Serialises one graph as a single JSON line (without the newline).</summary>
    /// <param name="graph">The graph.</param>
    /// <returns>The JSON text.</returns>
    public static string Serialize(InteractionGraph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        using var ms = new MemoryStream();
        using (var w = new Utf8JsonWriter(ms, new JsonWriterOptions { Encoder = Encoder }))
        {
            Write(w, graph);
        }

        return System.Text.Encoding.UTF8.GetString(ms.GetBuffer(), 0, (int)ms.Length);
    }

    /// <summary>Parses one JSON line into a graph.</summary>
    /// <param name="line">The JSON text of one record.</param>
    /// <param name="options">Limits, default task and pattern.</param>
    /// <returns>The graph.</returns>
    /// <exception cref="MagDataException">The record is bad.</exception>
    public static InteractionGraph Parse(string line, MagReadOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(line);
        options ??= new MagReadOptions();
        var f = new JsonFields(null, 1, 0, options.MaxTextLength);
        return ParseRecord(System.Text.Encoding.UTF8.GetBytes(line), f, options);
    }

    /// <summary>Reads graphs from a JSON Lines stream, one line at a time. Blank lines are ignored.</summary>
    /// <param name="stream">The stream.</param>
    /// <param name="options">Error mode, limits, default task, pattern and cleaning.</param>
    /// <param name="report">Receives the count of graphs read and, in <see cref="ReadErrorMode.SkipInvalid"/> mode, every skipped line. Required in that mode.</param>
    /// <param name="fileName">The file name for error messages.</param>
    /// <param name="cancellationToken">Cancels reading.</param>
    /// <returns>The graphs in file order.</returns>
    /// <exception cref="MagDataException">A line is bad (fail-fast mode).</exception>
    /// <exception cref="ArgumentException">Skip mode without a report.</exception>
    public static async IAsyncEnumerable<InteractionGraph> ReadAsync(
        Stream stream,
        MagReadOptions? options = null,
        ReadReport? report = null,
        string? fileName = null,
        [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        options ??= new MagReadOptions();
        options.Validate();
        if (options.ErrorMode == ReadErrorMode.SkipInvalid && report is null)
        {
            throw new ArgumentException("Skipping invalid records needs a ReadReport to list them; pass one.", nameof(report));
        }

        report ??= new ReadReport();
        var index = 0;
        await foreach (var line in JsonLinesReader.ReadLinesAsync(stream, options.MaxRecordBytes, cancellationToken).ConfigureAwait(false))
        {
            if (line.IsBlank)
            {
                continue;
            }

            var graph = ReadLine(line, fileName, index++, options, report);
            if (graph is not null)
            {
                yield return graph;
            }
        }
    }

    /// <summary>Writes graphs as JSON Lines, flushing after each graph.</summary>
    /// <param name="stream">The destination.</param>
    /// <param name="graphs">The graphs.</param>
    /// <param name="cancellationToken">Cancels writing.</param>
    /// <returns>The number of graphs written.</returns>
    public static async Task<int> WriteAsync(Stream stream, IAsyncEnumerable<InteractionGraph> graphs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(graphs);
        var writer = new MagJsonlWriter(stream, leaveOpen: true);
        await using (writer.ConfigureAwait(false))
        {
            await foreach (var g in graphs.WithCancellation(cancellationToken).ConfigureAwait(false))
            {
                await writer.WriteAsync(g, cancellationToken).ConfigureAwait(false);
            }

            return writer.Count;
        }
    }

    /// <summary>Writes graphs as JSON Lines.</summary>
    /// <param name="stream">The destination.</param>
    /// <param name="graphs">The graphs.</param>
    /// <param name="cancellationToken">Cancels writing.</param>
    /// <returns>The number of graphs written.</returns>
    public static async Task<int> WriteAsync(Stream stream, IEnumerable<InteractionGraph> graphs, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(graphs);
        var writer = new MagJsonlWriter(stream, leaveOpen: true);
        await using (writer.ConfigureAwait(false))
        {
            foreach (var g in graphs)
            {
                await writer.WriteAsync(g, cancellationToken).ConfigureAwait(false);
            }

            return writer.Count;
        }
    }

    internal static void Write(Utf8JsonWriter w, InteractionGraph g)
    {
        w.WriteStartObject();
        w.WriteString("id", g.Id);
        w.WriteString("task", g.Task);
        w.WriteString("question", g.Question);
        if (g.Choices.Count > 0)
        {
            w.WriteStartArray("choices");
            foreach (var c in g.Choices)
            {
                w.WriteStartObject();
                w.WriteString("label", c.Label);
                w.WriteString("text", c.Text);
                w.WriteEndObject();
            }

            w.WriteEndArray();
        }

        w.WriteString("gold_answer", g.GoldAnswer);
        w.WriteStartArray("agents");
        foreach (var a in g.Agents)
        {
            w.WriteStringValue(a);
        }

        w.WriteEndArray();
        w.WriteString("pattern", g.Pattern.Name);
        if (!InteractionPattern.BuiltIns.Contains(g.Pattern))
        {
            w.WriteStartArray("edges");
            foreach (var (s, t) in g.Edges.Pairs)
            {
                w.WriteStartArray();
                w.WriteNumberValue(s);
                w.WriteNumberValue(t);
                w.WriteEndArray();
            }

            w.WriteEndArray();
        }

        w.WriteStartArray("nodes");
        foreach (var n in g.Nodes)
        {
            w.WriteStartObject();
            w.WriteString("agent", n.Agent);
            w.WriteNumber("round", n.Round);
            w.WriteString("reasoning", n.Reasoning);
            if (n.Answer is null)
            {
                w.WriteNull("answer");
            }
            else
            {
                w.WriteString("answer", n.Answer);
            }

            if (n.Confidence is { } conf)
            {
                w.WriteNumber("confidence", conf);
            }

            w.WriteBoolean("correct", n.IsCorrect);
            if (!n.IsValid)
            {
                w.WriteBoolean("valid", false);
            }

            if (n.RawText is not null)
            {
                w.WriteString("raw_text", n.RawText);
            }

            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteEndObject();
    }

    private static InteractionGraph? ReadLine(JsonLine line, string? fileName, int index, MagReadOptions options, ReadReport report)
    {
        var f = new JsonFields(fileName, line.Number, index, options.MaxTextLength);
        if (line.TooLong)
        {
            report.Fail(options.ErrorMode, f.ErrorAt(null, $"line is over the limit of {options.MaxRecordBytes} bytes"));
            return null;
        }

        if (!line.IsValidUtf8)
        {
            report.Fail(options.ErrorMode, f.ErrorAt(null, "invalid UTF-8"));
            return null;
        }

        try
        {
            var g = ParseRecord(line.Utf8, f, options);
            report.AddRead();
            return g;
        }
        catch (MagDataException ex) when (options.ErrorMode == ReadErrorMode.SkipInvalid)
        {
            report.AddSkipped(ex.Error);
            return null;
        }
    }

    private static InteractionGraph ParseRecord(ReadOnlyMemory<byte> utf8, JsonFields f, MagReadOptions options)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(utf8);
        }
        catch (JsonException ex)
        {
            throw new MagDataException(JsonFields.AtLine(JsonFields.SyntaxError(f.File, f.Element, ex, f.Line ?? 1), f.Line), ex);
        }

        using (doc)
        {
            // A string with an unpaired surrogate escape ("\ud800") parses but cannot be read as .NET text, and a
            // property name like that breaks every lookup in its object: reject the record whether or not it is read.
            if (JsonStrings.FindInvalidEscape(utf8.Span) is { } bad)
            {
                throw new MagDataException(f.ErrorAt(bad.Field, bad.Reason));
            }

            try
            {
                return Build(doc.RootElement, f, options);
            }
            catch (InvalidGraphException ex)
            {
                throw new MagDataException(GraphErrors.ToDataError(f, ex), ex);
            }
        }
    }

    private static InteractionGraph Build(JsonElement r, JsonFields f, MagReadOptions options)
    {
        f.RequireObject(r, null);
        var b = InteractionGraph.CreateBuilder()
            .WithId(f.RequiredScalar(r, "id"))
            .WithQuestion(f.RequiredString(r, "question"), ReadChoices(r, f))
            .WithGoldAnswer(f.RequiredScalar(r, "gold_answer"));
        var task = f.OptionalString(r, "task") ?? options.Task ?? throw f.Fail("task", "is missing");
        if (!ReasoningTasks.TryGet(task, out _))
        {
            throw f.Fail("task", $"unknown task '{JsonFields.Shorten(task)}' (known: {string.Join(", ", ReasoningTasks.KnownNames)})");
        }

        b.WithTask(task);
        if (f.OptionalArray(r, "agents") is { } agents)
        {
            var i = 0;
            foreach (var a in agents.EnumerateArray())
            {
                if (a.ValueKind != JsonValueKind.String)
                {
                    throw f.Fail($"agents[{i}]", $"expected a string but found {JsonFields.Describe(a)}");
                }

                b.AddAgent(a.GetString()!);
                i++;
            }
        }

        b.WithPattern(ReadPattern(r, f, options));
        var nodes = f.RequiredArray(r, "nodes");
        var n = 0;
        foreach (var node in nodes.EnumerateArray())
        {
            var path = $"nodes[{n.ToString(CultureInfo.InvariantCulture)}]";
            f.RequireObject(node, path);
            var reasoning = f.RequiredString(node, "reasoning", path + ".reasoning");
            if (options.RemoveAgreementSentences)
            {
                reasoning = ReasoningCleaner.RemoveAgreementSentences(reasoning);
            }

            var round = f.RequiredInt(node, "round", path + ".round");
            var answer = f.OptionalScalar(node, "answer", path + ".answer");
            var confidence = f.OptionalNumber(node, "confidence", path + ".confidence");
            var correct = f.OptionalBool(node, "correct", path + ".correct");
            var valid = f.OptionalBool(node, "valid", path + ".valid") ?? true;
            var raw = f.OptionalString(node, "raw_text", path + ".raw_text");
            var agent = f.RequiredString(node, "agent", path + ".agent");
            if (valid && raw is null)
            {
                b.AddNode(agent, round, reasoning, answer, confidence, correct);
            }
            else
            {
                b.AddNode(new MagNode(agent, round, reasoning, answer, confidence, correct ?? false) { IsValid = valid, RawText = raw });
            }

            n++;
        }

        return b.Build();
    }

    private static AnswerChoice[] ReadChoices(JsonElement r, JsonFields f)
    {
        if (f.OptionalArray(r, "choices") is not { } array)
        {
            return [];
        }

        var list = new List<AnswerChoice>();
        var i = 0;
        foreach (var c in array.EnumerateArray())
        {
            var path = $"choices[{i.ToString(CultureInfo.InvariantCulture)}]";
            f.RequireObject(c, path);
            list.Add(new AnswerChoice(f.RequiredScalar(c, "label", path + ".label"), f.RequiredString(c, "text", path + ".text")));
            i++;
        }

        return [.. list];
    }

    private static InteractionPattern ReadPattern(JsonElement r, JsonFields f, MagReadOptions options)
    {
        var name = f.OptionalString(r, "pattern");
        if (f.OptionalArray(r, "edges") is { } edges)
        {
            var list = new List<(int, int)>();
            var i = 0;
            foreach (var e in edges.EnumerateArray())
            {
                if (e.ValueKind != JsonValueKind.Array || e.GetArrayLength() != 2
                    || e[0].ValueKind != JsonValueKind.Number || e[1].ValueKind != JsonValueKind.Number
                    || !e[0].TryGetInt32(out var s) || !e[1].TryGetInt32(out var t))
                {
                    throw f.Fail($"edges[{i}]", "expected a [source, target] pair of node indices");
                }

                list.Add((s, t));
                i++;
            }

            var edgeArray = list.ToArray();
            return InteractionPattern.Custom(name ?? "custom", _ => edgeArray);
        }

        if (name is null)
        {
            return options.Pattern;
        }

        var builtIn = InteractionPattern.BuiltIns.FirstOrDefault(p => string.Equals(p.Name, name, StringComparison.OrdinalIgnoreCase));
        return builtIn ?? throw f.Fail("pattern", $"unknown pattern '{JsonFields.Shorten(name)}' without an 'edges' list (known: {string.Join(", ", InteractionPattern.BuiltIns.Select(p => p.Name))})");
    }
}

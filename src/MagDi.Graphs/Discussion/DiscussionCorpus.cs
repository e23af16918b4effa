using System.Text;
using System.Text.Json;
using MagDi.Graphs.IO;
using MagDi.IO;
using MagDi.Tasks;
using Microsoft.Extensions.Logging;

namespace MagDi.Graphs.Discussion;

/// <summary>
/// The append-only output of a discussion run: the MAG corpus (one graph per JSON line) and the usage log
/// next to it (<c>name.usage.jsonl</c>). Opening scans what is already there so a run can resume.
/// </summary>
internal sealed class DiscussionCorpus : IDisposable
{
    private readonly HashSet<string> _done;
    private readonly FileStream _corpus;
    private readonly FileStream _usage;
    private readonly Dictionary<string, TokenUsage> _byAgent;

    private DiscussionCorpus(string usagePath, HashSet<string> done, FileStream corpus, FileStream usage, Dictionary<string, TokenUsage> byAgent)
    {
        UsagePath = usagePath;
        _done = done;
        _corpus = corpus;
        _usage = usage;
        _byAgent = byAgent;
    }

    public string UsagePath { get; }

    public TokenUsage RunningTotal => _byAgent.Values.Aggregate(default(TokenUsage), (a, b) => a + b);

    public IReadOnlyDictionary<string, TokenUsage> RunningTotalByAgent => new Dictionary<string, TokenUsage>(_byAgent, StringComparer.Ordinal);

    public static string UsagePathFor(string outputPath)
    {
        string dir = Path.GetDirectoryName(Path.GetFullPath(outputPath))!;
        return Path.Combine(dir, Path.GetFileNameWithoutExtension(outputPath) + ".usage.jsonl");
    }

    public static async Task<DiscussionCorpus> OpenAsync(string outputPath, ILogger logger, CancellationToken cancellationToken)
    {
        string full = Path.GetFullPath(outputPath);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        string usagePath = UsagePathFor(full);
        var done = new HashSet<string>(StringComparer.Ordinal);
        await ScanAsync(full, logger, (line, number) => done.Add(ReadId(full, line, number)), cancellationToken).ConfigureAwait(false);
        var byAgent = new Dictionary<string, TokenUsage>(StringComparer.Ordinal);
        await ScanAsync(usagePath, logger, (line, number) =>
        {
            // The last entry carries the running totals of everything before it.
            using var doc = Parse(usagePath, line, number);
            if (doc.RootElement.ValueKind == JsonValueKind.Object
                && doc.RootElement.TryGetProperty("running_total_by_agent", out var agents) && agents.ValueKind == JsonValueKind.Object)
            {
                byAgent.Clear();
                foreach (var a in agents.EnumerateObject())
                {
                    byAgent[a.Name] = ReadUsage(a.Value, usagePath, number, a.Name);
                }
            }
        }, cancellationToken).ConfigureAwait(false);

        var corpus = new FileStream(full, FileMode.Append, FileAccess.Write, FileShare.Read);
        var usage = new FileStream(usagePath, FileMode.Append, FileAccess.Write, FileShare.Read);
        return new DiscussionCorpus(usagePath, done, corpus, usage, byAgent);
    }

    public bool Contains(string id) => _done.Contains(id);

    /// <summary>Appends a finished discussion: the MAG line first (flushed to disk), then its usage entry.</summary>
    public void Append(DiscussionResult result)
    {
        WriteLine(_corpus, MagJsonl.Serialize(result.Graph));
        _done.Add(result.Graph.Id);
        foreach (var (agent, usage) in result.AgentUsage)
        {
            _byAgent[agent] = _byAgent.GetValueOrDefault(agent) + usage;
        }

        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", result.Graph.Id);
            w.WriteNumber("graph_type", result.Graph.InteractionRounds);
            if (result.TeamAnswer is null)
            {
                w.WriteNull("team_answer");
            }
            else
            {
                w.WriteString("team_answer", result.TeamAnswer);
            }

            w.WriteBoolean("team_correct", result.TeamCorrect);
            w.WriteBoolean("consensus", result.Consensus);
            w.WriteNumber("reasks", result.Reasks);
            w.WriteNumber("invalid_nodes", result.InvalidNodes);
            w.WritePropertyName("usage");
            WriteUsageMap(w, result.AgentUsage);
            w.WritePropertyName("mag_total");
            WriteUsage(w, result.TotalUsage);
            w.WritePropertyName("running_total");
            WriteUsage(w, RunningTotal);
            w.WritePropertyName("running_total_by_agent");
            WriteUsageMap(w, _byAgent);
            w.WriteEndObject();
        }

        WriteLine(_usage, Encoding.UTF8.GetString(buffer.ToArray()));
    }

    public void Dispose()
    {
        _corpus.Dispose();
        _usage.Dispose();
    }

    private static void WriteLine(FileStream stream, string json)
    {
        byte[] bytes = Encoding.UTF8.GetBytes(json + "\n");
        stream.Write(bytes);
        stream.Flush(flushToDisk: true);
    }

    private static void WriteUsageMap(Utf8JsonWriter w, IEnumerable<KeyValuePair<string, TokenUsage>> usage)
    {
        w.WriteStartObject();
        foreach (var (agent, u) in usage.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            w.WritePropertyName(agent);
            WriteUsage(w, u);
        }

        w.WriteEndObject();
    }

    private static void WriteUsage(Utf8JsonWriter w, TokenUsage u)
    {
        w.WriteStartObject();
        w.WriteNumber("input_tokens", u.InputTokens);
        w.WriteNumber("output_tokens", u.OutputTokens);
        w.WriteNumber("total_tokens", u.TotalTokens);
        w.WriteNumber("calls", u.Calls);
        w.WriteEndObject();
    }

    private static TokenUsage ReadUsage(JsonElement e, string path, int number, string agent)
    {
        long Count(string field, long max)
        {
            if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty(field, out var v))
            {
                return 0;
            }

            return v.ValueKind == JsonValueKind.Number && v.TryGetInt64(out long n) && n >= 0 && n <= max
                ? n
                : throw new InvalidDataException($"{path}: line {number}: field 'running_total_by_agent.{agent}.{field}' must be a non-negative integer up to {max}.");
        }

        return new(Count("input_tokens", long.MaxValue), Count("output_tokens", long.MaxValue), Count("total_tokens", long.MaxValue), (int)Count("calls", int.MaxValue));
    }

    /// <summary>
    /// Reads every complete line of <paramref name="path"/>. An unfinished last line (no newline: the run was
    /// killed while writing it) is cut off the file so appending continues cleanly.
    /// </summary>
    private static async Task ScanAsync(string path, ILogger logger, Action<string, int> onLine, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            return;
        }

        // Only a regular file (a FIFO would block); a discussion's output has no size limit of its own.
        byte[] bytes = await InputFile.ReadAllBytesAsync(path, long.MaxValue, cancellationToken).ConfigureAwait(false);
        int end = Array.LastIndexOf(bytes, (byte)'\n') + 1;
        if (end < bytes.Length)
        {
            DiscussionLog.DroppedPartialLine(logger, path, bytes.Length - end);
            using var fs = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.Read);
            fs.SetLength(end);
        }

        if (JsonLinesReader.FirstInvalidUtf8Line(bytes.AsSpan(0, end)) is { } badLine)
        {
            throw new InvalidDataException($"{path}: line {badLine}: invalid UTF-8.");
        }

        string text = InputFile.StrictUtf8.GetString(bytes, 0, end);
        int number = 0;
        foreach (string line in text.Split('\n'))
        {
            number++;
            if (line.Trim().Length > 0)
            {
                onLine(line, number);
            }
        }
    }

    private static string ReadId(string path, string line, int number)
    {
        using var doc = Parse(path, line, number);
        if (JsonStrings.FindInvalidEscape(Encoding.UTF8.GetBytes(line)) is { } bad)
        {
            throw new InvalidDataException($"{path}: line {number}, field '{bad.Field}': {bad.Reason}.");
        }

        return doc.RootElement.ValueKind == JsonValueKind.Object
            && doc.RootElement.TryGetProperty("id", out var id) && id.ValueKind == JsonValueKind.String
            ? id.GetString()!
            : throw new InvalidDataException($"{path}: line {number}: field 'id' is missing or not a string.");
    }

    private static JsonDocument Parse(string path, string line, int number)
    {
        try
        {
            return JsonDocument.Parse(line);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: line {number}: not valid JSON ({ex.Message}).", ex);
        }
    }
}

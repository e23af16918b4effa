using MagDi.Tasks;

namespace MagDi.Graphs.IO;

/// <summary>The file formats MAG readers understand.</summary>
public enum MagFormat
{
    /// <summary>Detect from the content: a JSON array is the released format, JSON objects per line are MagDi JSON Lines.</summary>
    Auto,

    /// <summary>The authors' released format: one JSON array of objects with <c>&lt;agent&gt;_output_&lt;round&gt;</c> keys.</summary>
    MagdiRelease,

    /// <summary>MagDi's canonical JSON Lines format, one MAG per line (docs/mag-format.md).</summary>
    Jsonl,
}

/// <summary>Options for reading MAG files.</summary>
public sealed class MagReadOptions : DataReadOptions
{
    /// <summary>The file format. Default <see cref="MagFormat.Auto"/>.</summary>
    public MagFormat Format { get; set; } = MagFormat.Auto;

    /// <summary>
    /// The task of the graphs. The released format does not store it: when <see langword="null"/> it is inferred
    /// from the file name (<c>SQA_1000.json</c> is StrategyQA). JSON Lines records carry their own task; this value
    /// is used only for records without one.
    /// </summary>
    public string? Task { get; set; }

    /// <summary>
    /// Remove sentences that start with "I agree" or "I disagree" from reasoning, as the authors' release does
    /// before training. Default <see langword="false"/> (text is kept as written).
    /// </summary>
    public bool RemoveAgreementSentences { get; set; }

    /// <summary>The interaction pattern for graphs whose file does not name one. Default <see cref="InteractionPattern.ReConcile"/>.</summary>
    public InteractionPattern Pattern { get; set; } = InteractionPattern.ReConcile;
}

/// <summary>The graphs read from a file.</summary>
public sealed class MagReadResult
{
    internal MagReadResult(IReadOnlyList<InteractionGraph> graphs, ReadReport report, MagFormat format)
    {
        Graphs = graphs;
        Report = report;
        Format = format;
    }

    /// <summary>The graphs in file order.</summary>
    public IReadOnlyList<InteractionGraph> Graphs { get; }

    /// <summary>How many records were read and which were skipped.</summary>
    public ReadReport Report { get; }

    /// <summary>The format that was read.</summary>
    public MagFormat Format { get; }
}

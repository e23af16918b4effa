using System.Globalization;
using System.Text;

namespace MagDi.Tasks;

/// <summary>Where a bad record is and what is wrong with it.</summary>
public sealed class DataError
{
    /// <summary>Creates a <see cref="DataError"/>.</summary>
    /// <param name="file">The file name, when reading a file.</param>
    /// <param name="line">The 1-based line number (JSON Lines files, or the position of a JSON syntax error).</param>
    /// <param name="element">The 0-based index of the record in a JSON array file, or of the line's record in a JSON Lines file.</param>
    /// <param name="field">The offending field (for example <c>gpt4_output_1.confidence_level</c>), when one field is to blame.</param>
    /// <param name="reason">What is wrong.</param>
    public DataError(string? file, int? line, int? element, string? field, string reason)
    {
        File = file;
        Line = line;
        Element = element;
        Field = field;
        Reason = reason;
    }

    /// <summary>The file name, when reading a file.</summary>
    public string? File { get; }

    /// <summary>The 1-based line number (JSON Lines files, or the position of a JSON syntax error).</summary>
    public int? Line { get; }

    /// <summary>The 0-based index of the record in a JSON array file, or of the line's record in a JSON Lines file.</summary>
    public int? Element { get; }

    /// <summary>The offending field (for example <c>gpt4_output_1.confidence_level</c>), when one field is to blame.</summary>
    public string? Field { get; }

    /// <summary>What is wrong.</summary>
    public string Reason { get; }

    /// <summary>A one-line description: <c>file:line 3 (element 2), field 'answer': reason</c>.</summary>
    /// <returns>The description.</returns>
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(File ?? "<stream>");
        if (Line is { } line)
        {
            sb.Append(CultureInfo.InvariantCulture, $":line {line}");
        }

        if (Element is { } element)
        {
            sb.Append(CultureInfo.InvariantCulture, $" (element {element})");
        }

        if (!string.IsNullOrEmpty(Field))
        {
            sb.Append(CultureInfo.InvariantCulture, $", field '{Field}'");
        }

        sb.Append(": ").Append(Reason);
        return sb.ToString();
    }
}

/// <summary>
/// The one exception MagDi's data readers throw for bad input (malformed JSON, missing or mistyped
/// fields, invalid graphs, invalid UTF-8, over-long text). It says which file, line or element, which field and why.
/// </summary>
public sealed class MagDataException : Exception
{
    /// <summary>Creates the exception.</summary>
    public MagDataException()
        : this(new DataError(null, null, null, null, "invalid data"))
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">The reason.</param>
    public MagDataException(string message)
        : this(new DataError(null, null, null, null, message))
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">The reason.</param>
    /// <param name="innerException">The cause.</param>
    public MagDataException(string message, Exception innerException)
        : this(new DataError(null, null, null, null, message), innerException)
    {
    }

    /// <summary>Creates the exception for a located error.</summary>
    /// <param name="error">Where and what.</param>
    /// <param name="innerException">The cause, if any.</param>
    public MagDataException(DataError error, Exception? innerException = null)
        : base(error?.ToString(), innerException)
    {
        ArgumentNullException.ThrowIfNull(error);
        Error = error;
    }

    /// <summary>Where and what.</summary>
    public DataError Error { get; }

    /// <summary>The file name, if known.</summary>
    public string? File => Error.File;

    /// <summary>The 1-based line number, if known.</summary>
    public int? Line => Error.Line;

    /// <summary>The 0-based record index, if known.</summary>
    public int? Element => Error.Element;

    /// <summary>The offending field, if one is to blame.</summary>
    public string? Field => Error.Field;

    /// <summary>What is wrong.</summary>
    public string Reason => Error.Reason;
}

/// <summary>What a reader does with a bad record.</summary>
public enum ReadErrorMode
{
    /// <summary>Throw a <see cref="MagDataException"/> at the first bad record (default).</summary>
    FailFast,

    /// <summary>Skip bad records and list each one in the <see cref="ReadReport"/>. A file that is not valid JSON as a whole still fails.</summary>
    SkipInvalid,
}

/// <summary>Options shared by MagDi's data readers.</summary>
public class DataReadOptions
{
    /// <summary>What to do with a bad record. Default <see cref="ReadErrorMode.FailFast"/>.</summary>
    public ReadErrorMode ErrorMode { get; set; } = ReadErrorMode.FailFast;

    /// <summary>
    /// The default of <see cref="MaxTextLength"/>: 100,000 characters. Writers of MagDi data (the discussion runner) keep every
    /// text field within it, so what MagDi writes, MagDi reads.
    /// </summary>
    public const int DefaultMaxTextLength = 100_000;

    /// <summary>The longest accepted text field (question, reasoning, answer), in characters. Default <see cref="DefaultMaxTextLength"/>.</summary>
    public int MaxTextLength { get; set; } = DefaultMaxTextLength;

    /// <summary>The longest accepted record (one JSON Lines line or one array file), in bytes. Default 64 MiB.</summary>
    public int MaxRecordBytes { get; set; } = 64 * 1024 * 1024;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> when a limit is not positive.</summary>
    public void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxTextLength);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(MaxRecordBytes);
    }
}

/// <summary>What a reader read and which records it skipped (in <see cref="ReadErrorMode.SkipInvalid"/> mode).</summary>
public sealed class ReadReport
{
    private readonly List<DataError> _skipped = [];

    /// <summary>The number of records read successfully.</summary>
    public int RecordsRead { get; private set; }

    /// <summary>Every skipped record, in file order.</summary>
    public IReadOnlyList<DataError> Skipped => _skipped;

    /// <summary>Whether every record was read.</summary>
    public bool IsComplete => _skipped.Count == 0;

    /// <inheritdoc />
    public override string ToString() =>
        _skipped.Count == 0
            ? $"{RecordsRead} records read"
            : $"{RecordsRead} records read, {_skipped.Count} skipped:\n" + string.Join("\n", _skipped.Select(e => "  " + e));

    /// <summary>Counts a successfully read record.</summary>
    public void AddRead() => RecordsRead++;

    /// <summary>Records a skipped record.</summary>
    /// <param name="error">Why it was skipped.</param>
    public void AddSkipped(DataError error)
    {
        ArgumentNullException.ThrowIfNull(error);
        _skipped.Add(error);
    }

    /// <summary>Applies the error mode: throws in <see cref="ReadErrorMode.FailFast"/>, records the error otherwise.</summary>
    /// <param name="mode">The mode.</param>
    /// <param name="error">The error.</param>
    /// <param name="cause">The underlying exception, if any.</param>
    /// <exception cref="MagDataException">In fail-fast mode.</exception>
    public void Fail(ReadErrorMode mode, DataError error, Exception? cause = null)
    {
        if (mode == ReadErrorMode.FailFast)
        {
            throw new MagDataException(error, cause);
        }

        AddSkipped(error);
    }
}

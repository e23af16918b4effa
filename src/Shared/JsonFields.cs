using System.Globalization;
using System.Text.Json;

namespace MagDi.Tasks;

/// <summary>Typed access to the fields of one JSON record, turning every problem into a located <see cref="MagDataException"/>.</summary>
/// <remarks>This file is compiled into MagDi.Core and linked into MagDi.Graphs; it is internal to each.</remarks>
internal sealed class JsonFields(string? file, int? line, int? element, int maxTextLength)
{
    public string? File { get; } = file;

    public int? Line { get; } = line;

    public int? Element { get; } = element;

    public DataError ErrorAt(string? field, string reason) => new(File, Line, Element, field, reason);

    public MagDataException Fail(string? field, string reason) => new(ErrorAt(field, reason));

    public void RequireObject(JsonElement value, string? field)
    {
        if (value.ValueKind != JsonValueKind.Object)
        {
            throw Fail(field, $"expected a JSON object but found {Describe(value)}");
        }
    }

    public static bool TryGet(JsonElement obj, string name, out JsonElement value)
    {
        if (obj.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null)
        {
            return true;
        }

        value = default;
        return false;
    }

    public string RequiredString(JsonElement obj, string name, string? path = null)
    {
        var field = path ?? name;
        if (!obj.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            throw Fail(field, "is missing");
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            throw Fail(field, $"expected a string but found {Describe(value)}");
        }

        return CheckLength(field, value.GetString()!);
    }

    public string? OptionalString(JsonElement obj, string name, string? path = null)
    {
        if (!TryGet(obj, name, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            throw Fail(path ?? name, $"expected a string but found {Describe(value)}");
        }

        return CheckLength(path ?? name, value.GetString()!);
    }

    /// <summary>A string, number or boolean field as text (numbers as written, booleans as <c>true</c>/<c>false</c>).</summary>
    public string RequiredScalar(JsonElement obj, string name, string? path = null) =>
        OptionalScalar(obj, name, path) ?? throw Fail(path ?? name, "is missing");

    public string? OptionalScalar(JsonElement obj, string name, string? path = null)
    {
        if (!TryGet(obj, name, out var value))
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.String => CheckLength(path ?? name, value.GetString()!),
            JsonValueKind.Number => value.GetRawText(),
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            _ => throw Fail(path ?? name, $"expected a string, number or boolean but found {Describe(value)}"),
        };
    }

    /// <summary>A number, or a string holding a number (as the released confidence levels sometimes are).</summary>
    public double? OptionalNumber(JsonElement obj, string name, string? path = null)
    {
        if (!TryGet(obj, name, out var value))
        {
            return null;
        }

        var field = path ?? name;
        if (value.ValueKind == JsonValueKind.Number)
        {
            return value.GetDouble();
        }

        if (value.ValueKind == JsonValueKind.String)
        {
            var text = value.GetString()!.Trim();
            if (double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) && double.IsFinite(parsed))
            {
                return parsed;
            }

            throw Fail(field, $"expected a number but found the string \"{Shorten(text)}\"");
        }

        throw Fail(field, $"expected a number but found {Describe(value)}");
    }

    public int RequiredInt(JsonElement obj, string name, string? path = null)
    {
        var field = path ?? name;
        if (!TryGet(obj, name, out var value))
        {
            throw Fail(field, "is missing");
        }

        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt32(out var result))
        {
            throw Fail(field, $"expected an integer but found {Describe(value)}");
        }

        return result;
    }

    public bool? OptionalBool(JsonElement obj, string name, string? path = null)
    {
        if (!TryGet(obj, name, out var value))
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw Fail(path ?? name, $"expected a boolean but found {Describe(value)}"),
        };
    }

    public JsonElement? OptionalArray(JsonElement obj, string name, string? path = null)
    {
        if (!TryGet(obj, name, out var value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.Array)
        {
            throw Fail(path ?? name, $"expected an array but found {Describe(value)}");
        }

        return value;
    }

    public JsonElement RequiredArray(JsonElement obj, string name, string? path = null) =>
        OptionalArray(obj, name, path) ?? throw Fail(path ?? name, "is missing");

    public string CheckLength(string field, string value)
    {
        if (value.Length > maxTextLength)
        {
            throw Fail(field, $"text is {value.Length} characters long, over the limit of {maxTextLength}");
        }

        return value;
    }

    public static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.Object => "an object",
        JsonValueKind.Array => "an array",
        JsonValueKind.String => $"the string \"{Shorten(TextOf(value))}\"",
        JsonValueKind.Number => $"the number {Shorten(value.GetRawText())}",
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    /// <summary>A string value as text, or its raw JSON when it is not valid Unicode (an unpaired surrogate escape).</summary>
    private static string TextOf(JsonElement value)
    {
        try
        {
            return value.GetString()!;
        }
        catch (InvalidOperationException)
        {
            return value.GetRawText();
        }
    }

    public static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "...";

    /// <summary><paramref name="error"/> with its line replaced by <paramref name="line"/>.</summary>
    public static DataError AtLine(DataError error, int? line) => new(error.File, line, error.Element, error.Field, error.Reason);

    /// <summary>Describes a JSON syntax error with its line (1-based, offset by <paramref name="firstLine"/>).</summary>

    public static DataError SyntaxError(string? file, int? element, JsonException ex, int firstLine = 1)
    {
        var line = ex.LineNumber is { } l ? (int)l + firstLine : firstLine;
        var message = ex.Message;
        var cut = message.IndexOf(" Path:", StringComparison.Ordinal);
        if (cut < 0)
        {
            cut = message.IndexOf(" LineNumber:", StringComparison.Ordinal);
        }

        return new DataError(file, line, element, null, "malformed JSON: " + (cut > 0 ? message[..cut] : message));
    }
}

/// <summary>
/// Finds what System.Text.Json parses but cannot turn into a .NET string: an escaped unpaired UTF-16 surrogate
/// (<c>"\ud800"</c>, which <see cref="JsonElement.GetString"/> and even property lookups reject with an
/// <see cref="InvalidOperationException"/>) or invalid UTF-8 inside a string; and where a syntax error happened.
/// </summary>
/// <remarks>Compiled into MagDi.Core and linked into MagDi.Graphs, like <see cref="JsonFields"/>.</remarks>
internal static class JsonStrings
{
    /// <summary>A bad string: its 1-based line, the field path (<c>nodes[2].reasoning</c>; null for a root value) and what is wrong.</summary>
    internal readonly record struct Problem(int Line, string? Field, string Reason);

    /// <summary>The first string or property name in <paramref name="json"/> that is not valid Unicode, or null.</summary>
    /// <param name="json">A JSON document (syntax errors end the scan quietly).</param>
    public static Problem? FindInvalid(ReadOnlySpan<byte> json) => Walk(json, stopAtInvalidString: true, out _);

    /// <summary>
    /// <see cref="FindInvalid"/> for text already known to be valid UTF-8 (the readers check each line or file first):
    /// then only a <c>\u</c> escape can make a string unreadable, so text without one is not scanned.
    /// </summary>
    /// <param name="utf8Json">A JSON document in valid UTF-8.</param>
    public static Problem? FindInvalidEscape(ReadOnlySpan<byte> utf8Json) =>
        utf8Json.IndexOf("\\u"u8) < 0 ? null : FindInvalid(utf8Json);

    /// <summary>The field path at which a JSON syntax error occurs (the property being read when it failed), or null.</summary>
    /// <param name="json">The malformed document.</param>
    public static string? PathAtSyntaxError(ReadOnlySpan<byte> json)
    {
        Walk(json, stopAtInvalidString: false, out string? pathAtSyntaxError);
        return pathAtSyntaxError;
    }

    /// <summary>
    /// Reads <paramref name="json"/> token by token, keeping the field path. With <paramref name="stopAtInvalidString"/>
    /// it returns the first string or property name that is not valid Unicode; otherwise such a name reads as <c>?</c> in
    /// the path. A syntax error ends the walk and gives the path where it happened.
    /// </summary>
    private static Problem? Walk(ReadOnlySpan<byte> json, bool stopAtInvalidString, out string? pathAtSyntaxError)
    {
        pathAtSyntaxError = null;
        var reader = new Utf8JsonReader(json, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true, MaxDepth = 4096 });
        var path = new List<Frame>();
        try
        {
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName:
                        path[^1] = path[^1] with { Name = null };
                        string? badName = Check(reader.ValueSpan, reader.ValueIsEscaped);
                        if (badName is not null && stopAtInvalidString)
                        {
                            return new Problem(LineAt(json, reader.TokenStartIndex), PathOf(path), "a property name " + badName);
                        }

                        path[^1] = path[^1] with { Name = badName is null ? reader.GetString() : "?" };
                        break;
                    case JsonTokenType.StartObject:
                    case JsonTokenType.StartArray:
                        Advance(path);
                        path.Add(new Frame(reader.TokenType == JsonTokenType.StartArray, null, -1));
                        break;
                    case JsonTokenType.EndObject:
                    case JsonTokenType.EndArray:
                        path.RemoveAt(path.Count - 1);
                        break;
                    case JsonTokenType.String when stopAtInvalidString:
                        Advance(path);
                        if (Check(reader.ValueSpan, reader.ValueIsEscaped) is { } badValue)
                        {
                            return new Problem(LineAt(json, reader.TokenStartIndex), PathOf(path), "the string " + badValue);
                        }

                        break;
                    default:
                        Advance(path);
                        break;
                }
            }
        }
        catch (JsonException)
        {
            pathAtSyntaxError = PathOf(path);
        }

        return null;
    }

    /// <summary>Why a raw string token is not valid Unicode, or null when it is.</summary>
    private static string? Check(ReadOnlySpan<byte> raw, bool escaped)
    {
        if (!System.Text.Unicode.Utf8.IsValid(raw))
        {
            return "is not valid UTF-8";
        }

        if (!escaped)
        {
            return null;
        }

        for (int i = 0; i < raw.Length - 1; i++)
        {
            if (raw[i] != (byte)'\\')
            {
                continue;
            }

            if (raw[i + 1] != (byte)'u')
            {
                i++;
                continue;
            }

            int unit = Hex(raw, i + 2);
            if (unit is >= 0xD800 and <= 0xDBFF)
            {
                int next = i + 6 < raw.Length - 1 && raw[i + 6] == (byte)'\\' && raw[i + 7] == (byte)'u' ? Hex(raw, i + 8) : -1;
                if (next is >= 0xDC00 and <= 0xDFFF)
                {
                    i += 11;
                    continue;
                }

                return Unpaired(unit);
            }

            if (unit is >= 0xDC00 and <= 0xDFFF)
            {
                return Unpaired(unit);
            }

            i += 5;
        }

        return null;
    }

    private static string Unpaired(int unit) =>
        $"holds the escape \\u{unit.ToString("x4", CultureInfo.InvariantCulture)}, an unpaired UTF-16 surrogate, which is not a Unicode character";

    private static int Hex(ReadOnlySpan<byte> raw, int start) =>
        start + 4 <= raw.Length && int.TryParse(System.Text.Encoding.ASCII.GetString(raw.Slice(start, 4)), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out int v) ? v : -1;

    private static int LineAt(ReadOnlySpan<byte> json, long offset) => json[..(int)Math.Min(offset, json.Length)].Count((byte)'\n') + 1;

    private static void Advance(List<Frame> path)
    {
        if (path.Count > 0 && path[^1].IsArray)
        {
            path[^1] = path[^1] with { Index = path[^1].Index + 1 };
        }
    }

    private static string? PathOf(List<Frame> path)
    {
        var sb = new System.Text.StringBuilder();
        foreach (var frame in path)
        {
            if (frame.IsArray)
            {
                if (frame.Index >= 0)
                {
                    sb.Append('[').Append(frame.Index.ToString(CultureInfo.InvariantCulture)).Append(']');
                }
            }
            else if (frame.Name is not null)
            {
                if (sb.Length > 0)
                {
                    sb.Append('.');
                }

                sb.Append(frame.Name);
            }
        }

        return sb.Length == 0 ? null : sb.ToString();
    }

    private readonly record struct Frame(bool IsArray, string? Name, int Index);
}

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
        JsonValueKind.String => $"the string \"{Shorten(value.GetString()!)}\"",
        JsonValueKind.Number => $"the number {Shorten(value.GetRawText())}",
        JsonValueKind.True => "true",
        JsonValueKind.False => "false",
        JsonValueKind.Null => "null",
        _ => "nothing",
    };

    public static string Shorten(string text) => text.Length <= 40 ? text : text[..40] + "...";

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

using System.Text.Json;
using MagDi.IO;

namespace MagDi.Tokenization;

/// <summary>The parts of <c>tokenizer_config.json</c> MagDi uses.</summary>
internal sealed record TokenizerConfig(
    string? BosToken,
    string? EosToken,
    string? PadToken,
    string? UnkToken,
    bool? AddBosToken,
    bool? AddEosToken,
    string? ChatTemplate,
    IReadOnlyList<AddedToken> AddedTokens)
{
    public static TokenizerConfig Empty { get; } = new(null, null, null, null, null, null, null, []);

    public static TokenizerConfig Load(string path)
    {
        using (JsonDocument doc = JsonFile.Parse(path, JsonFile.MaxConfigBytes, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip }))
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"{path}: the root must be a JSON object.");
            }

            var added = new List<AddedToken>();
            if (root.TryGetProperty("added_tokens_decoder", out var decoderMap) && decoderMap.ValueKind == JsonValueKind.Object)
            {
                foreach (var p in decoderMap.EnumerateObject())
                {
                    if (!long.TryParse(p.Name, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long key))
                    {
                        throw new InvalidDataException($"{path}: added_tokens_decoder key \"{p.Name}\" is not a token id.");
                    }

                    int id = TokenizerLimits.CheckId(key, path, $"added_tokens_decoder key \"{p.Name}\"");
                    added.Add(JsonRead.AddedTokenFrom(p.Value, id, path, $"added_tokens_decoder.{p.Name}"));
                }
            }

            return new TokenizerConfig(
                TokenText(root, "bos_token", path),
                TokenText(root, "eos_token", path),
                TokenText(root, "pad_token", path),
                TokenText(root, "unk_token", path),
                OptionalBool(root, "add_bos_token", path),
                OptionalBool(root, "add_eos_token", path),
                ChatTemplateOf(root, path),
                added);
        }
    }

    private static string? TokenText(JsonElement root, string name, string path)
    {
        if (!root.TryGetProperty(name, out var value))
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.Null => null,
            JsonValueKind.String => value.GetString(),
            JsonValueKind.Object when value.TryGetProperty("content", out var c) && c.ValueKind == JsonValueKind.String => c.GetString(),
            _ => throw new InvalidDataException($"{path}: {name} must be a string, an object with \"content\", or null."),
        };
    }

    private static bool? OptionalBool(JsonElement root, string name, string path)
    {
        if (!root.TryGetProperty(name, out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return value.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new InvalidDataException($"{path}: {name} must be true or false."),
        };
    }

    private static string? ChatTemplateOf(JsonElement root, string path)
    {
        if (!root.TryGetProperty("chat_template", out var value) || value.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString();
        }

        // A list of named templates: use the one called "default", else the first.
        if (value.ValueKind == JsonValueKind.Array)
        {
            string? first = null;
            foreach (var item in value.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.Object && item.TryGetProperty("template", out var t) && t.ValueKind == JsonValueKind.String)
                {
                    first ??= t.GetString();
                    if (item.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String && n.GetString() == "default")
                    {
                        return t.GetString();
                    }
                }
            }

            return first;
        }

        throw new InvalidDataException($"{path}: chat_template must be a string or a list of {{\"name\", \"template\"}} objects.");
    }
}

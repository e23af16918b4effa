using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using MagDi.IO;

namespace MagDi.Tokenization;

/// <summary>Small helpers for reading tokenizer JSON with errors that name the file and the element.</summary>
internal static class JsonRead
{
    /// <summary>Reads a tokenizer JSON file: a regular file, strict UTF-8, every string valid Unicode (see <see cref="JsonFile"/>).</summary>
    public static JsonDocument Parse(string path) =>
        JsonFile.Parse(path, JsonFile.MaxTokenizerBytes, new JsonDocumentOptions { MaxDepth = 256 });

    /// <summary>Checks a token id read from a file against <see cref="TokenizerLimits.MaxVocabularySize"/> before anything is sized by it.</summary>
    public static int TokenId(JsonElement value, string path, string where)
    {
        if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out long id) || id < 0)
        {
            throw new InvalidDataException($"{path}: {where} must be a non-negative integer token id (found {value.GetRawText()}).");
        }

        return TokenizerLimits.CheckId(id, path, where);
    }

    public static string? String(JsonElement obj, string name, string path, string where)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        return v.ValueKind == JsonValueKind.String ? v.GetString() : throw new InvalidDataException($"{path}: {where}.{name} must be a string.");
    }

    public static string RequiredString(JsonElement obj, string name, string path, string where) =>
        String(obj, name, path, where) ?? throw new InvalidDataException($"{path}: {where}.{name} is missing.");

    public static bool Bool(JsonElement obj, string name, bool defaultValue, string path, string where)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return defaultValue;
        }

        return v.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw new InvalidDataException($"{path}: {where}.{name} must be true or false."),
        };
    }

    public static int Int(JsonElement obj, string name, int defaultValue, string path, string where)
    {
        if (!obj.TryGetProperty(name, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return defaultValue;
        }

        return v.ValueKind == JsonValueKind.Number && v.TryGetInt32(out int i) ? i : throw new InvalidDataException($"{path}: {where}.{name} must be an integer.");
    }

    public static AddedToken AddedTokenFrom(JsonElement e, int id, string path, string where)
    {
        if (e.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"{path}: {where} must be an object.");
        }

        return new AddedToken(
            id,
            RequiredString(e, "content", path, where),
            Bool(e, "special", false, path, where),
            Bool(e, "lstrip", false, path, where),
            Bool(e, "rstrip", false, path, where),
            Bool(e, "single_word", false, path, where),
            Bool(e, "normalized", false, path, where));
    }
}

/// <summary>
/// Reads a Hugging Face <c>tokenizer.json</c> into a <see cref="HuggingFaceTokenizer"/>. Every component type and option
/// that MagDi does not implement exactly raises <see cref="NotSupportedException"/> naming the file and the feature.
/// </summary>
internal static class TokenizerJsonReader
{
    public static HuggingFaceTokenizer Read(string path, TokenizerConfig config, string? configPath)
    {
        using var doc = JsonRead.Parse(path);
        var root = doc.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"{path}: the root must be a JSON object.");
        }

        if (!root.TryGetProperty("model", out var modelJson) || modelJson.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"{path}: \"model\" is missing.");
        }

        var model = ReadModel(modelJson, path);
        var normalizer = Optional(root, "normalizer", e => ReadNormalizer(e, path, "normalizer"));
        var preTokenizer = Optional(root, "pre_tokenizer", e => ReadPreTokenizer(e, path, "pre_tokenizer"));
        var decoder = Optional(root, "decoder", e => ReadDecoder(e, path, "decoder"));
        var template = Optional(root, "post_processor", e => ReadPostProcessor(e, path, "post_processor"));

        var added = new List<AddedToken>();
        if (root.TryGetProperty("added_tokens", out var addedJson) && addedJson.ValueKind is not (JsonValueKind.Array or JsonValueKind.Null))
        {
            throw new InvalidDataException($"{path}: added_tokens must be a list of token objects.");
        }

        if (addedJson.ValueKind == JsonValueKind.Array)
        {
            int i = 0;
            foreach (var e in addedJson.EnumerateArray())
            {
                string where = $"added_tokens[{i++}]";
                if (e.ValueKind != JsonValueKind.Object || !e.TryGetProperty("id", out var idJson))
                {
                    throw new InvalidDataException($"{path}: {where}.id is missing.");
                }

                int id = JsonRead.TokenId(idJson, path, where + ".id");

                var token = JsonRead.AddedTokenFrom(e, id, path, where);
                if (token.Normalized && normalizer is not null && !token.Special &&
                    normalizer.Normalize(token.Content, new SegmentContext(false, false)) != token.Content)
                {
                    throw new NotSupportedException(
                        $"{path}: {where} \"{token.Content}\" is a normalized added token that the normalizer changes; matching added tokens on normalized text is not supported.");
                }

                added.Add(token);
            }
        }

        // tokenizer_config.json may declare added tokens that tokenizer.json lacks.
        foreach (var token in config.AddedTokens)
        {
            if (!added.Exists(t => t.Content == token.Content))
            {
                added.Add(token);
            }
        }

        return new HuggingFaceTokenizer(
            path,
            model,
            added,
            normalizer,
            preTokenizer,
            decoder,
            vocab => ResolveSpecials(vocab, config, configPath ?? path, template, model.UnkId),
            config.ChatTemplate);
    }

    /// <summary>Builds a GPT-2 style tokenizer from <c>vocab.json</c> + <c>merges.txt</c>.</summary>
    public static HuggingFaceTokenizer ReadGpt2(string vocabPath, string mergesPath, TokenizerConfig config, string? configPath)
    {
        using var doc = JsonRead.Parse(vocabPath);
        if (doc.RootElement.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"{vocabPath}: the root must be an object mapping token to id.");
        }

        var vocab = ReadVocab(doc.RootElement, vocabPath, "(root)");
        var merges = new List<(string, string)>();
        int lineNumber = 0;
        // Strict UTF-8 (a bad byte is an error naming the line, not a U+FFFD in a merge) from a regular file only.
        foreach (string line in InputFile.ReadAllText(mergesPath, JsonFile.MaxTokenizerBytes).Split('\n'))
        {
            lineNumber++;
            string merge = line.EndsWith('\r') ? line[..^1] : line;
            if (merge.Length == 0 || (lineNumber == 1 && merge.StartsWith("#version", StringComparison.Ordinal)))
            {
                continue;
            }

            string[] parts = merge.Split(' ');
            if (parts.Length != 2 || parts[0].Length == 0 || parts[1].Length == 0)
            {
                throw new InvalidDataException($"{mergesPath}: line {lineNumber}: a merge must be two tokens separated by one space, got \"{merge}\".");
            }

            merges.Add((parts[0], parts[1]));
        }

        var model = new BpeModel(vocab, merges, unkToken: null, fuseUnk: false, byteFallback: false, ignoreMerges: false, mergesPath);
        var added = new List<AddedToken>(config.AddedTokens);
        if (config.AddedTokens.Count == 0 && vocab.TryGetValue("<|endoftext|>", out int eot))
        {
            // GPT-2's one special token, as transformers' GPT2Tokenizer registers it.
            added.Add(new AddedToken(eot, "<|endoftext|>", Special: true));
        }

        var effective = configPath is null && vocab.ContainsKey("<|endoftext|>")
            ? config with { BosToken = "<|endoftext|>", EosToken = "<|endoftext|>", UnkToken = "<|endoftext|>" }
            : config;
        return new HuggingFaceTokenizer(
            vocabPath,
            model,
            added,
            normalizer: null,
            new ByteLevelPreTokenizer(addPrefixSpace: false, useRegex: true),
            new ByteLevelDecoder(),
            v => ResolveSpecials(v, effective, configPath ?? vocabPath, template: null, unkFromModel: null),
            config.ChatTemplate);
    }

    /// <summary>Creates a tokenizer from parts, resolving special tokens from the config.</summary>
    internal static HuggingFaceTokenizer Create(
        string source,
        BpeModel model,
        IReadOnlyList<AddedToken> added,
        TextNormalizer? normalizer,
        PreTokenizer? preTokenizer,
        TokenDecoder? decoder,
        TokenizerConfig config,
        string? configPath) =>
        new(source, model, added, normalizer, preTokenizer, decoder,
            v => ResolveSpecials(v, config, configPath ?? source, template: null, model.UnkId), config.ChatTemplate);

    private static T? Optional<T>(JsonElement root, string name, Func<JsonElement, T> read)
        where T : class =>
        root.TryGetProperty(name, out var e) && e.ValueKind != JsonValueKind.Null ? read(e) : null;

    private static Dictionary<string, int> ReadVocab(JsonElement vocabJson, string path, string where)
    {
        var vocab = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in vocabJson.EnumerateObject())
        {
            // Range-checked here: the id table is sized by the largest id (an id near 2^31 ran out of memory).
            vocab[p.Name] = JsonRead.TokenId(p.Value, path, $"{where}[\"{p.Name}\"]");
        }

        return vocab;
    }

    private static BpeModel ReadModel(JsonElement m, string path)
    {
        string type = JsonRead.String(m, "type", path, "model") ?? (m.TryGetProperty("merges", out _) ? "BPE" : "(missing)");
        if (type != "BPE")
        {
            throw new NotSupportedException($"{path}: model.type \"{type}\" is not supported; MagDi supports BPE models (byte-level and SentencePiece-style).");
        }

        if (m.TryGetProperty("dropout", out var dropout) && dropout.ValueKind == JsonValueKind.Number && dropout.GetDouble() > 0)
        {
            throw new NotSupportedException($"{path}: model.dropout (BPE dropout) is not supported; tokenization would not be deterministic.");
        }

        foreach (string name in new[] { "continuing_subword_prefix", "end_of_word_suffix" })
        {
            if (!string.IsNullOrEmpty(JsonRead.String(m, name, path, "model")))
            {
                throw new NotSupportedException($"{path}: model.{name} is not supported.");
            }
        }

        if (!m.TryGetProperty("vocab", out var vocabJson) || vocabJson.ValueKind != JsonValueKind.Object)
        {
            throw new InvalidDataException($"{path}: model.vocab is missing or not an object.");
        }

        var vocab = ReadVocab(vocabJson, path, "model.vocab");
        var merges = new List<(string, string)>();
        if (m.TryGetProperty("merges", out var mergesJson) && mergesJson.ValueKind is not (JsonValueKind.Array or JsonValueKind.Null))
        {
            // Ignoring it would silently tokenize without merges (different ids); tokenizers rejects it too.
            throw new InvalidDataException($"{path}: model.merges must be a list of merges (\"a b\" strings or [\"a\", \"b\"] pairs), not {Describe(mergesJson)}.");
        }

        if (mergesJson.ValueKind == JsonValueKind.Array)
        {
            int i = 0;
            foreach (var e in mergesJson.EnumerateArray())
            {
                if (e.ValueKind == JsonValueKind.String)
                {
                    string s = e.GetString()!;
                    int space = s.IndexOf(' ', StringComparison.Ordinal);
                    if (space <= 0 || space == s.Length - 1 || s.IndexOf(' ', space + 1) >= 0)
                    {
                        throw new InvalidDataException($"{path}: model.merges[{i}] \"{s}\" must be two tokens separated by one space.");
                    }

                    merges.Add((s[..space], s[(space + 1)..]));
                }
                else if (e.ValueKind == JsonValueKind.Array && e.GetArrayLength() == 2 &&
                         e[0].ValueKind == JsonValueKind.String && e[1].ValueKind == JsonValueKind.String)
                {
                    merges.Add((e[0].GetString()!, e[1].GetString()!));
                }
                else
                {
                    throw new InvalidDataException($"{path}: model.merges[{i}] must be \"a b\" or [\"a\", \"b\"].");
                }

                i++;
            }
        }

        return new BpeModel(
            vocab,
            merges,
            JsonRead.String(m, "unk_token", path, "model"),
            JsonRead.Bool(m, "fuse_unk", false, path, "model"),
            JsonRead.Bool(m, "byte_fallback", false, path, "model"),
            JsonRead.Bool(m, "ignore_merges", false, path, "model"),
            path);
    }

    private static string Describe(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => "a string",
        JsonValueKind.Number => "a number",
        JsonValueKind.Object => "an object",
        JsonValueKind.True or JsonValueKind.False => "a boolean",
        _ => value.ValueKind.ToString(),
    };

    private static JsonElement PatternObject(JsonElement e, string path, string where) =>
        e.TryGetProperty("pattern", out var p) && p.ValueKind == JsonValueKind.Object
            ? p
            : throw new InvalidDataException($"{path}: {where}.pattern is missing or not an object.");

    private static Regex PatternOf(JsonElement e, string path, string where)
    {
        var p = PatternObject(e, path, where);

        if (JsonRead.String(p, "String", path, where + ".pattern") is string literal)
        {
            return new Regex(Regex.Escape(literal), RegexOptions.CultureInvariant);
        }

        if (JsonRead.String(p, "Regex", path, where + ".pattern") is string regex)
        {
            try
            {
                // With a match timeout: a pattern with catastrophic backtracking must fail, not hang (issue 15).
                return new FileRegex(regex, RegexOptions.CultureInvariant | RegexOptions.Compiled, path, where + ".pattern.Regex");
            }
            catch (ArgumentException e2)
            {
                throw new NotSupportedException($"{path}: {where}.pattern.Regex uses syntax .NET regular expressions do not support ({e2.Message}): {regex}", e2);
            }
        }

        throw new InvalidDataException($"{path}: {where}.pattern must have \"String\" or \"Regex\".");
    }

    private static TextNormalizer ReadNormalizer(JsonElement e, string path, string where)
    {
        string type = JsonRead.RequiredString(e, "type", path, where);
        switch (type)
        {
            case "NFC": return new UnicodeNormalizer(NormalizationForm.FormC);
            case "NFD": return new UnicodeNormalizer(NormalizationForm.FormD);
            case "NFKC": return new UnicodeNormalizer(NormalizationForm.FormKC);
            case "NFKD": return new UnicodeNormalizer(NormalizationForm.FormKD);
            case "Lowercase": return new LowercaseNormalizer();
            case "Prepend": return new PrependNormalizer(JsonRead.RequiredString(e, "prepend", path, where));
            case "Strip": return new StripNormalizer(JsonRead.Bool(e, "strip_left", true, path, where), JsonRead.Bool(e, "strip_right", true, path, where));
            case "Replace":
                {
                    string content = JsonRead.RequiredString(e, "content", path, where);
                    var p = PatternObject(e, path, where);
                    return JsonRead.String(p, "String", path, where + ".pattern") is string literal
                        ? new ReplaceNormalizer(literal, null, content)
                        : new ReplaceNormalizer(null, PatternOf(e, path, where), content);
                }

            case "Sequence":
                return new SequenceNormalizer(Items(e, "normalizers", path, where, ReadNormalizer));
            default:
                throw new NotSupportedException($"{path}: {where}.type \"{type}\" (normalizer) is not supported; supported: NFC, NFD, NFKC, NFKD, Lowercase, Prepend, Replace, Strip, Sequence.");
        }
    }

    private static PreTokenizer ReadPreTokenizer(JsonElement e, string path, string where)
    {
        string type = JsonRead.RequiredString(e, "type", path, where);
        switch (type)
        {
            case "ByteLevel":
                return new ByteLevelPreTokenizer(JsonRead.Bool(e, "add_prefix_space", true, path, where), JsonRead.Bool(e, "use_regex", true, path, where));
            case "Split":
                {
                    string behavior = JsonRead.RequiredString(e, "behavior", path, where);
                    if (!Enum.TryParse(behavior, out SplitBehavior b))
                    {
                        throw new NotSupportedException($"{path}: {where}.behavior \"{behavior}\" is not supported.");
                    }

                    return new SplitPreTokenizer(PatternOf(e, path, where), b, JsonRead.Bool(e, "invert", false, path, where));
                }

            case "Digits":
                return new SplitPreTokenizer(
                    new Regex("[0-9]", RegexOptions.CultureInvariant),
                    JsonRead.Bool(e, "individual_digits", false, path, where) ? SplitBehavior.Isolated : SplitBehavior.Contiguous,
                    invert: false);
            case "Metaspace":
                return new MetaspacePreTokenizer(Replacement(e, path, where), Scheme(e, path, where), JsonRead.Bool(e, "split", true, path, where));
            case "Sequence":
                return new SequencePreTokenizer(Items(e, "pretokenizers", path, where, ReadPreTokenizer));
            default:
                throw new NotSupportedException($"{path}: {where}.type \"{type}\" (pre-tokenizer) is not supported; supported: ByteLevel, Split, Digits, Metaspace, Sequence.");
        }
    }

    private static TokenDecoder ReadDecoder(JsonElement e, string path, string where)
    {
        string type = JsonRead.RequiredString(e, "type", path, where);
        switch (type)
        {
            case "ByteLevel": return new ByteLevelDecoder();
            case "ByteFallback": return new ByteFallbackDecoder();
            case "Fuse": return new FuseDecoder();
            case "Strip":
                {
                    string content = JsonRead.RequiredString(e, "content", path, where);
                    if (content.Length != 1)
                    {
                        throw new NotSupportedException($"{path}: {where}.content must be one character.");
                    }

                    return new StripDecoder(content[0], JsonRead.Int(e, "start", 0, path, where), JsonRead.Int(e, "stop", 0, path, where));
                }

            case "Replace":
                {
                    string content = JsonRead.RequiredString(e, "content", path, where);
                    var p = PatternObject(e, path, where);
                    return JsonRead.String(p, "String", path, where + ".pattern") is string literal
                        ? new ReplaceDecoder(literal, content)
                        : throw new NotSupportedException($"{path}: {where}: a Replace decoder with a Regex pattern is not supported.");
                }

            case "Metaspace":
                return new MetaspaceDecoder(Replacement(e, path, where), Scheme(e, path, where) != PrependScheme.Never);
            case "Sequence":
                return new SequenceDecoder(Items(e, "decoders", path, where, ReadDecoder));
            default:
                throw new NotSupportedException($"{path}: {where}.type \"{type}\" (decoder) is not supported; supported: ByteLevel, ByteFallback, Fuse, Strip, Replace, Metaspace, Sequence.");
        }
    }

    /// <summary>The special tokens a post-processor adds around a single sequence.</summary>
    private sealed record Template(string[] Prefix, string[] Suffix);

    private static Template ReadPostProcessor(JsonElement e, string path, string where)
    {
        string type = JsonRead.RequiredString(e, "type", path, where);
        switch (type)
        {
            case "ByteLevel":
                return new Template([], []);
            case "TemplateProcessing":
                {
                    if (!e.TryGetProperty("single", out var single) || single.ValueKind != JsonValueKind.Array)
                    {
                        throw new InvalidDataException($"{path}: {where}.single is missing.");
                    }

                    var prefix = new List<string>();
                    var suffix = new List<string>();
                    bool seenSequence = false;
                    foreach (var item in single.EnumerateArray())
                    {
                        if (item.TryGetProperty("Sequence", out var seq))
                        {
                            if (seenSequence || JsonRead.String(seq, "id", path, where) != "A")
                            {
                                throw new NotSupportedException($"{path}: {where}.single must contain sequence $A exactly once.");
                            }

                            seenSequence = true;
                        }
                        else if (item.TryGetProperty("SpecialToken", out var special))
                        {
                            string id = JsonRead.RequiredString(special, "id", path, where + ".single");
                            (seenSequence ? suffix : prefix).AddRange(SpecialTokenIds(e, id, path, where));
                        }
                        else
                        {
                            throw new NotSupportedException($"{path}: {where}.single has an item that is neither Sequence nor SpecialToken.");
                        }
                    }

                    return new Template([.. prefix], [.. suffix]);
                }

            case "RobertaProcessing":
            case "BertProcessing":
                return new Template([PairToken(e, "cls", path, where)], [PairToken(e, "sep", path, where)]);
            case "Sequence":
                {
                    var parts = Items(e, "processors", path, where, ReadPostProcessor);
                    return new Template([.. parts.SelectMany(p => p.Prefix)], [.. parts.SelectMany(p => p.Suffix)]);
                }

            default:
                throw new NotSupportedException($"{path}: {where}.type \"{type}\" (post-processor) is not supported; supported: TemplateProcessing, ByteLevel, RobertaProcessing, BertProcessing, Sequence.");
        }
    }

    private static string[] SpecialTokenIds(JsonElement template, string id, string path, string where)
    {
        if (template.TryGetProperty("special_tokens", out var map) && map.TryGetProperty(id, out var entry) &&
            entry.TryGetProperty("tokens", out var tokens) && tokens.ValueKind == JsonValueKind.Array)
        {
            return [.. tokens.EnumerateArray().Select(t => t.GetString() ?? throw new InvalidDataException($"{path}: {where}.special_tokens.{id}.tokens has a non-string."))];
        }

        return [id];
    }

    private static string PairToken(JsonElement e, string name, string path, string where) =>
        e.TryGetProperty(name, out var pair) && pair.ValueKind == JsonValueKind.Array && pair.GetArrayLength() == 2 && pair[0].ValueKind == JsonValueKind.String
            ? pair[0].GetString()!
            : throw new InvalidDataException($"{path}: {where}.{name} must be [token, id].");

    private static char Replacement(JsonElement e, string path, string where)
    {
        string r = JsonRead.String(e, "replacement", path, where) ?? "\u2581";
        return r.Length == 1 ? r[0] : throw new NotSupportedException($"{path}: {where}.replacement must be one character.");
    }

    private static PrependScheme Scheme(JsonElement e, string path, string where)
    {
        string? scheme = JsonRead.String(e, "prepend_scheme", path, where);
        return scheme switch
        {
            null => JsonRead.Bool(e, "add_prefix_space", true, path, where) ? PrependScheme.Always : PrependScheme.Never,
            "always" => PrependScheme.Always,
            "first" => PrependScheme.First,
            "never" => PrependScheme.Never,
            _ => throw new NotSupportedException($"{path}: {where}.prepend_scheme \"{scheme}\" is not supported."),
        };
    }

    private static List<T> Items<T>(JsonElement e, string name, string path, string where, Func<JsonElement, string, string, T> read)
    {
        if (!e.TryGetProperty(name, out var items) || items.ValueKind != JsonValueKind.Array)
        {
            throw new InvalidDataException($"{path}: {where}.{name} must be an array.");
        }

        var list = new List<T>();
        int i = 0;
        foreach (var item in items.EnumerateArray())
        {
            list.Add(read(item, path, $"{where}.{name}[{i++}]"));
        }

        return list;
    }

    private static (SpecialTokens, int[], int[]) ResolveSpecials(
        IReadOnlyDictionary<string, int> tokenToId,
        TokenizerConfig config,
        string source,
        Template? template,
        int? unkFromModel)
    {
        int? IdOf(string? token, string field)
        {
            if (token is null)
            {
                return null;
            }

            return tokenToId.TryGetValue(token, out int id)
                ? id
                : throw new InvalidDataException($"{source}: {field} \"{token}\" is not a token of the vocabulary.");
        }

        string? bos = config.BosToken ?? (template is { Prefix.Length: 1 } ? template.Prefix[0] : null);
        string? eos = config.EosToken ?? (template is { Suffix.Length: 1 } ? template.Suffix[0] : null);
        int? bosId = IdOf(bos, "bos_token");
        int? eosId = IdOf(eos, "eos_token");
        int? padId = IdOf(config.PadToken, "pad_token");
        int? unkId = config.UnkToken is not null ? IdOf(config.UnkToken, "unk_token") : unkFromModel;

        int[] prefix = config.AddBosToken switch
        {
            true => [bosId ?? throw new InvalidDataException($"{source}: add_bos_token is true but there is no bos_token.")],
            false => [],
            null => template is null ? [] : [.. template.Prefix.Select(t => IdOf(t, "post_processor special token")!.Value)],
        };
        int[] suffix = config.AddEosToken switch
        {
            true => [eosId ?? throw new InvalidDataException($"{source}: add_eos_token is true but there is no eos_token.")],
            false => [],
            null => template is null ? [] : [.. template.Suffix.Select(t => IdOf(t, "post_processor special token")!.Value)],
        };

        var special = new SpecialTokens(bosId, eosId, padId, unkId, bos, eos, config.PadToken, prefix.Length > 0, suffix.Length > 0);
        return (special, prefix, suffix);
    }
}

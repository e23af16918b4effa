using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.RegularExpressions;
using MagDi.IO;

namespace MagDi.Tokenization;

/// <summary>Settings of <see cref="ByteLevelBpeTrainer"/>.</summary>
public sealed class ByteLevelBpeTrainerOptions
{
    /// <summary>Total vocabulary size: special tokens + 256 bytes + merges. Default 1024.</summary>
    public int VocabularySize { get; set; } = 1024;

    /// <summary>A pair must occur at least this often to be merged. Default 2.</summary>
    public int MinFrequency { get; set; } = 2;

    /// <summary>Beginning-of-sequence token (id 0 by default order). Default <c>&lt;s&gt;</c>; null for none.</summary>
    public string? BosToken { get; set; } = "<s>";

    /// <summary>End-of-sequence token. Default <c>&lt;/s&gt;</c>; null for none.</summary>
    public string? EosToken { get; set; } = "</s>";

    /// <summary>Padding token. Default <c>&lt;pad&gt;</c>; null for none.</summary>
    public string? PadToken { get; set; } = "<pad>";

    /// <summary>Unknown token (never produced by byte-level BPE, kept for compatibility). Default <c>&lt;unk&gt;</c>; null for none.</summary>
    public string? UnkToken { get; set; } = "<unk>";

    /// <summary>Further special tokens (for example ChatML's <c>&lt;|im_start|&gt;</c>, <c>&lt;|im_end|&gt;</c>), added after BOS/EOS/PAD/UNK.</summary>
    public IList<string> AdditionalSpecialTokens { get; } = [];

    /// <summary>Whether encoding with special tokens prepends BOS. Default true.</summary>
    public bool AddBosToken { get; set; } = true;

    /// <summary>Whether encoding with special tokens appends EOS. Default false.</summary>
    public bool AddEosToken { get; set; }

    /// <summary>A chat template to write into tokenizer_config.json, or null.</summary>
    public string? ChatTemplate { get; set; }

    /// <summary>
    /// Split numbers into single digits before the GPT-2 pattern (a <c>Digits</c> pre-tokenizer with <c>individual_digits</c>,
    /// as Llama and Qwen tokenizers do), so no merge ever spans two digits and a model sees every number digit by digit.
    /// Default false.
    /// </summary>
    public bool SplitDigits { get; set; }
}

/// <summary>
/// Learns a byte-level BPE vocabulary (GPT-2 pre-tokenization, 256 byte tokens, then merges, most frequent pair
/// first, ties broken by the smaller pair of ids) from a text corpus and writes a Hugging Face
/// <c>tokenizer.json</c> + <c>tokenizer_config.json</c> that <see cref="TokenizerLoader"/> (and Hugging Face
/// <c>tokenizers</c>) load. Special tokens come first (ids 0..), then the bytes, then one token per merge.
/// Pair counts are updated incrementally, so a few hundred KB of text trains in well under a second.
/// </summary>
public sealed class ByteLevelBpeTrainer
{
    private readonly ByteLevelBpeTrainerOptions _options;

    /// <summary>Creates a trainer.</summary>
    /// <param name="options">Settings; defaults when null.</param>
    /// <exception cref="ArgumentException">Invalid settings (all problems listed).</exception>
    public ByteLevelBpeTrainer(ByteLevelBpeTrainerOptions? options = null)
    {
        _options = options ?? new ByteLevelBpeTrainerOptions();
        var problems = new List<string>();
        var specials = SpecialTokenList();
        if (_options.VocabularySize < specials.Count + 256)
        {
            problems.Add($"VocabularySize {_options.VocabularySize} must be at least {specials.Count + 256} (special tokens + 256 bytes).");
        }

        if (_options.MinFrequency < 1)
        {
            problems.Add("MinFrequency must be at least 1.");
        }

        if (specials.Distinct(StringComparer.Ordinal).Count() != specials.Count || specials.Any(string.IsNullOrEmpty))
        {
            problems.Add("Special tokens must be non-empty and distinct.");
        }

        if (_options.AddBosToken && _options.BosToken is null)
        {
            problems.Add("AddBosToken needs a BosToken.");
        }

        if (_options.AddEosToken && _options.EosToken is null)
        {
            problems.Add("AddEosToken needs an EosToken.");
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid ByteLevelBpeTrainerOptions: " + string.Join(" ", problems), nameof(options));
        }
    }

    /// <summary>Trains on <paramref name="corpus"/>, writes tokenizer.json and tokenizer_config.json into <paramref name="outputDirectory"/>, and loads them back.</summary>
    /// <param name="corpus">The training texts (special tokens written in them are not learned from).</param>
    /// <param name="outputDirectory">The folder to write (created if needed; the two files are replaced, other files are kept).</param>
    /// <param name="cancellationToken">Cancels training.</param>
    /// <returns>The trained tokenizer, as <see cref="TokenizerLoader.Load(string)"/> reads it from the written files.</returns>
    public ITextTokenizer Train(IEnumerable<string> corpus, string outputDirectory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(corpus);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputDirectory);
        var specials = SpecialTokenList();
        var (tokens, merges) = Learn(corpus, specials, cancellationToken);
        // Both files as one unit: a kill never leaves a new tokenizer.json next to an old tokenizer_config.json in a
        // folder of their own (in a shared checkpoint folder each file is still replaced atomically).
        AtomicFile.WriteDirectory(outputDirectory, temp =>
        {
            WriteJson(Path.Combine(temp, "tokenizer.json"), w => WriteTokenizerJson(w, specials, tokens, merges));
            WriteJson(Path.Combine(temp, "tokenizer_config.json"), w => WriteConfig(w, specials));
        });
        return TokenizerLoader.Load(outputDirectory);
    }

    private List<string> SpecialTokenList()
    {
        var list = new List<string>();
        foreach (string? t in new[] { _options.BosToken, _options.EosToken, _options.PadToken, _options.UnkToken })
        {
            if (t is not null)
            {
                list.Add(t);
            }
        }

        list.AddRange(_options.AdditionalSpecialTokens);
        return list;
    }

    private (List<string> Tokens, List<(int A, int B)> Merges) Learn(IEnumerable<string> corpus, List<string> specials, CancellationToken ct)
    {
        // 1. Count pre-tokenized words (byte-level form), never across special tokens.
        Regex? specialRegex = specials.Count == 0 ? null : new Regex(string.Join('|', specials.OrderByDescending(s => s.Length).Select(Regex.Escape)), RegexOptions.CultureInvariant);
        var wordCounts = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string text in corpus)
        {
            ct.ThrowIfCancellationRequested();
            string value = text ?? string.Empty;
            foreach (string part in specialRegex is null ? [value] : specialRegex.Split(value))
            {
                foreach (string piece in _options.SplitDigits ? SplitDigitPieces(part) : [part])
                {
                    foreach (var m in CodePointRegex.Matches(ByteLevel.Gpt2Regex, piece))
                    {
                        string word = ByteLevel.Encode(piece.AsSpan(m.Index, m.Length));
                        wordCounts[word] = wordCounts.GetValueOrDefault(word) + 1;
                    }
                }
            }
        }

        // 2. Symbols: ids of the byte tokens (after the special tokens).
        int byteBase = specials.Count;
        var tokens = new List<string>(_options.VocabularySize);
        for (int b = 0; b < 256; b++)
        {
            tokens.Add(ByteLevel.ByteToChar((byte)b).ToString());
        }

        var charToId = new Dictionary<char, int>();
        for (int b = 0; b < 256; b++)
        {
            charToId[ByteLevel.ByteToChar((byte)b)] = byteBase + b;
        }

        var words = new List<int[]>(wordCounts.Count);
        var counts = new List<int>(wordCounts.Count);
        foreach (var (word, count) in wordCounts.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            words.Add([.. word.Select(c => charToId[c])]);
            counts.Add(count);
        }

        // 3. Pair counts and where each pair occurs.
        var pairCounts = new Dictionary<(int, int), long>();
        var where = new Dictionary<(int, int), HashSet<int>>();
        for (int w = 0; w < words.Count; w++)
        {
            AddPairs(words[w], counts[w], w, pairCounts, where, changed: null);
        }

        // Max-heap on count; ties: smaller pair first (as Hugging Face's trainer).
        var heap = new PriorityQueue<(int, int), (long NegCount, int A, int B)>();
        foreach (var (pair, count) in pairCounts)
        {
            heap.Enqueue(pair, (-count, pair.Item1, pair.Item2));
        }

        var merges = new List<(int, int)>();
        int targetMerges = _options.VocabularySize - specials.Count - 256;
        var changed = new HashSet<(int, int)>();
        while (merges.Count < targetMerges && heap.TryDequeue(out var pair, out var priority))
        {
            ct.ThrowIfCancellationRequested();
            long current = pairCounts.GetValueOrDefault(pair);
            if (current != -priority.NegCount)
            {
                continue; // stale entry
            }

            if (current < _options.MinFrequency)
            {
                break;
            }

            int newId = byteBase + tokens.Count;
            tokens.Add(tokens[pair.Item1 - byteBase] + tokens[pair.Item2 - byteBase]);
            merges.Add(pair);
            changed.Clear();
            foreach (int w in where[pair].ToArray())
            {
                int[] word = words[w];
                if (!Contains(word, pair))
                {
                    continue;
                }

                RemovePairs(word, counts[w], pairCounts, changed);
                int[] merged = MergeWord(word, pair, newId);
                words[w] = merged;
                AddPairs(merged, counts[w], w, pairCounts, where, changed);
            }

            where.Remove(pair);
            foreach (var p in changed)
            {
                long c = pairCounts.GetValueOrDefault(p);
                if (c > 0)
                {
                    heap.Enqueue(p, (-c, p.Item1, p.Item2));
                }
            }
        }

        return (tokens, merges);
    }

    private static void AddPairs(int[] word, int count, int index, Dictionary<(int, int), long> pairCounts, Dictionary<(int, int), HashSet<int>> where, HashSet<(int, int)>? changed)
    {
        for (int i = 0; i + 1 < word.Length; i++)
        {
            var p = (word[i], word[i + 1]);
            pairCounts[p] = pairCounts.GetValueOrDefault(p) + count;
            if (!where.TryGetValue(p, out var set))
            {
                where[p] = set = [];
            }

            set.Add(index);
            changed?.Add(p);
        }
    }

    private static void RemovePairs(int[] word, int count, Dictionary<(int, int), long> pairCounts, HashSet<(int, int)> changed)
    {
        for (int i = 0; i + 1 < word.Length; i++)
        {
            var p = (word[i], word[i + 1]);
            pairCounts[p] -= count;
            changed.Add(p);
        }
    }

    private static bool Contains(int[] word, (int A, int B) pair)
    {
        for (int i = 0; i + 1 < word.Length; i++)
        {
            if (word[i] == pair.A && word[i + 1] == pair.B)
            {
                return true;
            }
        }

        return false;
    }

    private static int[] MergeWord(int[] word, (int A, int B) pair, int newId)
    {
        var result = new List<int>(word.Length);
        for (int i = 0; i < word.Length; i++)
        {
            if (i + 1 < word.Length && word[i] == pair.A && word[i + 1] == pair.B)
            {
                result.Add(newId);
                i++;
            }
            else
            {
                result.Add(word[i]);
            }
        }

        return [.. result];
    }

    /// <summary>The pieces of <paramref name="text"/> with every ASCII digit on its own, as the <c>Digits</c> pre-tokenizer splits.</summary>
    private static IEnumerable<string> SplitDigitPieces(string text)
    {
        int start = 0;
        for (int i = 0; i < text.Length; i++)
        {
            if (char.IsAsciiDigit(text[i]))
            {
                if (i > start)
                {
                    yield return text[start..i];
                }

                yield return text[i].ToString();
                start = i + 1;
            }
        }

        if (start < text.Length)
        {
            yield return text[start..];
        }
    }

    private static readonly JsonWriterOptions s_writerOptions = new() { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static void WriteJson(string path, Action<Utf8JsonWriter> write) =>
        AtomicFile.Write(path, stream =>
        {
            using var writer = new Utf8JsonWriter(stream, s_writerOptions);
            write(writer);
        });

    private static void WriteByteLevelPreTokenizer(Utf8JsonWriter w)
    {
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", false);
        w.WriteBoolean("trim_offsets", true);
        w.WriteBoolean("use_regex", true);
    }

    private void WriteTokenizerJson(Utf8JsonWriter w, List<string> specials, List<string> tokens, List<(int A, int B)> merges)
    {
        int byteBase = specials.Count;
        w.WriteStartObject();
        w.WriteString("version", "1.0");
        w.WriteNull("truncation");
        w.WriteNull("padding");
        w.WriteStartArray("added_tokens");
        for (int i = 0; i < specials.Count; i++)
        {
            w.WriteStartObject();
            w.WriteNumber("id", i);
            w.WriteString("content", specials[i]);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("normalized", false);
            w.WriteBoolean("special", true);
            w.WriteEndObject();
        }

        w.WriteEndArray();
        w.WriteNull("normalizer");
        w.WriteStartObject("pre_tokenizer");
        if (_options.SplitDigits)
        {
            w.WriteString("type", "Sequence");
            w.WriteStartArray("pretokenizers");
            w.WriteStartObject();
            w.WriteString("type", "Digits");
            w.WriteBoolean("individual_digits", true);
            w.WriteEndObject();
            w.WriteStartObject();
            WriteByteLevelPreTokenizer(w);
            w.WriteEndObject();
            w.WriteEndArray();
        }
        else
        {
            WriteByteLevelPreTokenizer(w);
        }

        w.WriteEndObject();

        // Post-processor: BOS/EOS as configured, so Hugging Face tokenizers adds the same special tokens.
        w.WriteStartObject("post_processor");
        w.WriteString("type", "TemplateProcessing");
        foreach (string kind in new[] { "single", "pair" })
        {
            w.WriteStartArray(kind);
            foreach (string seq in kind == "single" ? ["A"] : new[] { "A", "B" })
            {
                if (_options.AddBosToken)
                {
                    WriteTemplateSpecial(w, _options.BosToken!);
                }

                w.WriteStartObject();
                w.WriteStartObject("Sequence");
                w.WriteString("id", seq);
                w.WriteNumber("type_id", seq == "A" ? 0 : 1);
                w.WriteEndObject();
                w.WriteEndObject();
                if (_options.AddEosToken)
                {
                    WriteTemplateSpecial(w, _options.EosToken!);
                }
            }

            w.WriteEndArray();
        }

        w.WriteStartObject("special_tokens");
        foreach (string? t in new[] { _options.AddBosToken ? _options.BosToken : null, _options.AddEosToken ? _options.EosToken : null })
        {
            if (t is not null)
            {
                w.WriteStartObject(t);
                w.WriteString("id", t);
                w.WriteStartArray("ids");
                w.WriteNumberValue(specials.IndexOf(t));
                w.WriteEndArray();
                w.WriteStartArray("tokens");
                w.WriteStringValue(t);
                w.WriteEndArray();
                w.WriteEndObject();
            }
        }

        w.WriteEndObject();
        w.WriteEndObject();

        w.WriteStartObject("decoder");
        w.WriteString("type", "ByteLevel");
        w.WriteBoolean("add_prefix_space", true);
        w.WriteBoolean("trim_offsets", true);
        w.WriteBoolean("use_regex", true);
        w.WriteEndObject();

        w.WriteStartObject("model");
        w.WriteString("type", "BPE");
        w.WriteNull("dropout");
        w.WriteNull("unk_token");
        w.WriteNull("continuing_subword_prefix");
        w.WriteNull("end_of_word_suffix");
        w.WriteBoolean("fuse_unk", false);
        w.WriteBoolean("byte_fallback", false);
        w.WriteBoolean("ignore_merges", false);
        w.WriteStartObject("vocab");
        for (int i = 0; i < tokens.Count; i++)
        {
            w.WriteNumber(tokens[i], byteBase + i);
        }

        w.WriteEndObject();
        w.WriteStartArray("merges");
        foreach (var (a, b) in merges)
        {
            w.WriteStringValue(tokens[a - byteBase] + " " + tokens[b - byteBase]);
        }

        w.WriteEndArray();
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private static void WriteTemplateSpecial(Utf8JsonWriter w, string token)
    {
        w.WriteStartObject();
        w.WriteStartObject("SpecialToken");
        w.WriteString("id", token);
        w.WriteNumber("type_id", 0);
        w.WriteEndObject();
        w.WriteEndObject();
    }

    private void WriteConfig(Utf8JsonWriter w, List<string> specials)
    {
        w.WriteStartObject();
        w.WriteBoolean("add_bos_token", _options.AddBosToken);
        w.WriteBoolean("add_eos_token", _options.AddEosToken);
        WriteOptional(w, "bos_token", _options.BosToken);
        WriteOptional(w, "eos_token", _options.EosToken);
        WriteOptional(w, "pad_token", _options.PadToken);
        WriteOptional(w, "unk_token", _options.UnkToken);
        w.WriteBoolean("clean_up_tokenization_spaces", false);
        w.WriteString("tokenizer_class", "PreTrainedTokenizerFast");
        w.WriteStartObject("added_tokens_decoder");
        for (int i = 0; i < specials.Count; i++)
        {
            w.WriteStartObject(i.ToString(System.Globalization.CultureInfo.InvariantCulture));
            w.WriteString("content", specials[i]);
            w.WriteBoolean("lstrip", false);
            w.WriteBoolean("normalized", false);
            w.WriteBoolean("rstrip", false);
            w.WriteBoolean("single_word", false);
            w.WriteBoolean("special", true);
            w.WriteEndObject();
        }

        w.WriteEndObject();
        if (_options.ChatTemplate is not null)
        {
            w.WriteString("chat_template", _options.ChatTemplate);
        }

        w.WriteEndObject();
    }

    private static void WriteOptional(Utf8JsonWriter w, string name, string? value)
    {
        if (value is null)
        {
            w.WriteNull(name);
        }
        else
        {
            w.WriteString(name, value);
        }
    }
}

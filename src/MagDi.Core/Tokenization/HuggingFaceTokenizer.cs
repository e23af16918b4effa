using System.Text;
using System.Text.RegularExpressions;

namespace MagDi.Tokenization;

/// <summary>
/// A BPE tokenizer assembled from a Hugging Face <c>tokenizer.json</c> (or GPT-2 <c>vocab.json</c> + <c>merges.txt</c>):
/// added tokens are matched first and never split, every other segment runs through the normalizer, the
/// pre-tokenizer and the BPE model; decoding runs the decoder chain. Create it with <see cref="TokenizerLoader.Load(string)"/>.
/// </summary>
public sealed class HuggingFaceTokenizer : ITextTokenizer, IChatTemplateProvider
{
    private readonly BpeModel _model;
    private readonly string?[] _idToToken;
    private readonly Dictionary<string, int> _tokenToId;
    private readonly Dictionary<string, AddedToken> _addedByContent;
    private readonly AddedToken[] _addedInMatchOrder;
    private readonly Regex? _addedRegex;
    private readonly HashSet<int> _specialIds;
    private readonly TextNormalizer? _normalizer;
    private readonly PreTokenizer? _preTokenizer;
    private readonly TokenDecoder? _decoder;
    private readonly int[] _prefixIds;
    private readonly int[] _suffixIds;
    private readonly Regex? _byteLevelRegex;
    private readonly int _sentencePieceStrip = -1;
    private readonly bool _byteLevelAddPrefixSpace;

    internal HuggingFaceTokenizer(
        string source,
        BpeModel model,
        IReadOnlyList<AddedToken> addedTokens,
        TextNormalizer? normalizer,
        PreTokenizer? preTokenizer,
        TokenDecoder? decoder,
        Func<IReadOnlyDictionary<string, int>, (SpecialTokens Special, int[] Prefix, int[] Suffix)> specials,
        string? chatTemplate)
    {
        Source = source;
        _model = model;
        _normalizer = normalizer;
        _preTokenizer = preTokenizer;
        _decoder = decoder;
        ChatTemplate = chatTemplate;

        _tokenToId = new Dictionary<string, int>(model.Vocab, StringComparer.Ordinal);
        _addedByContent = new Dictionary<string, AddedToken>(StringComparer.Ordinal);
        _specialIds = [];
        int maxId = model.Vocab.Count == 0 ? -1 : model.Vocab.Values.Max();
        foreach (var token in addedTokens)
        {
            if (token.Content.Length == 0)
            {
                throw new InvalidDataException($"{source}: added token {token.Id} has empty content.");
            }

            _tokenToId[token.Content] = token.Id;
            _addedByContent[token.Content] = token;
            maxId = Math.Max(maxId, token.Id);
            if (token.Special)
            {
                _specialIds.Add(token.Id);
            }
        }

        if (maxId >= TokenizerLimits.MaxVocabularySize)
        {
            // The readers check every id; this guards tokenizers built in code, before the id table is allocated.
            throw new InvalidDataException($"{source}: token id {maxId} is outside the supported range 0..{TokenizerLimits.MaxVocabularySize - 1}.");
        }

        _idToToken = new string?[maxId + 1];
        foreach (var (token, id) in model.Vocab)
        {
            _idToToken[id] = token;
        }

        foreach (var token in addedTokens)
        {
            _idToToken[token.Id] = token.Content;
        }

        // Longest first, so the alternation finds the longest added token at the leftmost position.
        _addedInMatchOrder = [.. _addedByContent.Values.OrderByDescending(t => t.Content.Length).ThenBy(t => t.Content, StringComparer.Ordinal)];
        if (_addedInMatchOrder.Length > 0)
        {
            var pattern = new StringBuilder();
            foreach (var token in _addedInMatchOrder)
            {
                if (pattern.Length > 0)
                {
                    pattern.Append('|');
                }

                pattern.Append('(')
                    .Append(token.LStrip ? @"\s*" : string.Empty)
                    .Append(token.SingleWord ? @"(?<!\w)" : string.Empty)
                    .Append(Regex.Escape(token.Content))
                    .Append(token.SingleWord ? @"(?!\w)" : string.Empty)
                    .Append(token.RStrip ? @"\s*" : string.Empty)
                    .Append(')');
            }

            _addedRegex = new Regex(pattern.ToString(), RegexOptions.CultureInvariant | RegexOptions.Compiled);
        }

        (Special, _prefixIds, _suffixIds) = specials(_tokenToId);

        // Fast path for the usual byte-level pipelines (GPT-2: ByteLevel with its regex; Qwen, Llama-3: Split regex
        // then ByteLevel without regex): split, map to byte-level characters and look up the BPE cache without
        // allocating a string per pre-token. Same result as the general path.
        switch (preTokenizer)
        {
            case ByteLevelPreTokenizer { UseRegex: true } byteLevel:
                _byteLevelRegex = ByteLevel.Gpt2Regex;
                _byteLevelAddPrefixSpace = byteLevel.AddPrefixSpace;
                break;
            case SequencePreTokenizer { Steps: [SplitPreTokenizer { Behavior: SplitBehavior.Isolated, Invert: false } split, ByteLevelPreTokenizer { UseRegex: false, AddPrefixSpace: false }] }:
                _byteLevelRegex = split.Regex;
                break;
        }

        // Fast path for the SentencePiece-style decoder chain Replace("▁" -> " "), ByteFallback, Fuse, Strip(" ", n, 0).
        if (decoder is SequenceDecoder { Steps: [ReplaceDecoder { Pattern: "\u2581", Content: " " }, ByteFallbackDecoder, FuseDecoder, StripDecoder { Content: ' ', Stop: 0 } strip] })
        {
            _sentencePieceStrip = strip.Start;
        }
        VocabularySize = maxId + 1;
    }

    /// <summary>The file (or folder) this tokenizer was loaded from, for error messages.</summary>
    public string Source { get; }

    /// <inheritdoc />
    public int VocabularySize { get; }

    /// <inheritdoc />
    public SpecialTokens Special { get; }

    /// <inheritdoc />
    public string? ChatTemplate { get; }

    /// <inheritdoc />
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 4);
        if (addSpecialTokens)
        {
            ids.AddRange(_prefixIds);
        }

        EncodeInto(text, continuation: false, ids);
        if (addSpecialTokens)
        {
            ids.AddRange(_suffixIds);
        }

        return ids;
    }

    /// <summary>
    /// Encodes text that continues earlier text (for example a target after its prompt): no prefix space or "▁" is
    /// added at its start, so <c>Encode(a) + EncodeContinuation(b)</c> equals <c>Encode(a + b)</c> whenever the
    /// boundary between a and b is a pre-tokenization boundary.
    /// </summary>
    internal IReadOnlyList<int> EncodeContinuation(string text)
    {
        var ids = new List<int>(text.Length / 3 + 4);
        EncodeInto(text, continuation: true, ids);
        return ids;
    }

    /// <inheritdoc />
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var tokens = new List<string>();
        foreach (int id in ids)
        {
            string token = IdToToken(id) ?? throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is not in the vocabulary of {Source} (size {VocabularySize}).");
            if (skipSpecialTokens && _specialIds.Contains(id))
            {
                continue;
            }

            tokens.Add(token);
        }

        if (_sentencePieceStrip >= 0)
        {
            return DecodeSentencePiece(tokens, _sentencePieceStrip);
        }

        return _decoder is null ? string.Join(' ', tokens) : string.Concat(_decoder.Decode(tokens));
    }

    private static string DecodeSentencePiece(List<string> tokens, int strip)
    {
        var sb = new StringBuilder();
        var bytes = new List<byte>();
        foreach (string token in tokens)
        {
            if (ByteFallbackDecoder.TryParseByte(token, out byte b))
            {
                bytes.Add(b);
                continue;
            }

            ByteFallbackDecoder.AppendBytes(bytes, sb);
            foreach (char c in token)
            {
                sb.Append(c == '\u2581' ? ' ' : c);
            }
        }

        ByteFallbackDecoder.AppendBytes(bytes, sb);
        int from = 0;
        while (from < strip && from < sb.Length && sb[from] == ' ')
        {
            from++;
        }

        return sb.ToString(from, sb.Length - from);
    }

    /// <inheritdoc />
    public string? IdToToken(int id) => id >= 0 && id < _idToToken.Length ? _idToToken[id] : null;

    /// <inheritdoc />
    public int? TokenToId(string token) => _tokenToId.TryGetValue(token, out int id) ? id : null;

    private void EncodeInto(string text, bool continuation, List<int> ids)
    {
        ThrowOnUnpairedSurrogate(text);
        if (_addedRegex is null)
        {
            EncodeSegment(text, new SegmentContext(!continuation, !continuation), ids);
            return;
        }

        int last = 0;
        foreach (Match m in _addedRegex.Matches(text))
        {
            if (m.Index > last)
            {
                EncodeSegment(text[last..m.Index], Context(last), ids);
            }

            for (int g = 1; g < m.Groups.Count; g++)
            {
                if (m.Groups[g].Success)
                {
                    ids.Add(_addedInMatchOrder[g - 1].Id);
                    break;
                }
            }

            last = m.Index + m.Length;
        }

        if (last < text.Length)
        {
            EncodeSegment(text[last..], Context(last), ids);
        }

        SegmentContext Context(int offset) => new(AllowPrefix: !(continuation && offset == 0), IsFirst: !continuation && offset == 0);
    }

    /// <summary>Text with an unpaired UTF-16 surrogate has no UTF-8 form; reject it rather than tokenize a replacement character.</summary>
    private static void ThrowOnUnpairedSurrogate(string text)
    {
        int i = text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF');
        if (i < 0)
        {
            return;
        }

        for (; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                throw new ArgumentException($"The text has an unpaired UTF-16 surrogate U+{(int)text[i]:X4} at index {i}; it cannot be encoded as UTF-8.", nameof(text));
            }
        }
    }

    private void EncodeSegment(string segment, SegmentContext context, List<int> ids)
    {
        string normalized = _normalizer?.Normalize(segment, context) ?? segment;
        if (normalized.Length == 0)
        {
            return;
        }

        if (_preTokenizer is null)
        {
            _model.Encode(normalized, ids);
            return;
        }

        if (_byteLevelRegex is not null)
        {
            EncodeByteLevel(normalized, context, ids);
            return;
        }

        var pieces = new List<string> { normalized };
        _preTokenizer.PreTokenize(pieces, context);
        foreach (string piece in pieces)
        {
            _model.Encode(piece, ids);
        }
    }

    private void EncodeByteLevel(string text, SegmentContext context, List<int> ids)
    {
        if (_byteLevelAddPrefixSpace && context.AllowPrefix && !text.StartsWith(' '))
        {
            text = " " + text;
        }

        char[] buffer = System.Buffers.ArrayPool<char>.Shared.Rent(256);
        try
        {
            int last = 0;
            foreach (var (index, length) in CodePointRegex.Matches(_byteLevelRegex!, text))
            {
                if (index > last)
                {
                    EncodeBytes(text.AsSpan(last, index - last), ref buffer, ids);
                }

                EncodeBytes(text.AsSpan(index, length), ref buffer, ids);
                last = index + length;
            }

            if (last < text.Length)
            {
                EncodeBytes(text.AsSpan(last), ref buffer, ids);
            }
        }
        finally
        {
            System.Buffers.ArrayPool<char>.Shared.Return(buffer);
        }
    }

    private void EncodeBytes(ReadOnlySpan<char> piece, ref char[] buffer, List<int> ids)
    {
        int needed = Encoding.UTF8.GetMaxByteCount(piece.Length);
        if (needed > buffer.Length)
        {
            System.Buffers.ArrayPool<char>.Shared.Return(buffer);
            buffer = System.Buffers.ArrayPool<char>.Shared.Rent(needed);
        }

        int n = ByteLevel.Encode(piece, buffer);
        _model.Encode(buffer.AsSpan(0, n), ids);
    }
}

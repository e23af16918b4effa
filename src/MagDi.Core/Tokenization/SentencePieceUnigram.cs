using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace MagDi.Tokenization;

/// <summary>The piece types of a SentencePiece model (<c>ModelProto.SentencePiece.Type</c>).</summary>
internal enum SentencePieceType
{
    Normal = 1,
    Unknown = 2,
    Control = 3,
    UserDefined = 4,
    Unused = 5,
    Byte = 6,
}

/// <summary>One piece of a SentencePiece model.</summary>
internal sealed record SentencePiece(string Text, float Score, SentencePieceType Type);

/// <summary>
/// SentencePiece's Unigram segmentation, as the C++ library encodes and decodes (<c>unigram_model.cc</c>
/// <c>EncodeOptimized</c>, <c>sentencepiece_processor.cc</c>): the normalized text is split into the pieces with the
/// highest total score by a Viterbi pass over code points (a user-defined piece always wins; a character without a
/// one-character piece becomes the unknown piece at min_score - 10), and with byte fallback every unknown character is
/// written as the <c>&lt;0xNN&gt;</c> pieces of its UTF-8 bytes, looked up by their text.
/// </summary>
/// <remarks>
/// Own implementation because Microsoft.ML.Tokenizers 2.0.1 maps byte-fallback bytes to the wrong ids (it offsets them
/// from the last byte piece instead of <c>&lt;0x00&gt;</c>, so <c>&lt;0x0A&gt;</c>, id 13, became id 268). The scores are
/// summed in float with user-defined scores in double, as the C++ code does, so ties resolve identically.
/// </remarks>
internal sealed class SentencePieceUnigram
{
    private const float UnknownPenalty = 10f;

    private readonly SentencePiece[] _pieces;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _lookup;
    private readonly int _maxPieceLength;
    private readonly float _maxScore;
    private readonly float _unknownScore;
    private readonly int[] _byteIds = new int[256];

    public SentencePieceUnigram(string source, IReadOnlyList<SentencePiece> pieces, int unknownId, bool byteFallback, SentencePieceNormalizer normalizer, string unknownSurface)
    {
        Source = source;
        _pieces = [.. pieces];
        UnknownId = unknownId;
        ByteFallback = byteFallback;
        Normalizer = normalizer;
        UnknownSurface = unknownSurface;
        var lookup = new Dictionary<string, int>(StringComparer.Ordinal);
        var byText = new Dictionary<string, int>(StringComparer.Ordinal);
        float min = float.MaxValue;
        float max = 1.17549435E-38f; // FLT_MIN, the C++ code's starting value: with only negative scores it stays there.
        for (int id = 0; id < _pieces.Length; id++)
        {
            SentencePiece piece = _pieces[id];
            byText.TryAdd(piece.Text, id);
            if (piece.Type is SentencePieceType.Normal or SentencePieceType.UserDefined)
            {
                lookup[piece.Text] = id;
                _maxPieceLength = Math.Max(_maxPieceLength, piece.Text.Length);
            }

            if (piece.Type == SentencePieceType.Normal)
            {
                min = Math.Min(min, piece.Score);
                max = Math.Max(max, piece.Score);
            }
        }

        _lookup = lookup.GetAlternateLookup<ReadOnlySpan<char>>();
        _maxScore = max;
        _unknownScore = (min == float.MaxValue ? 0f : min) - UnknownPenalty;
        for (int b = 0; b < 256; b++)
        {
            _byteIds[b] = byText.TryGetValue($"<0x{b:X2}>", out int id) ? id : unknownId;
        }
    }

    /// <summary>The model file, for error messages.</summary>
    public string Source { get; }

    /// <summary>The pieces by id.</summary>
    public IReadOnlyList<SentencePiece> Pieces => _pieces;

    /// <summary>The id of the unknown piece.</summary>
    public int UnknownId { get; }

    /// <summary>Whether unknown characters become their UTF-8 byte pieces.</summary>
    public bool ByteFallback { get; }

    /// <summary>The model's normalizer.</summary>
    public SentencePieceNormalizer Normalizer { get; }

    /// <summary>What decoding writes for the unknown piece (<c>trainer_spec.unk_surface</c>, " ⁇ " by default).</summary>
    public string UnknownSurface { get; }

    /// <summary>Appends the ids of <paramref name="text"/> (normalized here) to <paramref name="ids"/>.</summary>
    public void Encode(string text, List<int> ids)
    {
        string normalized = Normalizer.Normalize(text);
        int n = normalized.Length;
        if (n == 0)
        {
            return;
        }

        var best = ArrayPool<Node>.Shared.Rent(n + 1);
        try
        {
            Array.Fill(best, new Node(0f, -1, -1), 0, n + 1);
            best[0] = new Node(0f, 0, -1);
            for (int start = 0; start < n;)
            {
                int charLength = char.IsHighSurrogate(normalized[start]) && start + 1 < n && char.IsLowSurrogate(normalized[start + 1]) ? 2 : 1;
                float tillHere = best[start].Score;
                bool hasSingle = false;
                int longest = Math.Min(_maxPieceLength, n - start);
                for (int length = 1; length <= longest; length++)
                {
                    int end = start + length;
                    if (end < n && char.IsLowSurrogate(normalized[end]) && char.IsHighSurrogate(normalized[end - 1]))
                    {
                        continue; // never between the two halves of a pair
                    }

                    if (!_lookup.TryGetValue(normalized.AsSpan(start, length), out int id))
                    {
                        continue;
                    }

                    double score = _pieces[id].Type == SentencePieceType.UserDefined
                        ? (Encoding.UTF8.GetByteCount(normalized.AsSpan(start, length)) * _maxScore) - 0.1
                        : _pieces[id].Score;
                    double candidate = score + tillHere;
                    ref Node target = ref best[end];
                    if (target.Start == -1 || candidate > target.Score)
                    {
                        target = new Node((float)candidate, start, id);
                    }

                    hasSingle |= length == charLength;
                }

                if (!hasSingle)
                {
                    float candidate = _unknownScore + tillHere;
                    ref Node target = ref best[start + charLength];
                    if (target.Start == -1 || candidate > target.Score)
                    {
                        target = new Node(candidate, start, UnknownId);
                    }
                }

                start += charLength;
            }

            int first = ids.Count;
            Span<byte> utf8 = stackalloc byte[8];
            for (int end = n; end > 0; end = best[end].Start)
            {
                Node node = best[end];
                if (node.Id == UnknownId && ByteFallback)
                {
                    // Reversed below with everything else: push the bytes last to first.
                    int count = Encoding.UTF8.GetBytes(normalized.AsSpan(node.Start, end - node.Start), utf8);
                    for (int b = count - 1; b >= 0; b--)
                    {
                        ids.Add(_byteIds[utf8[b]]);
                    }
                }
                else
                {
                    ids.Add(node.Id);
                }
            }

            ids.Reverse(first, ids.Count - first);
        }
        finally
        {
            ArrayPool<Node>.Shared.Return(best);
        }
    }

    /// <summary>
    /// Decodes pieces as SentencePiece's <c>DecodeIds</c> does: "▁" becomes a space, the dummy-prefix space of the first
    /// piece is dropped, byte pieces are joined into UTF-8 (one U+FFFD per invalid byte), the unknown piece becomes
    /// <see cref="UnknownSurface"/>. Control pieces are dropped when <paramref name="skipControl"/>, else written as their text.
    /// </summary>
    public void Decode(IEnumerable<int> ids, StringBuilder output, bool skipControl, Func<int, string?> extraToken)
    {
        var bytes = new List<byte>();
        bool atStart = true;
        bool stripDummy = Normalizer.AddDummyPrefix || Normalizer.RemoveExtraWhitespaces;
        foreach (int id in ids)
        {
            if (id >= 0 && id < _pieces.Length && _pieces[id].Type == SentencePieceType.Byte && TryParseByte(_pieces[id].Text, out byte value))
            {
                bytes.Add(value);
                continue;
            }

            AppendBytes(bytes, output);
            atStart &= output.Length == 0;
            if (id < 0 || id >= _pieces.Length)
            {
                output.Append(extraToken(id));
                continue;
            }

            SentencePiece piece = _pieces[id];
            switch (piece.Type)
            {
                case SentencePieceType.Control:
                    if (!skipControl)
                    {
                        output.Append(piece.Text);
                    }

                    continue;
                case SentencePieceType.Unknown:
                    output.Append(UnknownSurface);
                    atStart = false;
                    continue;
            }

            ReadOnlySpan<char> text = piece.Text;
            if (atStart && stripDummy && text.StartsWith('\u2581'))
            {
                text = text[1..];
                atStart = false;
            }

            foreach (char c in text)
            {
                output.Append(c == '\u2581' ? ' ' : c);
            }
        }

        AppendBytes(bytes, output);
    }

    private static bool TryParseByte(string text, out byte value) => ByteFallbackDecoder.TryParseByte(text, out value);

    /// <summary>Appends bytes as UTF-8 text character by character; each byte of an invalid sequence becomes U+FFFD.</summary>
    private static void AppendBytes(List<byte> bytes, StringBuilder output)
    {
        ReadOnlySpan<byte> span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(bytes);
        while (!span.IsEmpty)
        {
            if (Rune.DecodeFromUtf8(span, out Rune rune, out int consumed) == OperationStatus.Done)
            {
                output.Append(rune.ToString());
                span = span[consumed..];
            }
            else
            {
                output.Append('\uFFFD');
                span = span[1..];
            }
        }

        bytes.Clear();
    }

    private record struct Node(float Score, int Start, int Id);
}

/// <summary>
/// SentencePiece's normalizer (<c>normalizer.cc</c>): user-defined pieces are copied as they are, everything else is
/// rewritten by the longest matching rule of the precompiled character map (NFKC and whitespace rules for
/// <c>nmt_nfkc</c>; none for <c>identity</c>); leading, trailing and repeated spaces are removed with
/// <c>remove_extra_whitespaces</c>, a "▁" is put in front with <c>add_dummy_prefix</c>, and spaces become "▁" with
/// <c>escape_whitespaces</c>.
/// </summary>
internal sealed class SentencePieceNormalizer
{
    private static readonly byte[] SpaceSymbol = "\u2581"u8.ToArray();
    private static readonly byte[] ReplacementCharacter = "\uFFFD"u8.ToArray();

    private readonly string _source;
    private readonly uint[] _trie;
    private readonly byte[] _normalized;
    private readonly Dictionary<byte, byte[][]> _userDefined;

    public SentencePieceNormalizer(string source, byte[] precompiledCharsMap, bool addDummyPrefix, bool removeExtraWhitespaces, bool escapeWhitespaces, IEnumerable<string> userDefined)
    {
        _source = source;
        AddDummyPrefix = addDummyPrefix;
        RemoveExtraWhitespaces = removeExtraWhitespaces;
        EscapeWhitespaces = escapeWhitespaces;
        if (precompiledCharsMap.Length == 0)
        {
            _trie = [];
            _normalized = [];
        }
        else
        {
            // uint32 size of the Darts-clone double array, the array, then the NUL-terminated replacement strings.
            uint trieBytes = precompiledCharsMap.Length > 4 ? BinaryPrimitives.ReadUInt32LittleEndian(precompiledCharsMap) : uint.MaxValue;
            if (trieBytes >= (uint)(precompiledCharsMap.Length - 4) || trieBytes % 4 != 0)
            {
                throw new InvalidDataException($"{source}: normalizer_spec.precompiled_charsmap is damaged (its trie size {trieBytes} does not fit the {precompiledCharsMap.Length} bytes).");
            }

            _trie = new uint[trieBytes / 4];
            for (int i = 0; i < _trie.Length; i++)
            {
                _trie[i] = BinaryPrimitives.ReadUInt32LittleEndian(precompiledCharsMap.AsSpan(4 + (4 * i)));
            }

            _normalized = precompiledCharsMap[(int)(4 + trieBytes)..];
        }

        _userDefined = userDefined.Select(Encoding.UTF8.GetBytes).Where(b => b.Length > 0)
            .GroupBy(b => b[0]).ToDictionary(g => g.Key, g => g.OrderByDescending(b => b.Length).ToArray());
    }

    public bool AddDummyPrefix { get; }

    public bool RemoveExtraWhitespaces { get; }

    public bool EscapeWhitespaces { get; }

    /// <summary>The normalized text.</summary>
    /// <exception cref="InvalidDataException">The precompiled character map is damaged (it points outside itself).</exception>
    public string Normalize(string text)
    {
        if (text.Length == 0)
        {
            return string.Empty;
        }

        ReadOnlySpan<byte> input = Encoding.UTF8.GetBytes(text);
        if (RemoveExtraWhitespaces)
        {
            while (!input.IsEmpty)
            {
                ReadOnlySpan<byte> piece = NormalizePrefix(input, out int consumed);
                if (!piece.SequenceEqual(" "u8))
                {
                    break;
                }

                input = input[consumed..];
            }
        }

        if (input.IsEmpty)
        {
            return string.Empty;
        }

        var output = new ArrayBufferWriter<byte>(input.Length + 8);
        if (AddDummyPrefix)
        {
            AppendSpace(output);
        }

        bool previousIsSpace = RemoveExtraWhitespaces;
        while (!input.IsEmpty)
        {
            ReadOnlySpan<byte> piece = NormalizePrefix(input, out int consumed);
            if (previousIsSpace)
            {
                piece = piece.TrimStart((byte)' ');
            }

            if (!piece.IsEmpty)
            {
                foreach (byte b in piece)
                {
                    if (EscapeWhitespaces && b == (byte)' ')
                    {
                        output.Write(SpaceSymbol);
                    }
                    else
                    {
                        output.Write([b]);
                    }
                }

                previousIsSpace = piece[^1] == (byte)' ';
            }

            input = input[consumed..];
            if (!RemoveExtraWhitespaces)
            {
                previousIsSpace = false;
            }
        }

        ReadOnlySpan<byte> result = output.WrittenSpan;
        if (RemoveExtraWhitespaces)
        {
            ReadOnlySpan<byte> space = EscapeWhitespaces ? SpaceSymbol : " "u8;
            while (result.EndsWith(space))
            {
                result = result[..^space.Length];
            }
        }

        return Encoding.UTF8.GetString(result);
    }

    private void AppendSpace(ArrayBufferWriter<byte> output) => output.Write(EscapeWhitespaces ? SpaceSymbol : " "u8);

    /// <summary>The normalized form of the longest rule or user-defined piece at the start of <paramref name="input"/>, and (in <paramref name="consumed"/>) how many bytes it consumes.</summary>
    private ReadOnlySpan<byte> NormalizePrefix(ReadOnlySpan<byte> input, out int consumed)
    {
        if (_userDefined.TryGetValue(input[0], out byte[][]? candidates))
        {
            foreach (byte[] symbol in candidates)
            {
                if (input.StartsWith(symbol))
                {
                    consumed = symbol.Length;
                    return input[..symbol.Length];
                }
            }
        }

        if (_trie.Length > 0 && LongestRule(input) is (int length, int value))
        {
            if ((uint)value >= (uint)_normalized.Length)
            {
                throw new InvalidDataException($"{_source}: normalizer_spec.precompiled_charsmap is damaged (a rule points outside its strings).");
            }

            ReadOnlySpan<byte> replacement = _normalized.AsSpan(value);
            int nul = replacement.IndexOf((byte)0);
            consumed = length;
            return nul < 0 ? replacement : replacement[..nul];
        }

        // One UTF-8 character; a malformed byte becomes U+FFFD and consumes one byte.
        if (Rune.DecodeFromUtf8(input, out _, out consumed) == OperationStatus.Done)
        {
            return input[..consumed];
        }

        consumed = 1;
        return ReplacementCharacter;
    }

    /// <summary>Darts-clone's commonPrefixSearch, keeping the longest match: (length, value) or null.</summary>
    private (int Length, int Value)? LongestRule(ReadOnlySpan<byte> key)
    {
        (int, int)? longest = null;
        uint nodePos = 0;
        uint unit = Unit(nodePos);
        nodePos ^= Offset(unit);
        for (int i = 0; i < key.Length; i++)
        {
            nodePos ^= key[i];
            unit = Unit(nodePos);
            if ((unit & ((1u << 31) | 0xFF)) != key[i])
            {
                break;
            }

            nodePos ^= Offset(unit);
            if (((unit >> 8) & 1) == 1)
            {
                longest = (i + 1, (int)(Unit(nodePos) & ((1u << 31) - 1)));
            }
        }

        return longest;
    }

    private uint Unit(uint position) =>
        position < (uint)_trie.Length
            ? _trie[position]
            : throw new InvalidDataException($"{_source}: normalizer_spec.precompiled_charsmap is damaged (its trie points outside itself).");

    private static uint Offset(uint unit) => (unit >> 10) << (int)((unit & (1u << 9)) >> 6);
}

using System.Collections.Concurrent;
using System.Globalization;
using System.Text;

namespace MagDi.Tokenization;

/// <summary>
/// Byte-pair-encoding model with the semantics of Hugging Face <c>tokenizers</c>' <c>BPE</c>: a word is split into
/// Unicode scalar values, unknown scalars become byte-fallback tokens <c>&lt;0xNN&gt;</c> or the (optionally fused)
/// unknown token, and adjacent symbols are merged lowest merge rank first (leftmost first on ties) through a
/// priority queue until no ranked pair is left. Results are cached per word.
/// </summary>
internal sealed class BpeModel
{
    private const int MaxCachedWordLength = 256;
    private const int MaxCacheEntries = 200_000;

    private readonly Dictionary<string, int> _vocab;
    private readonly Dictionary<string, int>.AlternateLookup<ReadOnlySpan<char>> _vocabBySpan;
    private readonly Dictionary<long, (int Rank, int NewId)> _merges;
    private readonly int[] _byteFallbackIds;
    private readonly ConcurrentDictionary<string, int[]> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, int[]>.AlternateLookup<ReadOnlySpan<char>> _cacheBySpan;
    private readonly char? _chunkBefore;

    public BpeModel(
        Dictionary<string, int> vocab,
        IReadOnlyList<(string Left, string Right)> merges,
        string? unkToken,
        bool fuseUnk,
        bool byteFallback,
        bool ignoreMerges,
        string source,
        IReadOnlyList<int>? ranks = null)
    {
        _vocab = vocab;
        _vocabBySpan = vocab.GetAlternateLookup<ReadOnlySpan<char>>();
        _cacheBySpan = _cache.GetAlternateLookup<ReadOnlySpan<char>>();
        _merges = new Dictionary<long, (int, int)>(merges.Count);
        for (int rank = 0; rank < merges.Count; rank++)
        {
            var (left, right) = merges[rank];
            if (!vocab.TryGetValue(left, out int a) || !vocab.TryGetValue(right, out int b))
            {
                throw new InvalidDataException($"{source}: merge {rank} \"{left} {right}\" uses a token that is not in the vocabulary.");
            }

            if (!vocab.TryGetValue(left + right, out int merged))
            {
                throw new InvalidDataException($"{source}: merge {rank} \"{left} {right}\" produces \"{left + right}\", which is not in the vocabulary.");
            }

            // The first occurrence of a pair wins, as in tokenizers. Explicit ranks may repeat (SentencePiece: every
            // pair forming the same piece has that piece's rank; ties resolve leftmost first).
            _merges.TryAdd(Key(a, b), (ranks?[rank] ?? rank, merged));
        }

        if (unkToken is not null)
        {
            if (!vocab.TryGetValue(unkToken, out int unk))
            {
                throw new InvalidDataException($"{source}: unk_token \"{unkToken}\" is not in the vocabulary.");
            }

            UnkId = unk;
        }

        FuseUnk = fuseUnk;
        ByteFallback = byteFallback;
        IgnoreMerges = ignoreMerges;
        _byteFallbackIds = new int[256];
        for (int b = 0; b < 256; b++)
        {
            _byteFallbackIds[b] = vocab.TryGetValue(ByteToken(b), out int id) ? id : -1;
        }

        // SentencePiece-style vocabularies only have "▁" at the start of a piece, so no merge can join a
        // non-"▁" character with a following "▁": the text can be cut before such a "▁" and each chunk
        // encoded (and cached) separately with an identical result. Enabled only if the vocabulary proves it.
        if (vocab.ContainsKey("\u2581") && vocab.Keys.All(static t => t.AsSpan().TrimStart('\u2581').IndexOf('\u2581') < 0))
        {
            _chunkBefore = '\u2581';
        }
    }

    public int? UnkId { get; }

    public bool FuseUnk { get; }

    public bool ByteFallback { get; }

    public bool IgnoreMerges { get; }

    public IReadOnlyDictionary<string, int> Vocab => _vocab;

    public static string ByteToken(int b) => string.Create(CultureInfo.InvariantCulture, $"<0x{b:X2}>");

    /// <summary>Encodes one pre-tokenized word and appends its ids.</summary>
    public void Encode(ReadOnlySpan<char> word, List<int> output)
    {
        if (word.IsEmpty)
        {
            return;
        }

        if (_chunkBefore is char c && word.Length > 1)
        {
            int start = 0;
            for (int i = 1; i < word.Length; i++)
            {
                if (word[i] == c && word[i - 1] != c)
                {
                    EncodeCached(word[start..i], output);
                    start = i;
                }
            }

            EncodeCached(word[start..], output);
            return;
        }

        EncodeCached(word, output);
    }

    private void EncodeCached(ReadOnlySpan<char> word, List<int> output)
    {
        if (_cacheBySpan.TryGetValue(word, out int[]? cached))
        {
            output.AddRange(cached);
            return;
        }

        string key = word.ToString();
        int[] ids = EncodeWord(key);
        if (key.Length <= MaxCachedWordLength)
        {
            if (_cache.Count >= MaxCacheEntries)
            {
                _cache.Clear();
            }

            _cache.TryAdd(key, ids);
        }

        output.AddRange(ids);
    }

    private int[] EncodeWord(string word)
    {
        if (IgnoreMerges && _vocab.TryGetValue(word, out int whole))
        {
            return [whole];
        }

        // Initial symbols: one per Unicode scalar value (byte fallback may turn one scalar into several symbols).
        var ids = new List<int>(word.Length);
        bool lastWasUnk = false;
        Span<byte> utf8 = stackalloc byte[4];
        for (int i = 0; i < word.Length;)
        {
            int width = char.IsHighSurrogate(word[i]) && i + 1 < word.Length && char.IsLowSurrogate(word[i + 1]) ? 2 : 1;
            ReadOnlySpan<char> scalar = word.AsSpan(i, width);
            i += width;
            if (_vocabBySpan.TryGetValue(scalar, out int id))
            {
                ids.Add(id);
                lastWasUnk = false;
                continue;
            }

            if (ByteFallback)
            {
                int n = Encoding.UTF8.GetBytes(scalar, utf8);
                bool all = true;
                for (int k = 0; k < n; k++)
                {
                    all &= _byteFallbackIds[utf8[k]] >= 0;
                }

                if (all)
                {
                    for (int k = 0; k < n; k++)
                    {
                        ids.Add(_byteFallbackIds[utf8[k]]);
                    }

                    lastWasUnk = false;
                    continue;
                }
            }

            if (UnkId is not int unk)
            {
                throw new ArgumentException(
                    $"The character U+{char.ConvertToUtf32(scalar.ToString(), 0):X4} is not in the vocabulary, which has neither byte fallback nor an unknown token.",
                    nameof(word));
            }

            if (!(FuseUnk && lastWasUnk))
            {
                ids.Add(unk);
            }

            lastWasUnk = true;
        }

        return ids.Count switch
        {
            0 => [],
            1 => [ids[0]],
            _ => Merge(ids),
        };
    }

    private int[] Merge(List<int> initial)
    {
        int n = initial.Count;
        int[] id = initial.ToArray();
        int[] prev = new int[n];
        int[] next = new int[n];
        bool[] dead = new bool[n];
        for (int i = 0; i < n; i++)
        {
            prev[i] = i - 1;
            next[i] = i + 1 < n ? i + 1 : -1;
        }

        // Element: position; priority: (rank, position) so ties resolve leftmost first.
        var queue = new PriorityQueue<(int Pos, int NewId), long>(n);
        for (int i = 0; i + 1 < n; i++)
        {
            if (_merges.TryGetValue(Key(id[i], id[i + 1]), out var m))
            {
                queue.Enqueue((i, m.NewId), Priority(m.Rank, i));
            }
        }

        int alive = n;
        while (queue.TryDequeue(out var top, out _))
        {
            int pos = top.Pos;
            if (dead[pos] || next[pos] < 0)
            {
                continue;
            }

            int right = next[pos];

            // Skip stale entries: the pair at pos changed since it was queued.
            if (!_merges.TryGetValue(Key(id[pos], id[right]), out var current) || current.NewId != top.NewId)
            {
                continue;
            }

            id[pos] = current.NewId;
            dead[right] = true;
            alive--;
            next[pos] = next[right];
            if (next[pos] >= 0)
            {
                prev[next[pos]] = pos;
            }

            if (prev[pos] >= 0 && _merges.TryGetValue(Key(id[prev[pos]], id[pos]), out var before))
            {
                queue.Enqueue((prev[pos], before.NewId), Priority(before.Rank, prev[pos]));
            }

            if (next[pos] >= 0 && _merges.TryGetValue(Key(id[pos], id[next[pos]]), out var after))
            {
                queue.Enqueue((pos, after.NewId), Priority(after.Rank, pos));
            }
        }

        int[] result = new int[alive];
        for (int i = 0, k = 0; i >= 0 && k < alive; i = next[i])
        {
            result[k++] = id[i];
        }

        return result;
    }

    private static long Key(int a, int b) => ((long)a << 32) | (uint)b;

    private static long Priority(int rank, int pos) => ((long)rank << 32) | (uint)pos;
}

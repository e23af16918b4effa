using System.Text;
using System.Text.RegularExpressions;

namespace MagDi.Tokenization;

/// <summary>
/// A SentencePiece Unigram <c>tokenizer.model</c>, run by MagDi's port of SentencePiece's own Unigram encoder,
/// normalizer (precompiled character maps such as <c>nmt_nfkc</c>, or <c>identity</c>) and decoder, byte fallback
/// included (BPE models such as Llama-2's and Mistral's run on MagDi's BPE engine instead). Special tokens and
/// add_bos/add_eos come from <c>tokenizer_config.json</c> when present, otherwise from the model (BOS added, EOS not,
/// as SentencePiece does); special tokens of <c>tokenizer_config.json</c> are matched in the text and never split.
/// </summary>
public sealed class SentencePieceTokenizerAdapter : ITextTokenizer, IChatTemplateProvider
{
    private readonly SentencePieceUnigram _model;
    private readonly string?[] _idToToken;
    private readonly Dictionary<string, int> _tokenToId;
    private readonly HashSet<int> _specialIds = [];
    private readonly Regex? _specialRegex;
    private readonly Dictionary<string, int> _specialByContent = new(StringComparer.Ordinal);

    internal SentencePieceTokenizerAdapter(string path, SentencePieceUnigram model, TokenizerConfig config, string? bosPiece, string? eosPiece, string? padPiece, string unkPiece)
    {
        Source = path;
        _model = model;
        int maxId = model.Pieces.Count - 1;
        foreach (var t in config.AddedTokens)
        {
            maxId = Math.Max(maxId, t.Id);
        }

        _idToToken = new string?[maxId + 1];
        _tokenToId = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int id = 0; id < model.Pieces.Count; id++)
        {
            _idToToken[id] = model.Pieces[id].Text;
            _tokenToId.TryAdd(model.Pieces[id].Text, id);
            if (model.Pieces[id].Type == SentencePieceType.Control)
            {
                _specialIds.Add(id);
            }
        }

        foreach (var t in config.AddedTokens)
        {
            if (t.Content.Length == 0)
            {
                throw new InvalidDataException($"{path}: added token {t.Id} has empty content.");
            }

            _idToToken[t.Id] = t.Content;
            _tokenToId[t.Content] = t.Id;
            if (t.Special)
            {
                _specialIds.Add(t.Id);
                _specialByContent[t.Content] = t.Id;
            }
        }

        if (_specialByContent.Count > 0)
        {
            // Longest first, so the alternation finds the longest special token at the leftmost position.
            _specialRegex = new Regex(
                string.Join('|', _specialByContent.Keys.OrderByDescending(k => k.Length).ThenBy(k => k, StringComparer.Ordinal).Select(Regex.Escape)),
                RegexOptions.CultureInvariant);
        }

        VocabularySize = maxId + 1;
        string? bos = config.BosToken ?? bosPiece;
        string? eos = config.EosToken ?? eosPiece;
        string? pad = config.PadToken ?? padPiece;
        int? Resolve(string? token, string field) =>
            token is null ? null : TokenToId(token) ?? throw new InvalidDataException($"{path}: {field} \"{token}\" is not in the model.");
        Special = new SpecialTokens(
            Resolve(bos, "bos_token"),
            Resolve(eos, "eos_token"),
            Resolve(pad, "pad_token"),
            Resolve(config.UnkToken ?? unkPiece, "unk_token"),
            bos,
            eos,
            pad,
            config.AddBosToken ?? true,
            config.AddEosToken ?? false);
        ChatTemplate = config.ChatTemplate;
    }

    /// <summary>The file this tokenizer was loaded from.</summary>
    public string Source { get; }

    /// <inheritdoc />
    public int VocabularySize { get; }

    /// <inheritdoc />
    public SpecialTokens Special { get; }

    /// <inheritdoc />
    public string? ChatTemplate { get; }

    /// <inheritdoc />
    /// <exception cref="ArgumentException">The text has an unpaired UTF-16 surrogate (it has no UTF-8 form).</exception>
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        ThrowOnUnpairedSurrogate(text);
        var ids = new List<int>(text.Length / 3 + 2);
        if (addSpecialTokens && Special.AddBosToken && Special.BosId is int bos)
        {
            ids.Add(bos);
        }

        if (_specialRegex is null)
        {
            _model.Encode(text, ids);
        }
        else
        {
            // Every stretch between special tokens is normalized and segmented on its own, as SentencePiece would.
            int last = 0;
            foreach (ValueMatch m in _specialRegex.EnumerateMatches(text))
            {
                if (m.Index > last)
                {
                    _model.Encode(text[last..m.Index], ids);
                }

                ids.Add(_specialByContent[text.Substring(m.Index, m.Length)]);
                last = m.Index + m.Length;
            }

            if (last < text.Length)
            {
                _model.Encode(text[last..], ids);
            }
        }

        if (addSpecialTokens && Special.AddEosToken && Special.EosId is int eos)
        {
            ids.Add(eos);
        }

        return ids;
    }

    /// <inheritdoc />
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var list = new List<int>();
        foreach (int id in ids)
        {
            if (IdToToken(id) is null)
            {
                throw new ArgumentOutOfRangeException(nameof(ids), id, $"Token id {id} is not in the vocabulary of {Source} (size {VocabularySize}).");
            }

            if (skipSpecialTokens && _specialIds.Contains(id))
            {
                continue;
            }

            list.Add(id);
        }

        var sb = new StringBuilder();
        _model.Decode(list, sb, skipSpecialTokens, IdToToken);
        return sb.ToString();
    }

    /// <inheritdoc />
    public string? IdToToken(int id) => id >= 0 && id < _idToToken.Length ? _idToToken[id] : null;

    /// <inheritdoc />
    public int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return _tokenToId.TryGetValue(token, out int id) ? id : null;
    }

    private static void ThrowOnUnpairedSurrogate(string text)
    {
        for (int i = text.AsSpan().IndexOfAnyInRange('\uD800', '\uDFFF'); i >= 0 && i < text.Length; i++)
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
}

using Microsoft.ML.Tokenizers;

namespace MagDi.Tokenization;

/// <summary>
/// A SentencePiece Unigram <c>tokenizer.model</c>, run by Microsoft.ML.Tokenizers' <see cref="SentencePieceTokenizer"/>
/// (BPE models such as Llama-2's and Mistral's run on MagDi's own BPE engine instead, which follows SentencePiece's
/// leftmost-first tie-breaking). Special tokens and add_bos/add_eos come from <c>tokenizer_config.json</c> when
/// present, otherwise from the model (BOS added, EOS not, as SentencePiece does).
/// </summary>
public sealed class SentencePieceTokenizerAdapter : ITextTokenizer, IChatTemplateProvider
{
    private readonly SentencePieceTokenizer _inner;
    private readonly string?[] _idToToken;
    private readonly IReadOnlyDictionary<string, int> _vocab;

    internal SentencePieceTokenizerAdapter(string path, TokenizerConfig config)
    {
        Source = path;
        var added = config.AddedTokens.Where(t => t.Special).ToDictionary(t => t.Content, t => t.Id, StringComparer.Ordinal);
        try
        {
            using var stream = File.OpenRead(path);
            _inner = SentencePieceTokenizer.Create(stream, false, false, added.Count > 0 ? added : null);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or FormatException or NotSupportedException)
        {
            throw new NotSupportedException($"{path}: cannot load this SentencePiece model: {e.Message}", e);
        }

        _vocab = _inner.Vocabulary;
        int maxId = _vocab.Count == 0 ? -1 : _vocab.Values.Max();
        foreach (var t in config.AddedTokens)
        {
            maxId = Math.Max(maxId, t.Id);
        }

        _idToToken = new string?[maxId + 1];
        foreach (var (token, id) in _vocab)
        {
            _idToToken[id] = token;
        }

        foreach (var t in config.AddedTokens)
        {
            _idToToken[t.Id] = t.Content;
        }

        VocabularySize = maxId + 1;
        string bos = config.BosToken ?? _inner.BeginningOfSentenceToken;
        string eos = config.EosToken ?? _inner.EndOfSentenceToken;
        Special = new SpecialTokens(
            TokenToId(bos),
            TokenToId(eos),
            config.PadToken is null ? null : TokenToId(config.PadToken) ?? throw new InvalidDataException($"{path}: pad_token \"{config.PadToken}\" is not in the model."),
            TokenToId(config.UnkToken ?? _inner.UnknownToken),
            bos,
            eos,
            config.PadToken,
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
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = false)
    {
        ArgumentNullException.ThrowIfNull(text);
        var ids = new List<int>(text.Length / 3 + 2);
        if (addSpecialTokens && Special.AddBosToken && Special.BosId is int bos)
        {
            ids.Add(bos);
        }

        ids.AddRange(_inner.EncodeToIds(text, addBeginningOfSentence: false, addEndOfSentence: false, considerPreTokenization: true, considerNormalization: true));
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

            list.Add(id);
        }

        return _inner.Decode(list, considerSpecialTokens: !skipSpecialTokens);
    }

    /// <inheritdoc />
    public string? IdToToken(int id) => id >= 0 && id < _idToToken.Length ? _idToToken[id] : null;

    /// <inheritdoc />
    public int? TokenToId(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        if (_vocab.TryGetValue(token, out int id))
        {
            return id;
        }

        int found = Array.IndexOf(_idToToken, token);
        return found >= 0 ? found : null;
    }
}

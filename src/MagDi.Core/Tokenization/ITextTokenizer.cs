namespace MagDi.Tokenization;

/// <summary>
/// A text tokenizer that maps text to token ids and back exactly as the model it belongs to was trained.
/// Obtain one from <see cref="TokenizerLoader.Load(string)"/> (Hugging Face <c>tokenizer.json</c>,
/// SentencePiece <c>tokenizer.model</c> or GPT-2 <c>vocab.json</c> + <c>merges.txt</c>) or train a small one with
/// ByteLevelBpeTrainer. Implementations are immutable and safe to use from several threads.
/// </summary>
public interface ITextTokenizer
{
    /// <summary>Number of ids the model's embedding must cover: the largest id of the vocabulary or of an added token, plus one.</summary>
    int VocabularySize { get; }

    /// <summary>The special tokens (BOS, EOS, PAD, UNK) and whether BOS/EOS are added when encoding with special tokens.</summary>
    SpecialTokens Special { get; }

    /// <summary>Encodes <paramref name="text"/> into token ids.</summary>
    /// <param name="text">The text; added and special tokens written in it (for example <c>&lt;|im_end|&gt;</c>) are matched before the model runs and never split.</param>
    /// <param name="addSpecialTokens">When true, BOS and/or EOS are added as <see cref="SpecialTokens.AddBosToken"/> and <see cref="SpecialTokens.AddEosToken"/> say.</param>
    /// <returns>The token ids.</returns>
    /// <exception cref="ArgumentException">The text has an unpaired UTF-16 surrogate, or a character the vocabulary cannot represent (no byte fallback, no unknown token).</exception>
    IReadOnlyList<int> Encode(string text, bool addSpecialTokens = false);

    /// <summary>Decodes token ids to text. For plain text, <c>Decode(Encode(text)) == text</c>.</summary>
    /// <param name="ids">The token ids.</param>
    /// <param name="skipSpecialTokens">When true, special tokens (BOS, EOS, PAD, chat markers, ...) are left out of the text.</param>
    /// <returns>The text.</returns>
    /// <exception cref="ArgumentOutOfRangeException">An id is outside the vocabulary.</exception>
    string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false);

    /// <summary>The vocabulary string of a token id (for byte-level BPE the byte-level form, for example <c>Ġthe</c>), or null if the id is unknown.</summary>
    /// <param name="id">The token id.</param>
    /// <returns>The token string or null.</returns>
    string? IdToToken(int id);

    /// <summary>The id of a vocabulary or added token string, or null if there is none.</summary>
    /// <param name="token">The token string in vocabulary form.</param>
    /// <returns>The id or null.</returns>
    int? TokenToId(string token);
}

/// <summary>
/// The special tokens of a tokenizer, from <c>tokenizer_config.json</c> where present, otherwise from <c>tokenizer.json</c>.
/// </summary>
public sealed class SpecialTokens
{
    /// <summary>Creates a <see cref="SpecialTokens"/>.</summary>
    /// <param name="bosId">Id of the beginning-of-sequence token, if the tokenizer has one.</param>
    /// <param name="eosId">Id of the end-of-sequence token, if the tokenizer has one.</param>
    /// <param name="padId">Id of the padding token, if the tokenizer has one.</param>
    /// <param name="unkId">Id of the unknown token, if the tokenizer has one.</param>
    /// <param name="bosToken">Text of the beginning-of-sequence token.</param>
    /// <param name="eosToken">Text of the end-of-sequence token.</param>
    /// <param name="padToken">Text of the padding token.</param>
    /// <param name="addBosToken">Whether <see cref="ITextTokenizer.Encode"/> with special tokens prepends BOS.</param>
    /// <param name="addEosToken">Whether <see cref="ITextTokenizer.Encode"/> with special tokens appends EOS.</param>
    public SpecialTokens(int? bosId, int? eosId, int? padId, int? unkId, string? bosToken, string? eosToken, string? padToken, bool addBosToken, bool addEosToken)
    {
        BosId = bosId;
        EosId = eosId;
        PadId = padId;
        UnkId = unkId;
        BosToken = bosToken;
        EosToken = eosToken;
        PadToken = padToken;
        AddBosToken = addBosToken;
        AddEosToken = addEosToken;
    }

    /// <summary>Id of the beginning-of-sequence token, if the tokenizer has one.</summary>
    public int? BosId { get; }

    /// <summary>Id of the end-of-sequence token, if the tokenizer has one.</summary>
    public int? EosId { get; }

    /// <summary>Id of the padding token, if the tokenizer has one.</summary>
    public int? PadId { get; }

    /// <summary>Id of the unknown token, if the tokenizer has one.</summary>
    public int? UnkId { get; }

    /// <summary>Text of the beginning-of-sequence token.</summary>
    public string? BosToken { get; }

    /// <summary>Text of the end-of-sequence token.</summary>
    public string? EosToken { get; }

    /// <summary>Text of the padding token.</summary>
    public string? PadToken { get; }

    /// <summary>Whether <see cref="ITextTokenizer.Encode"/> with special tokens prepends BOS.</summary>
    public bool AddBosToken { get; }

    /// <summary>Whether <see cref="ITextTokenizer.Encode"/> with special tokens appends EOS.</summary>
    public bool AddEosToken { get; }

    /// <summary>No special tokens at all.</summary>
    public static SpecialTokens None { get; } = new(null, null, null, null, null, null, null, false, false);
}

/// <summary>Implemented by tokenizers loaded from a checkpoint whose <c>tokenizer_config.json</c> carries a chat template.</summary>
public interface IChatTemplateProvider
{
    /// <summary>The Jinja chat template from <c>tokenizer_config.json</c>, or null when there is none.</summary>
    string? ChatTemplate { get; }
}

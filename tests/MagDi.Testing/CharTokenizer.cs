using MagDi.Tokenization;

namespace MagDi.Testing;

/// <summary>
/// A character-level tokenizer over printable ASCII with BOS, EOS and PAD: small and exact, enough for real training
/// loops on synthetic data. Other characters encode as <c>?</c>; decoding an id outside the vocabulary throws, as real
/// tokenizers do.
/// </summary>
public sealed class CharTokenizer : ITextTokenizer
{
    /// <summary>The padding id.</summary>
    public const int Pad = 0;

    /// <summary>The beginning-of-sequence id.</summary>
    public const int Bos = 1;

    /// <summary>The end-of-sequence id.</summary>
    public const int Eos = 2;

    private const int Offset = 3;

    /// <summary>The vocabulary size: three special tokens and the 95 printable ASCII characters.</summary>
    public const int Size = Offset + 95;

    /// <inheritdoc />
    public int VocabularySize => Size;

    /// <inheritdoc />
    public SpecialTokens Special { get; } = new(Bos, Eos, Pad, null, "<s>", "</s>", "<pad>", addBosToken: true, addEosToken: false);

    /// <inheritdoc />
    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = false)
    {
        var ids = new List<int>(text.Length + 1);
        if (addSpecialTokens)
        {
            ids.Add(Bos);
        }

        foreach (char c in text)
        {
            ids.Add(c is >= ' ' and <= '~' ? Offset + (c - ' ') : Offset + ('?' - ' '));
        }

        return ids;
    }

    /// <inheritdoc />
    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false) =>
        string.Concat(ids.Select(i => i < 0 || i >= Size
            ? throw new ArgumentOutOfRangeException(nameof(ids), $"Token id {i} is not in the vocabulary.")
            : i)
            .Where(i => i >= Offset).Select(i => (char)(' ' + i - Offset)));

    /// <inheritdoc />
    public string? IdToToken(int id) => id switch
    {
        Pad => "<pad>",
        Bos => "<s>",
        Eos => "</s>",
        >= Offset and < Size => ((char)(' ' + id - Offset)).ToString(),
        _ => null,
    };

    /// <inheritdoc />
    public int? TokenToId(string token) => token switch
    {
        "<pad>" => Pad,
        "<s>" => Bos,
        "</s>" => Eos,
        { Length: 1 } s when s[0] is >= ' ' and <= '~' => Offset + (s[0] - ' '),
        _ => null,
    };
}

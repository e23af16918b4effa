using System.Globalization;

namespace MagDi.Tokenization;

/// <summary>
/// Sane limits for numbers read from tokenizer files, checked before anything is allocated from them: an id table is
/// sized by the largest id, so a vocabulary id near 2^31 ran the process out of memory and 2^31 - 1 overflowed.
/// </summary>
internal static class TokenizerLimits
{
    /// <summary>The largest vocabulary accepted: 2^24 = 16,777,216 ids (the largest real vocabularies have about 1 million).</summary>
    public const int MaxVocabularySize = 1 << 24;

    /// <summary>Returns <paramref name="id"/> when it is a valid token id, else throws naming the file and field.</summary>
    /// <exception cref="InvalidDataException">The id is negative or not below <see cref="MaxVocabularySize"/>.</exception>
    public static int CheckId(long id, string path, string where) =>
        id is >= 0 and < MaxVocabularySize
            ? (int)id
            : throw new InvalidDataException(string.Create(
                CultureInfo.InvariantCulture,
                $"{path}: {where} is token id {id}, outside the supported range 0..{MaxVocabularySize - 1} (MagDi sizes its id table by the largest id)."));
}

using System.Text;
using MagDi.Tokenization;

namespace MagDi.Core.Tests.Hostile;

/// <summary>
/// Hostile SentencePiece tokenizer.model files (issue 15): a huge or overlong varint, lengths past the end of a
/// message, unknown piece types, truncated numbers. Each is an <see cref="InvalidDataException"/> naming the file and
/// the field, never an OverflowException or IndexOutOfRangeException.
/// </summary>
public sealed class HostileSentencePieceModelTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("magdi-hostile-spm-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    // tokenizer.model (protobuf) pieces: field 1 = piece, 2 = score (float), 3 = type.
    private static byte[] Varint(ulong value)
    {
        var bytes = new List<byte>();
        while (value >= 0x80)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }

        bytes.Add((byte)value);
        return [.. bytes];
    }

    private static byte[] Field(int field, byte[] payload) => [.. Varint((ulong)((field << 3) | 2)), .. Varint((ulong)payload.Length), .. payload];

    private static byte[] Piece(string text, int type) => Field(1, [.. Field(1, Encoding.UTF8.GetBytes(text)), .. Varint(3 << 3), .. Varint((ulong)type)]);

    [Fact]
    public void SentencePieceModelWithAHugeLengthVarint_NamesFileAndField()
    {
        // pieces[1] claims a length of 2^63: checked((int)...) threw OverflowException before.
        byte[] model = [.. Piece("<unk>", 2), .. Varint((1 << 3) | 2), .. Varint(1UL << 63), 1, 2, 3];
        string path = Write("tokenizer.model", model);

        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(path));

        Assert.StartsWith($"{path}: not a valid SentencePiece model: pieces[1]: its length 9223372036854775808 runs past the end of its message", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SentencePieceModelWithAnOverlongVarint_NamesFileAndField()
    {
        byte[] model = [.. Piece("<unk>", 2), .. Field(2, [.. Varint(40 << 3), 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])];
        string path = Write("tokenizer.model", model);

        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(path));

        Assert.StartsWith($"{path}: not a valid SentencePiece model: trainer_spec.unk_id: a number is longer than 10 bytes", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(7)]
    [InlineData(-1)]
    public void SentencePiecePieceOfUnknownType_NamesFileAndField(int type)
    {
        string path = Write("tokenizer.model", [.. Piece("<unk>", 2), .. Piece("a", type)]);

        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(path));

        Assert.StartsWith($"{path}: pieces[1].type is {type}, not a SentencePiece piece type", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SentencePieceTruncatedScore_NamesFileAndField()
    {
        byte[] piece = [.. Field(1, "a"u8.ToArray()), .. Varint((2 << 3) | 5), 0, 0];
        string path = Write("tokenizer.model", [.. Piece("<unk>", 2), .. Field(1, piece)]);

        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(path));

        Assert.StartsWith($"{path}: not a valid SentencePiece model: pieces[1].score: the number is cut off", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SentencePieceUnigramWithoutAnUnknownPiece_NamesFileAndField()
    {
        string path = Write("tokenizer.model", [.. Piece("a", 1), .. Piece("b", 1)]);

        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(path));

        Assert.StartsWith($"{path}: the SentencePiece model has no piece of type UNKNOWN", ex.Message, StringComparison.Ordinal);
    }
}

using System.Text;
using System.Text.Json;
using MagDi.Testing;
using MagDi.Tokenization;

namespace MagDi.Core.Tests.Tokenization;

/// <summary>
/// The tokenizer.model path (SentencePiece BPE on MagDi's BPE engine). The test writes a SentencePiece model
/// protobuf from Mistral's tokenizer.json (a piece's score is minus the rank of the first merge that produces it, so
/// SentencePiece's highest-score-first merging follows the merge list; byte pieces and control tokens typed as such)
/// and compares with the tokenizer.json reference ids.
/// </summary>
public sealed class SentencePieceModelTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("magdi-spm-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Load_TokenizerModelFromMistralVocabulary_MatchesTokenizerJsonIds()
    {
        string model = Path.Combine(_dir, "tokenizer.model");
        WriteModelFromTokenizerJson(Path.Combine(TestTokenizerFiles.Folder("mistral"), "tokenizer.json"), model);
        var t = TokenizerLoader.Load(_dir);
        Assert.IsType<HuggingFaceTokenizer>(t);
        Assert.Equal(SpecialTokenFields.Of(new SpecialTokens(1, 2, null, 0, "<s>", "</s>", null, addBosToken: true, addEosToken: false)), SpecialTokenFields.Of(t.Special));
        Assert.Equal(32000, t.VocabularySize);

        var mismatches = new List<string>();
        int compared = 0;
        foreach (var (text, ids, withSpecial) in TestTokenizerFiles.ExpectedCases("mistral"))
        {
            compared++;
            var actual = t.Encode(text, addSpecialTokens: true);
            if (!actual.SequenceEqual(withSpecial!))
            {
                mismatches.Add($"{JsonSerializer.Serialize(text)}: expected [{string.Join(",", withSpecial!)}] got [{string.Join(",", actual)}]");
            }

            if (!text.Contains("<s>") && !text.Contains("</s>"))
            {
                Assert.Equal(text, t.Decode(actual, skipSpecialTokens: true));
            }
        }

        Assert.True(mismatches.Count == 0, string.Join("\n", mismatches));
        Assert.Equal(TestTokenizerFiles.ExpectedCases("mistral").Count(), compared);
    }

    [Fact]
    public void Load_TruncatedModel_ThrowsInvalidData()
    {
        string model = Path.Combine(_dir, "tokenizer.model");
        File.WriteAllBytes(model, [0x0A, 0x50, 0x0A, 0x01]);
        var e = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(model));
        Assert.Contains(model, e.Message);
    }

    [Fact]
    public void Load_UnigramModel_PicksTheHighestScoringSegmentation()
    {
        // Unigram: Viterbi picks the segmentation with the highest total score: "▁ab" (-1) beats "▁" + "ab" (-2 - 2).
        string model = Path.Combine(_dir, "tokenizer.model");
        WriteModel(model, modelType: 1, byteFallback: false, [
            ("<unk>", 0f, 2), ("<s>", 0f, 3), ("</s>", 0f, 3), ("▁", -2f, 1), ("a", -3f, 1), ("b", -3f, 1), ("ab", -2f, 1), ("▁ab", -1f, 1),
        ]);
        var t = TokenizerLoader.Load(model);
        Assert.IsType<SentencePieceTokenizerAdapter>(t);
        Assert.Equal([7, 7], t.Encode("ab ab"));
        Assert.Equal([1, 7, 7], t.Encode("ab ab", addSpecialTokens: true));
        Assert.Equal("ab ab", t.Decode([7, 3, 6]));
        Assert.Equal(2, t.Special.EosId);
        Assert.Equal("▁ab", t.IdToToken(7));
        Assert.Equal(7, t.TokenToId("▁ab"));
    }

    private static void WriteModelFromTokenizerJson(string tokenizerJson, string modelPath)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(tokenizerJson));
        var vocab = doc.RootElement.GetProperty("model").GetProperty("vocab").EnumerateObject()
            .Select(p => (Piece: p.Name, Id: p.Value.GetInt32())).OrderBy(p => p.Id).ToList();
        var firstRank = new Dictionary<string, int>();
        int rank = 0;
        foreach (var merge in doc.RootElement.GetProperty("model").GetProperty("merges").EnumerateArray())
        {
            string[] parts = merge.GetString()!.Split(' ');
            firstRank.TryAdd(parts[0] + parts[1], rank++);
        }

        var pieces = new List<(string, float, int)>();
        foreach (var (piece, id) in vocab)
        {
            int type = piece switch
            {
                "<unk>" => 2,
                "<s>" or "</s>" => 3,
                _ when piece.Length == 6 && piece.StartsWith("<0x", StringComparison.Ordinal) => 6,
                _ => 1,
            };
            pieces.Add((piece, type == 1 ? -(float)firstRank.GetValueOrDefault(piece, rank + id) : 0f, type));
        }

        WriteModel(modelPath, modelType: 2, byteFallback: true, pieces);
    }

    private static void WriteModel(string modelPath, int modelType, bool byteFallback, List<(string Piece, float Score, int Type)> pieces)
    {
        var model = new MemoryStream();
        foreach (var (piece, score, type) in pieces)
        {
            var p = new MemoryStream();
            WriteBytes(p, 1, Encoding.UTF8.GetBytes(piece));
            WriteTag(p, 2, 5);
            p.Write(BitConverter.GetBytes(score));
            WriteVarintField(p, 3, type);
            WriteBytes(model, 1, p.ToArray());
        }

        var trainer = new MemoryStream();
        WriteVarintField(trainer, 3, modelType); // 1 = Unigram, 2 = BPE
        WriteVarintField(trainer, 35, byteFallback ? 1 : 0);
        WriteVarintField(trainer, 40, 0); // unk_id
        WriteVarintField(trainer, 41, 1); // bos_id
        WriteVarintField(trainer, 42, 2); // eos_id
        WriteVarintField(trainer, 43, -1); // pad_id
        WriteBytes(model, 2, trainer.ToArray());

        var normalizer = new MemoryStream();
        WriteBytes(normalizer, 1, Encoding.UTF8.GetBytes("identity"));
        WriteVarintField(normalizer, 3, 1); // add_dummy_prefix
        WriteVarintField(normalizer, 4, 0); // remove_extra_whitespaces
        WriteVarintField(normalizer, 5, 1); // escape_whitespaces
        WriteBytes(model, 3, normalizer.ToArray());
        File.WriteAllBytes(modelPath, model.ToArray());
    }

    private static void WriteTag(Stream s, int field, int wireType) => WriteVarint(s, (ulong)((field << 3) | wireType));

    private static void WriteVarintField(Stream s, int field, long value)
    {
        WriteTag(s, field, 0);
        WriteVarint(s, unchecked((ulong)value));
    }

    private static void WriteBytes(Stream s, int field, byte[] bytes)
    {
        WriteTag(s, field, 2);
        WriteVarint(s, (ulong)bytes.Length);
        s.Write(bytes);
    }

    private static void WriteVarint(Stream s, ulong value)
    {
        while (value >= 0x80)
        {
            s.WriteByte((byte)(value | 0x80));
            value >>= 7;
        }

        s.WriteByte((byte)value);
    }
}

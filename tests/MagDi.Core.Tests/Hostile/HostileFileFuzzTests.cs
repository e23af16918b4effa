using System.Text;
using CsCheck;
using MagDi.Core.Tests.Modeling;
using MagDi.SafeTensors;
using MagDi.Testing;
using MagDi.Tokenization;

namespace MagDi.Core.Tests.Hostile;

/// <summary>
/// Property tests for the file readers of issue 15 (as ReaderFuzzTests does for the MAG readers): whatever the bytes,
/// tokenizer.model, tokenizer.json and safetensors readers throw only their documented exceptions, each naming the file.
/// </summary>
public sealed class HostileFileFuzzTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("magdi-fuzz-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>A seed file with 1..8 bytes replaced, inserted or removed.</summary>
    private static Gen<byte[]> Mutations(byte[] seed) =>
        Gen.Select(Gen.Int[0, seed.Length - 1].Array[1, 8], Gen.Byte.Array[8], Gen.Int[0, 2], (positions, bytes, op) =>
        {
            var list = seed.ToList();
            for (int i = 0; i < positions.Length; i++)
            {
                int p = Math.Min(positions[i], list.Count - 1);
                switch (op)
                {
                    case 0: list[p] = bytes[i]; break;
                    case 1: list.Insert(p, bytes[i]); break;
                    default: list.RemoveAt(p); break;
                }
            }

            return list.ToArray();
        });

    /// <summary>Loads <paramref name="bytes"/> as a tokenizer file and encodes some text; only documented exceptions naming the file may escape.</summary>
    private void LoadAndEncode(string name, byte[] bytes, string text)
    {
        string dir = Path.Combine(_dir, Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        string path = Path.Combine(dir, name);
        File.WriteAllBytes(path, bytes);
        try
        {
            var tokenizer = TokenizerLoader.Load(path);
            var ids = tokenizer.Encode(text);
            _ = tokenizer.Decode(ids);
        }
        catch (Exception ex) when (ex is InvalidDataException or NotSupportedException)
        {
            Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        }
        catch (ArgumentException ex) when (ex.Message.Contains("is not in the vocabulary", StringComparison.Ordinal))
        {
            // A damaged vocabulary can lack a character: the BPE engine reports that instead of dropping it.
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    /// <summary>The unmutated seed must load and encode, or the properties below would test nothing but failures.</summary>
    private void AssertSeedWorks(string name, byte[] seed, string text)
    {
        string dir = Path.Combine(_dir, "seed-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        File.WriteAllBytes(Path.Combine(dir, name), seed);
        var tokenizer = TokenizerLoader.Load(Path.Combine(dir, name));
        Assert.NotEmpty(tokenizer.Encode(text));
    }

    [Theory]
    [InlineData("unigram")]
    [InlineData("unigram-identity")]
    [InlineData("bpe-identity")]
    public void SentencePieceModel_MutatedBytes_OnlyThrowDocumentedExceptionsNamingTheFile(string model)
    {
        byte[] seed = File.ReadAllBytes(Path.Combine(Machine.RepositoryRoot(), "tests", "TestData", "sentencepiece", model, "tokenizer.model"));
        const string Text = "Hello\tworld\n 12 caf\u00e9 \U0001F600 \u4e2d\u6587 <sep>";
        AssertSeedWorks("tokenizer.model", seed, Text);
        Mutations(seed).Sample(bytes => LoadAndEncode("tokenizer.model", bytes, Text), iter: 150);
    }

    [Fact]
    public void TokenizerJson_MutatedBytes_OnlyThrowDocumentedExceptionsNamingTheFile()
    {
        byte[] seed = Encoding.UTF8.GetBytes("""
            {"added_tokens":[{"id":0,"content":"<s>","special":true}],
             "normalizer":{"type":"Sequence","normalizers":[{"type":"NFC"},{"type":"Replace","pattern":{"Regex":" +"},"content":" "}]},
             "pre_tokenizer":{"type":"Sequence","pretokenizers":[{"type":"Split","pattern":{"Regex":"\\p{L}+|\\s+|."},"behavior":"Isolated","invert":false},{"type":"ByteLevel","add_prefix_space":false,"use_regex":false}]},
             "decoder":{"type":"ByteLevel"},
             "model":{"type":"BPE","vocab":{"a":1,"b":2,"ab":3,"Ġ":4,"Ġab":5,"!":6},"merges":["a b","Ġ ab"]}}
            """);
        AssertSeedWorks("tokenizer.json", seed, "ab  abab!<s>a");
        Mutations(seed).Sample(bytes => LoadAndEncode("tokenizer.json", bytes, "ab  abab!<s>a"), iter: 400);
    }

    [Fact]
    public void SafeTensors_RandomDataRanges_AreAcceptedExactlyWhenTheyTileTheData()
    {
        // Up to 5 F32 tensors of 0..3 elements at random (possibly overlapping or gapped) offsets, in random header order.
        var gen = Gen.Select(Gen.Int[0, 3].Array[1, 5], Gen.Int[-4, 4].Array[5], Gen.Int[0, 8], Gen.Bool);
        gen.Sample((sizes, shifts, extraBytes, tile) =>
        {
            var ranges = new List<(string Name, long Begin, long End)>();
            long offset = 0;
            for (int i = 0; i < sizes.Length; i++)
            {
                long begin = tile ? offset : Math.Max(0, offset + shifts[i]);
                ranges.Add(($"t{i}", begin, begin + (4L * sizes[i])));
                offset = begin + (4L * sizes[i]);
            }

            long dataLength = ranges.Max(r => r.End) + (tile ? 0 : extraBytes);
            var header = new StringBuilder("{");
            foreach (var (name, begin, end) in ranges.OrderBy(r => r.Name.GetHashCode(StringComparison.Ordinal)))
            {
                header.Append(header.Length > 1 ? "," : string.Empty)
                    .Append($"\"{name}\":{{\"dtype\":\"F32\",\"shape\":[{(end - begin) / 4}],\"data_offsets\":[{begin},{end}]}}");
            }

            header.Append('}');
            string path = Path.Combine(TestCheckpoints.TempDir(), "fuzz.safetensors");
            byte[] json = Encoding.UTF8.GetBytes(header.ToString());
            using (var f = File.Create(path))
            {
                f.Write(BitConverter.GetBytes((long)json.Length));
                f.Write(json);
                f.Write(new byte[dataLength]);
            }

            bool tiles = true;
            long covered = 0;
            foreach (var (_, begin, end) in ranges.OrderBy(r => r.Begin).ThenBy(r => r.End))
            {
                tiles &= begin == covered;
                covered = Math.Max(covered, end);
            }

            tiles &= covered == dataLength;
            try
            {
                using var file = SafeTensorsFile.Open(path);
                Assert.True(tiles, $"accepted ranges that do not tile {dataLength} bytes: {string.Join(" ", ranges)}");
            }
            catch (InvalidDataException ex)
            {
                Assert.False(tiles, $"rejected ranges that tile the data: {ex.Message}");
                Assert.Contains(path, ex.Message, StringComparison.Ordinal);
            }
        }, iter: 500);
    }
}

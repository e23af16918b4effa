using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using MagDi.Testing;
using MagDi.Tokenization;

namespace MagDi.Core.Tests.Hostile;

/// <summary>
/// Hostile tokenizer JSON files (issue 15): ids near 2^31, merges of the wrong type, regexes with
/// catastrophic backtracking, unpaired surrogate escapes, invalid UTF-8 and FIFOs. Each is an
/// <see cref="InvalidDataException"/> naming the file and the field, never an OutOfMemoryException, an
/// OverflowException, a hang or a silently different tokenizer.
/// </summary>
public sealed class HostileTokenizerInputTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("magdi-hostile-tok-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static JsonObject TinyTokenizerJson() => JsonNode.Parse("""
        {
          "added_tokens": [ { "id": 0, "content": "<s>", "special": true } ],
          "normalizer": null,
          "pre_tokenizer": { "type": "ByteLevel", "add_prefix_space": false, "use_regex": true },
          "decoder": { "type": "ByteLevel" },
          "model": { "type": "BPE", "vocab": { "a": 1, "b": 2, "ab": 3, "Ġ": 4, "Ġab": 5, "!": 6 }, "merges": [ "a b", "Ġ ab" ] }
        }
        """)!.AsObject();

    private string Write(JsonObject json, string name = "tokenizer.json") => Write(name, Encoding.UTF8.GetBytes(json.ToJsonString()));

    private string Write(string name, string text) => Write(name, Encoding.UTF8.GetBytes(text));

    private string Write(string name, byte[] bytes)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Theory]
    [InlineData(2147483646L)]
    [InlineData(16777216L)]
    [InlineData(4294967296L)]
    public void VocabIdNear2To31_IsInvalidDataNamingFileAndField(long id)
    {
        var json = TinyTokenizerJson();
        json["model"]!["vocab"]!["b"] = id;
        string path = Write(json);

        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(path));

        Assert.StartsWith($"{path}: model.vocab[\"b\"] is token id {id}, outside the supported range 0..16777215", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddedTokenIdOf2To31Minus1_IsInvalidDataNamingFileAndField()
    {
        var json = TinyTokenizerJson();
        json["added_tokens"]![0]!["id"] = int.MaxValue;
        string path = Write(json);

        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(path));

        Assert.StartsWith($"{path}: added_tokens[0].id is token id 2147483647, outside the supported range", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AddedTokensDecoderKeyOf2To31Minus1_IsInvalidDataNamingFileAndField()
    {
        Write(TinyTokenizerJson());
        string config = Write("tokenizer_config.json", """{ "added_tokens_decoder": { "2147483647": { "content": "<x>", "special": true } } }""");

        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(_dir));

        Assert.StartsWith($"{config}: added_tokens_decoder key \"2147483647\" is token id 2147483647, outside the supported range", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"a b\"", "a string")]
    [InlineData("{ \"a\": \"b\" }", "an object")]
    [InlineData("7", "a number")]
    public void MergesThatAreNotAList_AreRejectedInsteadOfIgnored(string merges, string found)
    {
        var json = TinyTokenizerJson();
        json["model"]!["merges"] = JsonNode.Parse(merges);
        string path = Write(json);

        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(path));

        Assert.StartsWith($"{path}: model.merges must be a list of merges", ex.Message, StringComparison.Ordinal);
        Assert.EndsWith($"not {found}.", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void SplitRegexWithCatastrophicBacktracking_TimesOutWithAnErrorNamingFileFieldAndPattern()
    {
        var json = TinyTokenizerJson();
        json["pre_tokenizer"] = JsonNode.Parse("""
            { "type": "Sequence", "pretokenizers": [
              { "type": "Split", "pattern": { "Regex": "(a+)+$" }, "behavior": "Isolated", "invert": false },
              { "type": "ByteLevel", "add_prefix_space": false, "use_regex": false } ] }
            """);
        string path = Write(json);
        var tokenizer = TokenizerLoader.Load(path);
        var watch = Stopwatch.StartNew();

        var ex = Assert.Throws<InvalidDataException>(() => tokenizer.Encode(new string('a', 41) + "!"));

        Assert.InRange(watch.Elapsed, TimeSpan.Zero, TimeSpan.FromSeconds(60));
        Assert.StartsWith($"{path}: pre_tokenizer.pretokenizers[0].pattern.Regex \"(a+)+$\" took longer than 2 s", ex.Message, StringComparison.Ordinal);
        Assert.IsType<System.Text.RegularExpressions.RegexMatchTimeoutException>(ex.InnerException);
        Assert.Equal([3, 3], tokenizer.Encode("abab"));
    }

    [Fact]
    public void ReplaceNormalizerRegexWithCatastrophicBacktracking_TimesOutWithAnErrorNamingFileAndField()
    {
        var json = TinyTokenizerJson();
        json["normalizer"] = JsonNode.Parse("""{ "type": "Replace", "pattern": { "Regex": "(b|bb)+c" }, "content": "x" }""");
        string path = Write(json);
        var tokenizer = TokenizerLoader.Load(path);

        var ex = Assert.Throws<InvalidDataException>(() => tokenizer.Encode(new string('b', 60)));

        Assert.StartsWith($"{path}: normalizer.pattern.Regex \"(b|bb)+c\" took longer than", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void LoneSurrogateInAVocabularyKey_NamesFileLineAndField()
    {
        string path = Write("tokenizer.json", TinyTokenizerJson().ToJsonString().Replace("\"ab\":3", "\n\"a\\ud800\":3", StringComparison.Ordinal));

        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(path));

        Assert.Equal($"{path}: line 2, field 'model.vocab': a property name holds the escape \\ud800, an unpaired UTF-16 surrogate, which is not a Unicode character.", ex.Message);
    }

    [Fact]
    public void MalformedTokenizerJson_NamesLineColumnAndField()
    {
        string path = Write("tokenizer.json", "{\n  \"model\": {\n    \"type\": BPE\n  }\n}");

        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(path));

        Assert.StartsWith($"{path}: malformed JSON at line 3, column 13 (in field 'model.type'):", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Gpt2MergesWithInvalidUtf8_NamesFileAndLine()
    {
        Write("vocab.json", """{ "a": 0, "b": 1, "ab": 2 }""");
        string merges = Write("merges.txt", [.. "#version: 0.2\na b\n"u8, 0xFF, .. " a\n"u8]);

        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(_dir));

        Assert.Equal($"{merges}: line 3: invalid UTF-8.", ex.Message);
    }

    [Fact]
    public void Gpt2VocabIdNear2To31_NamesFileAndField()
    {
        string vocab = Write("vocab.json", """{ "a": 0, "b": 2147483600, "ab": 2 }""");
        Write("merges.txt", "a b\n");

        var ex = Assert.Throws<InvalidDataException>(() => TokenizerLoader.Load(_dir));

        Assert.StartsWith($"{vocab}: (root)[\"b\"] is token id 2147483600, outside the supported range", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FifoInPlaceOfTokenizerJson_IsRefusedWithoutBlocking()
    {
        string fifo = Path.Combine(_dir, "tokenizer.json");
        if (!HostileFiles.TryCreateFifo(fifo))
        {
            return; // no FIFOs on Windows
        }

        var ex = await HostileFiles.CaptureWithoutBlocking(fifo, () => TokenizerLoader.Load(_dir));

        Assert.StartsWith($"{fifo}: is not a regular file but a FIFO", Assert.IsType<InvalidDataException>(ex).Message, StringComparison.Ordinal);
    }
}

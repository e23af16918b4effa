using MagDi.Tokenization;

namespace MagDi.Core.Tests.Tokenization;

public sealed class TokenizerJsonLinesTests
{
    [Fact]
    public async Task TokenizeAsync_MapsTextLinesToIdLinesInOrder()
    {
        var t = RealTokenizers.Get("mistral");
        var input = new StringReader("{\"text\":\"Hello world\",\"id\":1}\n{\"text\":\"\"}\n{\"text\":\"a\\nb\"}\n");
        var output = new StringWriter();
        int count = await TokenizerJsonLines.TokenizeAsync(t, input, output, addSpecialTokens: true);
        Assert.Equal(3, count);
        string[] lines = output.ToString().Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("{\"ids\":[1,22557,1526]}", lines[0]);
        Assert.Equal("{\"ids\":[1]}", lines[1]);
        Assert.Equal(TokenizerJsonLines.FormatIds(t.Encode("a\nb", addSpecialTokens: true)), lines[2]);
    }

    [Theory]
    [InlineData("{\"text\":\"ok\"}\n{\"txt\":\"x\"}\n", "line 2", "\"text\"")]
    [InlineData("{\"text\":\"ok\"}\n[1,2]\n", "line 2", "JSON object")]
    [InlineData("{\"text\":5}\n", "line 1", "not a string")]
    [InlineData("{\"text\":\"ok\"}\n\n", "line 2", "blank")]
    [InlineData("{\"text\":\"ok\"\n", "line 1", "invalid JSON")]
    public async Task TokenizeAsync_BadLine_ThrowsNamingTheLine(string input, string line, string reason)
    {
        var e = await Assert.ThrowsAsync<InvalidDataException>(() =>
            TokenizerJsonLines.TokenizeAsync(RealTokenizers.Get("gpt2"), new StringReader(input), new StringWriter()));
        Assert.Contains(line, e.Message);
        Assert.Contains(reason, e.Message);
    }

    [Fact]
    public void Encode_FromManyThreads_GivesTheSameIdsAsSerial()
    {
        var t = RealTokenizers.Get("qwen3");
        var texts = TrainerTests.SyntheticCorpus(400, seed: 11);
        var serial = texts.Select(s => t.Encode(s).ToArray()).ToList();
        var parallel = new int[texts.Count][];
        Parallel.For(0, texts.Count, new ParallelOptions { MaxDegreeOfParallelism = 4 }, i => parallel[i] = t.Encode(texts[i]).ToArray());
        for (int i = 0; i < texts.Count; i++)
        {
            Assert.Equal(serial[i], parallel[i]);
        }
    }
}

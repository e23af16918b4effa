namespace MagDi.Core.Tests.Tokenization;

public sealed class TokenizerConcurrencyTests
{
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

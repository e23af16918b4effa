using MagDi.Generation;
using static TorchSharp.torch;

namespace MagDi.Core.Tests.Generation;

public sealed class RowSamplerTests
{
    public static TheoryData<double, int?, double> Settings => new()
    {
        { 0.7, 50, 0.9 },    // the paper's self-consistency sampling
        { 1.0, null, 0.9 },  // nucleus over the whole vocabulary, wider than the first candidates looked at
        { 1.3, 5, 1.0 },     // top-k only
        { 0.5, null, 1.0 },  // temperature only
        { 1.0, 300, 0.5 },   // top-k as large as the vocabulary: no top-k
    };

    [Theory]
    [MemberData(nameof(Settings))]
    public void Distribution_EqualsFilterLogitsSoftmax(double temperature, int? topK, double topP)
    {
        var options = new GenerationOptions { Temperature = temperature, TopK = topK, TopP = topP };
        using var generator = new Generator(5, CPU);
        using Tensor logits = (randn([4, 300], generator: generator) * 3).to_type(ScalarType.Float32); // [N,V]
        logits[0, 17] = logits[0, 3].clone();                                                         // a tie
        using Tensor reference = TextGenerator.FilterLogits(logits, options).softmax(-1);            // [N,V]
        float[] values = logits.data<float>().ToArray();
        for (int r = 0; r < 4; r++)
        {
            var (tokens, weights, count) = RowSampler.Distribution(values.AsSpan(r * 300, 300), options);
            double total = weights.Take(count).Sum();
            float[] expected = reference[r].data<float>().ToArray();
            int[] support = [.. Enumerable.Range(0, 300).Where(i => expected[i] > 0)];
            Assert.Equal(support, tokens.Take(count).Order());
            for (int i = 0; i < count; i++)
            {
                Assert.Equal(expected[tokens[i]], weights[i] / total, 5);
            }

            // Inverse CDF over the tokens by probability, descending: a small uniform draws the top token.
            int[] byProbability = [.. support.OrderByDescending(i => expected[i]).ThenBy(i => i)];
            Assert.Equal(byProbability[0], RowSampler.Draw(values.AsSpan(r * 300, 300), options, 1e-12));
            foreach (double u in new[] { 0.3, 0.8 })
            {
                double cumulative = 0;
                int drawn = byProbability.First(i => (cumulative += expected[i]) >= u);
                Assert.Equal(drawn, RowSampler.Draw(values.AsSpan(r * 300, 300), options, u));
            }
        }
    }
}

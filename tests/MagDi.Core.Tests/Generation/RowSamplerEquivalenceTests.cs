using MagDi.Generation;
using static TorchSharp.torch;

namespace MagDi.Core.Tests.Generation;

/// <summary>
/// The sampler's division-free scan (issue 18) must give exactly the distribution of the version before it, so that
/// seeded self-consistency samples do not change: the previous implementation is kept below, verbatim, as the oracle.
/// </summary>
public sealed class RowSamplerEquivalenceTests
{
    [Theory]
    [InlineData(0.7, 50, 0.9)]
    [InlineData(1.0, null, 0.9)]
    [InlineData(1.3, 5, 1.0)]
    [InlineData(0.5, null, 1.0)]
    [InlineData(3.0, 40, 0.95)]
    [InlineData(0.3, 2000, 0.9)]
    public void Distribution_IsExactlyThePreviousOne_InFloat32AndOnBFloat16RoundedLogits(double temperature, int? topK, double topP)
    {
        var options = new GenerationOptions { Temperature = temperature, TopK = topK, TopP = topP };
        using var generator = new Generator(11, CPU);
        using Tensor f32 = (randn([6, 2000], generator: generator) * 4).to_type(ScalarType.Float32);                // [N,V]
        using Tensor rounded = f32.to_type(ScalarType.BFloat16).to_type(ScalarType.Float32);                       // many exact ties
        foreach (Tensor logits in new[] { f32, rounded })
        {
            float[] values = logits.data<float>().ToArray();
            for (int r = 0; r < 6; r++)
            {
                ReadOnlySpan<float> row = values.AsSpan(r * 2000, 2000);
                var (tokens, weights, count) = RowSampler.Distribution(row, options);
                var (expectedTokens, expectedWeights, expectedCount) = PreviousRowSampler.Distribution(row, options);
                Assert.Equal(expectedCount, count);
                Assert.Equal(expectedTokens.Take(expectedCount), tokens.Take(count));
                Assert.Equal(expectedWeights.Take(expectedCount), weights.Take(count));
                foreach (double u in new[] { 1e-12, 0.25, 0.5, 0.75, 0.999 })
                {
                    Assert.Equal(PreviousRowSampler.Draw(row, options, u), RowSampler.Draw(row, options, u));
                }
            }
        }
    }

    [Fact]
    public void ScaledTies_FromNeighbouringLogits_AreKeptAsBefore()
    {
        // Logits one ulp apart that one division by T rounds to the same value: both must stay at the top-k boundary.
        var options = new GenerationOptions { Temperature = 3.0, TopK = 3, TopP = 1.0 };
        float[] row = [.. Enumerable.Range(0, 64).Select(i => -1f - (i * 0.25f))];
        row[10] = 5f;
        row[20] = 4f;
        float a = 3.5f;
        while (MathF.BitDecrement(a) / 3f != a / 3f)                                          // z / 3 in [1, 2): half the spacing
        {
            a = MathF.BitIncrement(a);
        }

        row[30] = a;                                                                          // the 3rd largest logit
        row[40] = MathF.BitDecrement(a);                                                      // smaller, but equal once scaled
        var (tokens, _, count) = RowSampler.Distribution(row, options);
        var (expectedTokens, _, expectedCount) = PreviousRowSampler.Distribution(row, options);
        Assert.Equal(expectedTokens.Take(expectedCount), tokens.Take(count));
        Assert.Equal([10, 20, 30, 40], tokens.Take(count).Order());
    }

    /// <summary>RowSampler as of commit 3d8dade (before the division-free scan).</summary>
    private static class PreviousRowSampler
    {
        public static int Draw(ReadOnlySpan<float> logits, GenerationOptions options, double uniform)
        {
            var (tokens, weights, count) = Distribution(logits, options);
            double total = 0;
            for (int i = 0; i < count; i++)
            {
                total += weights[i];
            }

            double threshold = uniform * total, cumulative = 0;
            for (int i = 0; i < count - 1; i++)
            {
                cumulative += weights[i];
                if (cumulative >= threshold)
                {
                    return tokens[i];
                }
            }

            return tokens[count - 1];
        }

        public static (int[] Tokens, double[] Weights, int Count) Distribution(ReadOnlySpan<float> logits, GenerationOptions options)
        {
            int vocabulary = logits.Length;
            float temperature = (float)options.Temperature;
            float max = float.NegativeInfinity;
            for (int i = 0; i < vocabulary; i++)
            {
                max = MathF.Max(max, logits[i] / temperature);
            }

            bool topK = options.TopK is > 0 && options.TopK < vocabulary;
            int take = topK ? options.TopK!.Value : Math.Min(vocabulary, 64);
            while (true)
            {
                int[] tokens = Largest(logits, temperature, take);                               // ties at the boundary kept
                var weights = new double[tokens.Length];
                double candidateMass = 0;
                for (int i = 0; i < tokens.Length; i++)
                {
                    weights[i] = Math.Exp((logits[tokens[i]] / temperature) - max);
                    candidateMass += weights[i];
                }

                if (options.TopP >= 1.0)
                {
                    if (topK || tokens.Length == vocabulary)
                    {
                        return (tokens, weights, tokens.Length);
                    }

                    take = vocabulary;                                                          // no filter at all: every token
                    continue;
                }

                // Top-p over the candidates' own distribution (top-k's survivors), or over the whole vocabulary without top-k.
                double mass = candidateMass;
                if (!topK && tokens.Length < vocabulary)
                {
                    mass = 0;
                    for (int i = 0; i < vocabulary; i++)
                    {
                        mass += Math.Exp((logits[i] / temperature) - max);
                    }
                }

                double before = 0;
                for (int i = 0; i < tokens.Length; i++)
                {
                    if (before / mass >= options.TopP)
                    {
                        return (tokens, weights, i);                                            // mass strictly before reaches top-p
                    }

                    before += weights[i];
                }

                if (topK || tokens.Length == vocabulary)
                {
                    return (tokens, weights, tokens.Length);
                }

                take = (int)Math.Min(vocabulary, take * 4L);                                    // the nucleus is wider: look further
            }
        }

        private static int[] Largest(ReadOnlySpan<float> logits, float temperature, int count)
        {
            int vocabulary = logits.Length;
            float kth = float.NegativeInfinity;
            if (count < vocabulary)
            {
                // A min-heap of the count largest values seen so far; its root is the count-th largest at the end.
                var heap = new float[count];
                for (int i = 0; i < count; i++)
                {
                    heap[i] = logits[i] / temperature;
                }

                Array.Sort(heap);                                                                 // a sorted array is a min-heap
                for (int i = count; i < vocabulary; i++)
                {
                    float value = logits[i] / temperature;
                    if (value > heap[0])
                    {
                        heap[0] = value;
                        SiftDown(heap);
                    }
                }

                kth = heap[0];
            }

            var ids = new List<int>(count + 8);
            for (int i = 0; i < vocabulary; i++)
            {
                if (logits[i] / temperature >= kth)
                {
                    ids.Add(i);
                }
            }

            int[] result = [.. ids];
            var keys = new float[result.Length];
            for (int i = 0; i < result.Length; i++)
            {
                keys[i] = -(logits[result[i]] / temperature);
            }

            Array.Sort(keys, result);                                                             // introsort is not stable: fix ties below
            for (int start = 0; start < result.Length;)
            {
                int end = start + 1;
                while (end < result.Length && keys[end] == keys[start])
                {
                    end++;
                }

                Array.Sort(result, start, end - start);
                start = end;
            }

            return result;
        }

        private static void SiftDown(float[] heap)
        {
            int i = 0;
            while (true)
            {
                int left = (2 * i) + 1, right = left + 1, smallest = i;
                if (left < heap.Length && heap[left] < heap[smallest])
                {
                    smallest = left;
                }

                if (right < heap.Length && heap[right] < heap[smallest])
                {
                    smallest = right;
                }

                if (smallest == i)
                {
                    return;
                }

                (heap[i], heap[smallest]) = (heap[smallest], heap[i]);
                i = smallest;
            }
        }
    }
}

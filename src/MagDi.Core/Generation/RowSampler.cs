namespace MagDi.Generation;

/// <summary>
/// Draws one token from one row of logits on the host, from the distribution of <see cref="TextGenerator.FilterLogits"/>
/// (temperature, then top-k, then top-p; the top token is never removed) by inverse CDF with the caller's uniform number.
/// Continuous batching samples every row with its own stream; doing it here costs tens of microseconds per row, where
/// libtorch's full-vocabulary sort, softmax and cumulative sums cost several milliseconds per step on the CPU (issue 18).
/// Only the candidates that survive top-k are sorted; without top-k, the nucleus is searched among the largest logits,
/// widening until it holds the top-p mass of the whole vocabulary.
/// </summary>
internal static class RowSampler
{
    /// <summary>
    /// The drawn token of <paramref name="logits"/> [V] (finite maximum), with <paramref name="uniform"/> in (0, 1].
    /// Tokens are ordered by logit, descending (lower id first on ties); the draw is the first whose cumulative
    /// probability reaches <paramref name="uniform"/>.
    /// </summary>
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

    /// <summary>
    /// The tokens that keep a non-zero probability, by logit descending, with unnormalised weights exp((z - max) / T):
    /// the support of <see cref="TextGenerator.FilterLogits"/>'s distribution. Returns the first <c>Count</c> entries.
    /// </summary>
    internal static (int[] Tokens, double[] Weights, int Count) Distribution(ReadOnlySpan<float> logits, GenerationOptions options)
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

    /// <summary>Ids of the <paramref name="count"/> largest logits and of any tied with the smallest of them, sorted descending (id ascending on ties).</summary>
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

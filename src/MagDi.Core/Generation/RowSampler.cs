using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

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
        float max = TensorPrimitives.Max(logits) / temperature;                         // = max of z / T: division by T > 0 is monotone

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
    /// <remarks>
    /// Ties and order are those of the scaled values z / T. Division by T &gt; 0 is monotone, so the count-th largest scaled
    /// value is the count-th largest logit, scaled, and the scan compares raw logits; only a logit within a relative 1e-5 of
    /// that boundary is divided, since rounding can make it equal to the boundary once scaled. This keeps the scan free of
    /// divisions: it is most of the sampler's time on a 16k vocabulary (issue 18).
    /// </remarks>
    private static int[] Largest(ReadOnlySpan<float> logits, float temperature, int count)
    {
        int vocabulary = logits.Length;
        var ids = new List<int>(count + 8);
        if (count < vocabulary)
        {
            // A min-heap of the count largest logits seen so far; its root is the count-th largest at the end.
            // Most chunks hold nothing above the root once the heap has warmed up: one vector compare skips them.
            var heap = logits[..count].ToArray();
            Array.Sort(heap);                                                                 // a sorted array is a min-heap
            ref float first = ref MemoryMarshal.GetReference(logits);
            int width = Vector<float>.Count, i = count;
            for (; i + width <= vocabulary; i += width)
            {
                if (Vector.GreaterThanAny(Vector.LoadUnsafe(ref first, (nuint)i), new Vector<float>(heap[0])))
                {
                    for (int j = i; j < i + width; j++)
                    {
                        Push(heap, logits[j]);
                    }
                }
            }

            for (; i < vocabulary; i++)
            {
                Push(heap, logits[i]);
            }

            float kthRaw = heap[0], kth = kthRaw / temperature;
            float near = kthRaw - (MathF.Abs(kthRaw) * 1e-5f) - float.Epsilon;              // below it, z / T < kth for sure
            for (i = 0; i < vocabulary; i++)
            {
                if (i + width <= vocabulary && !Vector.GreaterThanOrEqualAny(Vector.LoadUnsafe(ref first, (nuint)i), new Vector<float>(near)))
                {
                    i += width - 1;                                                           // no candidate in this chunk
                    continue;
                }

                float z = logits[i];
                if (z >= kthRaw || (z >= near && z / temperature >= kth))
                {
                    ids.Add(i);
                }
            }
        }
        else
        {
            for (int i = 0; i < vocabulary; i++)
            {
                if (!float.IsNaN(logits[i]))
                {
                    ids.Add(i);
                }
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

    /// <summary>Keeps <paramref name="value"/> among the heap's largest values when it is above the root.</summary>
    private static void Push(float[] heap, float value)
    {
        if (value > heap[0])
        {
            heap[0] = value;
            SiftDown(heap);
        }
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

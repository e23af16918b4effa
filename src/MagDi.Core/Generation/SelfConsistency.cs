namespace MagDi.Generation;

/// <summary>The outcome of a self-consistency vote.</summary>
public sealed class SelfConsistencyResult
{
    internal SelfConsistencyResult(string? answer, IReadOnlyDictionary<string, int> votes, IReadOnlyList<string> samples, IReadOnlyList<string?> answers)
    {
        Answer = answer;
        Votes = votes;
        Samples = samples;
        Answers = answers;
    }

    /// <summary>The most frequent extracted answer (ties go to the earliest sample), or null when no sample had one.</summary>
    public string? Answer { get; }

    /// <summary>Votes per extracted answer.</summary>
    public IReadOnlyDictionary<string, int> Votes { get; }

    /// <summary>Every decoded sample, in order.</summary>
    public IReadOnlyList<string> Samples { get; }

    /// <summary>The answer extracted from each sample (null when none).</summary>
    public IReadOnlyList<string?> Answers { get; }
}

/// <summary>Self-consistency decoding (Wang et al., 2023): sample k reasoning chains and majority-vote their answers.</summary>
public static class SelfConsistency
{
    /// <summary>Samples <paramref name="samples"/> continuations of one prompt in one batch and votes over their extracted answers.</summary>
    /// <param name="generator">The generator.</param>
    /// <param name="prompt">Prompt ids.</param>
    /// <param name="samples">k, the number of samples (at least 1).</param>
    /// <param name="options">Decoding options; must sample (temperature &gt; 0).</param>
    /// <param name="decode">Turns generated ids into text (the tokenizer's decode).</param>
    /// <param name="extractAnswer">Pulls a normalised answer out of a sample (the task's answer logic); null when there is none.</param>
    /// <param name="cancellationToken">Checked between decoding steps.</param>
    /// <exception cref="ArgumentException">k &lt; 1 or greedy options.</exception>
    public static SelfConsistencyResult Generate(
        TextGenerator generator,
        IReadOnlyList<int> prompt,
        int samples,
        GenerationOptions options,
        Func<IReadOnlyList<int>, string> decode,
        Func<string?, string?> extractAnswer,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(generator);
        ArgumentNullException.ThrowIfNull(prompt);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(decode);
        ArgumentNullException.ThrowIfNull(extractAnswer);
        ArgumentOutOfRangeException.ThrowIfLessThan(samples, 1);
        if (!options.IsSampling && samples > 1)
        {
            throw new ArgumentException("Self-consistency needs sampling (Temperature > 0); greedy decoding gives k identical samples.", nameof(options));
        }

        GenerationResult result = generator.Generate(Enumerable.Repeat(prompt, samples).ToArray(), options, cancellationToken);
        var texts = result.Tokens.Select(decode).ToArray();
        return Vote(texts, extractAnswer);
    }

    /// <summary>Majority vote over already generated samples.</summary>
    public static SelfConsistencyResult Vote(IReadOnlyList<string> samples, Func<string?, string?> extractAnswer)
    {
        ArgumentNullException.ThrowIfNull(samples);
        ArgumentNullException.ThrowIfNull(extractAnswer);
        var answers = samples.Select(extractAnswer).ToArray();
        var votes = new Dictionary<string, int>(StringComparer.Ordinal);
        var firstSeen = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < answers.Length; i++)
        {
            if (answers[i] is { } a)
            {
                votes[a] = votes.GetValueOrDefault(a) + 1;
                firstSeen.TryAdd(a, i);
            }
        }

        string? winner = votes.Count == 0 ? null : votes.OrderByDescending(kv => kv.Value).ThenBy(kv => firstSeen[kv.Key]).First().Key;
        return new SelfConsistencyResult(winner, votes, samples, answers);
    }
}

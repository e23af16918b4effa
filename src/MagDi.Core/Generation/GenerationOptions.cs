using Microsoft.Extensions.Options;

namespace MagDi.Generation;

/// <summary>Decoding settings for <see cref="TextGenerator"/>.</summary>
public sealed class GenerationOptions
{
    /// <summary>Maximum number of tokens generated per row (default 256).</summary>
    public int MaxNewTokens { get; set; } = 256;

    /// <summary>Sampling temperature; 0 (the default) means greedy decoding.</summary>
    public double Temperature { get; set; }

    /// <summary>Keep only the k most likely tokens before sampling; null or 0 disables.</summary>
    public int? TopK { get; set; }

    /// <summary>Nucleus sampling: keep the smallest set of tokens whose probability reaches p (default 1 = disabled).</summary>
    public double TopP { get; set; } = 1.0;

    /// <summary>Seed of the sampler; null draws one from the system. Same seed + same inputs = same output.</summary>
    public long? Seed { get; set; }

    /// <summary>End-of-sequence ids; null uses the model config's <c>eos_token_id</c>.</summary>
    public IReadOnlyList<int>? EosTokenIds { get; set; }

    /// <summary>Padding id for left padding and finished rows; null uses <c>pad_token_id</c>, else the first EOS id, else 0.</summary>
    public int? PadTokenId { get; set; }

    /// <summary>Stop when a row's generated ids end with one of these sequences (the sequence is removed from the output).</summary>
    public IReadOnlyList<IReadOnlyList<int>> StopTokenSequences { get; set; } = [];

    /// <summary>
    /// Optional stop test over a row's generated ids so far (for example: decode and look for a stop string);
    /// when it returns true the row stops (its ids are kept).
    /// </summary>
    public Func<IReadOnlyList<int>, bool>? StopCondition { get; set; }

    /// <summary>Use the KV cache (default true). False recomputes the whole sequence each step (for benchmarking).</summary>
    public bool UseCache { get; set; } = true;

    /// <summary>Whether decoding samples (temperature &gt; 0) rather than taking the argmax.</summary>
    internal bool IsSampling => Temperature > 0;

    /// <summary>Checks the settings and throws once listing every problem.</summary>
    /// <exception cref="OptionsValidationException">Any setting is out of range; <see cref="OptionsValidationException.Failures"/> lists every problem.</exception>
    public void Validate()
    {
        var errors = new List<string>();
        if (MaxNewTokens < 1)
        {
            errors.Add($"MaxNewTokens must be at least 1 (got {MaxNewTokens})");
        }

        if (!(Temperature >= 0) || double.IsInfinity(Temperature))
        {
            errors.Add($"Temperature must be a finite number >= 0 (got {Temperature})");
        }

        if (TopK is < 0)
        {
            errors.Add($"TopK must be >= 0 (got {TopK})");
        }

        if (!(TopP > 0 && TopP <= 1))
        {
            errors.Add($"TopP must be in (0, 1] (got {TopP})");
        }

        if (StopTokenSequences.Any(s => s is null || s.Count == 0))
        {
            errors.Add("StopTokenSequences contains an empty sequence");
        }

        if (errors.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(GenerationOptions), errors);
        }
    }
}

/// <summary>Why a row stopped.</summary>
public enum FinishReason
{
    /// <summary>Reached <see cref="GenerationOptions.MaxNewTokens"/>.</summary>
    Length,

    /// <summary>Produced an end-of-sequence id.</summary>
    EndOfSequence,

    /// <summary>Produced one of the stop token sequences.</summary>
    StopSequence,

    /// <summary><see cref="GenerationOptions.StopCondition"/> returned true.</summary>
    StopCondition,
}

/// <summary>The result of one generation call.</summary>
public sealed class GenerationResult
{
    internal GenerationResult(IReadOnlyList<IReadOnlyList<int>> tokens, IReadOnlyList<FinishReason> finishReasons, int generatedTokenCount, TimeSpan elapsed)
    {
        Tokens = tokens;
        FinishReasons = finishReasons;
        GeneratedTokenCount = generatedTokenCount;
        Elapsed = elapsed;
    }

    /// <summary>Generated ids per row (prompt, padding, EOS and stop sequences excluded).</summary>
    public IReadOnlyList<IReadOnlyList<int>> Tokens { get; }

    /// <summary>Why each row stopped.</summary>
    public IReadOnlyList<FinishReason> FinishReasons { get; }

    /// <summary>Tokens produced over all rows, EOS and stop-sequence tokens included (the decoding work done).</summary>
    public int GeneratedTokenCount { get; }

    /// <summary>Wall-clock time of the call.</summary>
    public TimeSpan Elapsed { get; }
}

namespace MagDi.Tokenization;

/// <summary>Token ids of a rendered example; the first <see cref="PromptLength"/> ids are the prompt (a loss masks them).</summary>
public sealed class TokenizedExample
{
    internal TokenizedExample(IReadOnlyList<int> ids, int promptLength)
    {
        Ids = ids;
        PromptLength = promptLength;
    }

    /// <summary>BOS (if the tokenizer adds one), prompt ids, target ids, EOS (if requested).</summary>
    public IReadOnlyList<int> Ids { get; }

    /// <summary>Number of leading ids that belong to the prompt, BOS included.</summary>
    public int PromptLength { get; }

    /// <summary>Number of target ids (EOS included).</summary>
    public int TargetLength => Ids.Count - PromptLength;
}

/// <summary>Tokenizes rendered (prompt, target) examples with an exact prompt/target boundary.</summary>
public static class PromptTokenization
{
    /// <summary>
    /// Tokenizes a rendered example as <c>[BOS] Encode(prompt) EncodeContinuation(target) [EOS]</c>. The target is
    /// encoded as a continuation of the prompt (no prefix space or "▁" is added at its start), so the prompt's ids
    /// are exactly the leading ids; for the built-in <see cref="PromptFormat"/>s this equals encoding
    /// <c>prompt + target</c> in one go. BOS is added when <see cref="SpecialTokens.AddBosToken"/> is set.
    /// </summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <param name="example">The rendered example.</param>
    /// <param name="appendEos">Append EOS after a non-empty target unless the target already ends with it (ChatML's <c>&lt;|im_end|&gt;</c> is Qwen's EOS).</param>
    /// <returns>The ids and the prompt length.</returns>
    /// <exception cref="InvalidOperationException">EOS was requested but the tokenizer has none, or a tokenizer of another kind cannot split the example at the boundary.</exception>
    public static TokenizedExample TokenizeExample(this ITextTokenizer tokenizer, RenderedExample example, bool appendEos = true)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(example);
        var ids = new List<int>();
        if (tokenizer.Special.AddBosToken && tokenizer.Special.BosId is int bos)
        {
            ids.Add(bos);
        }

        IReadOnlyList<int> promptIds = tokenizer.Encode(example.Prompt);
        IReadOnlyList<int> targetIds = EncodeContinuation(tokenizer, example.Prompt, promptIds, example.Target);
        ids.AddRange(promptIds);
        int promptLength = ids.Count;
        ids.AddRange(targetIds);
        if (appendEos && example.Target.Length > 0)
        {
            int eos = tokenizer.Special.EosId
                ?? throw new InvalidOperationException("The tokenizer has no EOS token; pass appendEos: false or set eos_token in tokenizer_config.json.");
            if (targetIds.Count == 0 || targetIds[^1] != eos)
            {
                ids.Add(eos);
            }
        }

        return new TokenizedExample(ids, promptLength);
    }

    /// <summary>Renders a (user, target) pair with <paramref name="format"/> and tokenizes it (see <see cref="TokenizeExample(ITextTokenizer, RenderedExample, bool)"/>).</summary>
    /// <param name="tokenizer">The tokenizer.</param>
    /// <param name="format">The prompt format; its required tokens must exist in the tokenizer.</param>
    /// <param name="userMessage">The user message.</param>
    /// <param name="assistantTarget">The answer to learn.</param>
    /// <param name="systemPrompt">An optional system prompt.</param>
    /// <param name="appendEos">Append EOS after the target.</param>
    /// <returns>The ids and the prompt length.</returns>
    public static TokenizedExample TokenizeExample(
        this ITextTokenizer tokenizer,
        PromptFormat format,
        string userMessage,
        string assistantTarget,
        string? systemPrompt = null,
        bool appendEos = true)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(format);
        foreach (string token in format.RequiredTokens)
        {
            if (tokenizer.TokenToId(token) is null)
            {
                throw new InvalidOperationException($"Prompt format {format.Name} needs the token {token}, which this tokenizer does not have.");
            }
        }

        return tokenizer.TokenizeExample(format.Render(userMessage, assistantTarget, systemPrompt), appendEos);
    }

    private static IReadOnlyList<int> EncodeContinuation(ITextTokenizer tokenizer, string prompt, IReadOnlyList<int> promptIds, string target)
    {
        if (target.Length == 0)
        {
            return [];
        }

        if (tokenizer is HuggingFaceTokenizer hf)
        {
            return hf.EncodeContinuation(target);
        }

        // Other tokenizers: encode the whole text and check that it starts with the prompt's ids.
        IReadOnlyList<int> all = tokenizer.Encode(prompt + target);
        if (all.Count < promptIds.Count || !all.Take(promptIds.Count).SequenceEqual(promptIds))
        {
            throw new InvalidOperationException(
                "The prompt/target boundary falls inside a token for this tokenizer; end the prompt with a newline or start the target with a space.");
        }

        return [.. all.Skip(promptIds.Count)];
    }
}

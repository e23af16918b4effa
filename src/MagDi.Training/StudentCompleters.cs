using MagDi.Generation;
using MagDi.Modeling;
using MagDi.Tokenization;
using Microsoft.Extensions.AI;

namespace MagDi.Training;

/// <summary>One test-time prompt: the id names it in messages (and seeds a local student's samplers).</summary>
internal sealed record StudentPrompt(string Id, string Text);

/// <summary>The k completions of one prompt.</summary>
/// <param name="Texts">The completions' texts, in sample order (empty when <paramref name="Error"/> is set).</param>
/// <param name="OutputTokens">Tokens of the completions (a local student: without EOS; a served one: the usage's output tokens).</param>
/// <param name="ProducedTokens">Tokens the student produced for them (a local student: EOS included).</param>
/// <param name="Error">Why this prompt got no completion, or null.</param>
internal sealed record StudentCompletions(IReadOnlyList<string> Texts, int OutputTokens, long ProducedTokens, string? Error = null);

/// <summary>The evaluator's seam: produce k completions per prompt, from a local model or a served one.</summary>
internal interface IStudentCompleter
{
    /// <summary>Completes every prompt <paramref name="samples"/> times; results in prompt order; progress counts finished prompts.</summary>
    Task<IReadOnlyList<StudentCompletions>> CompleteAsync(IReadOnlyList<StudentPrompt> prompts, int samples, IProgress<int>? progress, CancellationToken cancellationToken);
}

/// <summary>The decoding settings of an evaluation strategy.</summary>
internal static class StudentDecoding
{
    public static (double Temperature, double TopP, int? TopK) Of(DecodingStrategy strategy) =>
        strategy == DecodingStrategy.Paper ? (0.7, 0.9, 50) : (0.0, 1.0, null);
}

/// <summary>A student in this process: continuous batching with shared-prompt prefill (<see cref="TextGenerator.GenerateBatched"/>).</summary>
internal sealed class LocalStudentCompleter(CausalLanguageModel model, ITextTokenizer tokenizer, EvaluationOptions options) : IStudentCompleter
{
    public Task<IReadOnlyList<StudentCompletions>> CompleteAsync(IReadOnlyList<StudentPrompt> prompts, int samples, IProgress<int>? progress, CancellationToken cancellationToken) =>
        Task.Factory.StartNew(() => Complete(prompts, samples, progress, cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    private IReadOnlyList<StudentCompletions> Complete(IReadOnlyList<StudentPrompt> prompts, int samples, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        var eos = new List<int>();
        if (tokenizer.Special.EosId is int e)
        {
            eos.Add(e);
        }

        eos.AddRange(model.Config.EosTokenIds.Where(id => !eos.Contains(id)));
        var (temperature, topP, topK) = StudentDecoding.Of(options.Decoding);
        var generation = new GenerationOptions
        {
            MaxNewTokens = options.MaxNewTokens,
            EosTokenIds = eos,
            PadTokenId = tokenizer.Special.PadId ?? eos.FirstOrDefault(),
            Seed = options.Seed,
            Temperature = temperature,
            TopP = topP,
            TopK = topK,
        };
        var requests = prompts
            .Select(p => new GenerationRequest(tokenizer.TokenizeExample(new RenderedExample(p.Text, string.Empty), appendEos: false).Ids) { Id = p.Id, Samples = samples })
            .ToList();
        BatchGenerationResult result = new TextGenerator(model).GenerateBatched(requests, generation, Math.Max(options.BatchSize, samples), progress, cancellationToken);
        return [.. result.Results.Select(r => r.Error is { } error
            ? new StudentCompletions([], 0, 0, error)
            : new StudentCompletions([.. r.Tokens.Select(Decode)], r.Tokens.Sum(t => t.Count), r.GeneratedTokenCount))];
    }

    /// <summary>
    /// Decodes generated ids; ids past the tokenizer's vocabulary (checkpoints often pad the embedding matrix) have no text
    /// and are skipped rather than failing the whole evaluation.
    /// </summary>
    private string Decode(IReadOnlyList<int> ids) =>
        tokenizer.Decode(ids.Where(id => id < tokenizer.VocabularySize), skipSpecialTokens: true);
}

/// <summary>
/// A student served elsewhere behind an <see cref="IChatClient"/>: one chat request per sample (the prompt as the user
/// message), <see cref="EvaluationOptions.BatchSize"/> requests in flight, each sample seeded with the evaluation seed
/// plus its index so that engines honouring seeds give k different, reproducible samples.
/// </summary>
internal sealed class ChatStudentCompleter(IChatClient client, EvaluationOptions options) : IStudentCompleter
{
    public async Task<IReadOnlyList<StudentCompletions>> CompleteAsync(IReadOnlyList<StudentPrompt> prompts, int samples, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        var texts = new string[prompts.Count][];
        var tokens = new long[prompts.Count];
        var remaining = new int[prompts.Count];
        for (int i = 0; i < prompts.Count; i++)
        {
            texts[i] = new string[samples];
            remaining[i] = samples;
        }

        int done = 0;
        var (temperature, topP, topK) = StudentDecoding.Of(options.Decoding);
        using var gate = new SemaphoreSlim(Math.Max(options.BatchSize, 1));
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken); // the first failure stops the rest
        IOException? firstFailure = null;

        async Task SampleAsync(int i, int j)
        {
            await gate.WaitAsync(failed.Token).ConfigureAwait(false);
            try
            {
                var chatOptions = new ChatOptions
                {
                    MaxOutputTokens = options.MaxNewTokens,
                    Temperature = (float)temperature,
                    TopP = topP < 1 ? (float)topP : null,
                    TopK = topK,
                    Seed = options.Seed + ((long)i * samples) + j,
                };
                ChatResponse response;
                try
                {
                    response = await client.GetResponseAsync([new ChatMessage(ChatRole.User, prompts[i].Text)], chatOptions, failed.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                {
                    // Only the first failure is reported. Requests that fail after it (cancelled by it, or failing on
                    // their own at the same moment) are not: whichever of them WhenAll would surface first is a race.
                    var failure = new IOException($"The served student failed on question '{prompts[i].Id}' (sample {j + 1} of {samples}): {e.Message}", e);
                    if (Interlocked.CompareExchange(ref firstFailure, failure, null) is null)
                    {
                        await failed.CancelAsync().ConfigureAwait(false);
                    }

                    return;
                }

                texts[i][j] = response.Text ?? string.Empty;
                Interlocked.Add(ref tokens[i], response.Usage?.OutputTokenCount ?? 0);
                if (Interlocked.Decrement(ref remaining[i]) == 0)
                {
                    progress?.Report(Interlocked.Increment(ref done));
                }
            }
            finally
            {
                gate.Release();
            }
        }

        var tasks = new List<Task>(prompts.Count * samples);
        for (int i = 0; i < prompts.Count; i++)
        {
            for (int j = 0; j < samples; j++)
            {
                tasks.Add(SampleAsync(i, j));
            }
        }

        try
        {
            await Task.WhenAll(tasks).ConfigureAwait(false);
        }
        catch (Exception) when (cancellationToken.IsCancellationRequested)
        {
            // The caller cancelled: that, not what the requests failed with as they were torn down, is the outcome.
            cancellationToken.ThrowIfCancellationRequested();
        }
        catch (OperationCanceledException) when (Volatile.Read(ref firstFailure) is not null)
        {
            // Requests still waiting for the gate were cancelled by the failure reported below.
        }

        if (Volatile.Read(ref firstFailure) is { } error)
        {
            throw error;
        }

        return [.. texts.Select((t, i) => new StudentCompletions(t, (int)Math.Min(int.MaxValue, tokens[i]), tokens[i]))];
    }
}

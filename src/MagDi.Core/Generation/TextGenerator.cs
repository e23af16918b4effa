using System.Diagnostics;
using MagDi.Modeling;
using MagDi.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Generation;

/// <summary>
/// Batched autoregressive decoding over token ids: prompts are left-padded into one batch, the prompt is run once
/// into a preallocated KV cache, then one token per step. Greedy, temperature, top-k and top-p sampling; stops on
/// EOS ids, stop token sequences or a caller-supplied test.
/// </summary>
/// <example>
/// <code>
/// var generator = new TextGenerator(model);
/// GenerationResult result = generator.Generate([promptIds], new GenerationOptions { MaxNewTokens = 128 });
/// string text = tokenizer.Decode(result.Tokens[0]);
/// </code>
/// </example>
public sealed class TextGenerator
{
    private readonly CausalLanguageModel _model;

    /// <summary>Creates a generator over <paramref name="model"/> (which it puts in eval mode while generating).</summary>
    public TextGenerator(CausalLanguageModel model)
    {
        _model = model ?? throw new ArgumentNullException(nameof(model));
    }

    /// <summary>Generates a continuation for each prompt.</summary>
    /// <param name="prompts">Token ids of each prompt (at least one id each).</param>
    /// <param name="options">Decoding settings; validated.</param>
    /// <param name="cancellationToken">Checked between decoding steps.</param>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">The options are invalid (every problem listed).</exception>
    /// <exception cref="ArgumentException">Empty prompts, or a prompt plus MaxNewTokens longer than max_position_embeddings.</exception>
    /// <exception cref="NonFiniteException">The logits of a step hold NaN or infinite values; the message names the step and any non-finite weights.</exception>
    public GenerationResult Generate(IReadOnlyList<IReadOnlyList<int>> prompts, GenerationOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (prompts.Count == 0 || prompts.Any(p => p is null || p.Count == 0))
        {
            throw new ArgumentException("Every prompt needs at least one token id.", nameof(prompts));
        }

        TorchRuntime.EnsureInitialized();
        var clock = Stopwatch.StartNew();
        IReadOnlyList<int> eos = options.EosTokenIds ?? _model.Config.EosTokenIds;
        int pad = options.PadTokenId ?? _model.Config.PadTokenId ?? (eos.Count > 0 ? eos[0] : 0);
        int batch = prompts.Count;
        int promptLength = prompts.Max(p => p.Count);
        long needed = (long)promptLength + options.MaxNewTokens; // long: MaxNewTokens may be int.MaxValue
        if (needed > _model.Config.MaxPositionEmbeddings)
        {
            throw new ArgumentException(
                $"Prompt length {promptLength} + MaxNewTokens {options.MaxNewTokens} exceeds max_position_embeddings {_model.Config.MaxPositionEmbeddings} " +
                $"(at most {Math.Max(0, _model.Config.MaxPositionEmbeddings - promptLength)} new tokens fit after this prompt).",
                nameof(options));
        }

        int capacity = (int)needed;

        bool wasTraining = _model.training;
        _model.eval();
        using var noGrad = no_grad();
        using var sampler = new Sampler(options);
        Device device = _model.Device;

        // Left padding: row b is [pad ... pad, prompt_b].
        var idsArray = new long[batch * promptLength];
        var maskArray = new long[batch * promptLength];
        for (int b = 0; b < batch; b++)
        {
            int offset = promptLength - prompts[b].Count;
            for (int i = 0; i < promptLength; i++)
            {
                idsArray[(b * promptLength) + i] = i < offset ? pad : prompts[b][i - offset];
                maskArray[(b * promptLength) + i] = i < offset ? 0 : 1;
            }
        }

        Tensor ids = tensor(idsArray, [batch, promptLength], device: device).DetachFromDisposeScope();   // [B,L]
        Tensor mask = tensor(maskArray, [batch, promptLength], device: device).DetachFromDisposeScope(); // [B,L]
        KvCache? cache = options.UseCache ? KvCache.Create(_model, batch, capacity) : null;
        var generated = Enumerable.Range(0, batch).Select(_ => new List<int>()).ToArray();
        var reasons = new FinishReason?[batch];
        int produced = 0;
        try
        {
            Tensor stepInput = ids;
            for (int step = 0; step < options.MaxNewTokens; step++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                int[] next;
                using (var scope = NewDisposeScope())
                {
                    Tensor input = cache is null ? ids : stepInput;
                    // Only the last position's logits are sampled from: skip the output head for the rest of the prompt.
                    Tensor logits = _model.call(new CausalLMInput(input, mask, cache, LogitsToKeep: 1)).Logits; // [B,1,V]
                    Tensor last = logits.select(1, 0);                                                             // [B,V]
                    next = sampler.Next(last, out float[] rowMax);
                    // The sampler already copies the logits to the host each step; the row maxima come with them, so this
                    // check costs no extra device sync. A NaN anywhere in a row makes its maximum NaN, +inf makes it +inf,
                    // and a row of -inf has no finite maximum: non-finite weights never turn into empty or random text.
                    for (int b = 0; b < batch; b++)
                    {
                        if (reasons[b] is null && !float.IsFinite(rowMax[b]))
                        {
                            throw NonFiniteException.ForModel(_model, "logits", $"The logits at generation step {step} (prompt {b})", step);
                        }
                    }
                }

                var column = new long[batch];
                for (int b = 0; b < batch; b++)
                {
                    if (reasons[b] is not null)
                    {
                        column[b] = pad;
                        continue;
                    }

                    produced++;
                    column[b] = next[b];
                    reasons[b] = Append(generated[b], next[b], eos, options);
                }

                if (reasons.All(r => r is not null) || step == options.MaxNewTokens - 1)
                {
                    break;
                }

                Tensor columnTensor = tensor(column, [batch, 1], device: device);
                Tensor newIds = cat([ids, columnTensor], 1).DetachFromDisposeScope();
                Tensor newMask = cat([mask, ones([batch, 1], ScalarType.Int64, device)], 1).DetachFromDisposeScope();
                if (!ReferenceEquals(stepInput, ids))
                {
                    stepInput.Dispose();
                }

                ids.Dispose();
                mask.Dispose();
                ids = newIds;
                mask = newMask;
                stepInput = columnTensor.DetachFromDisposeScope();
            }
        }
        finally
        {
            cache?.Dispose();
            ids.Dispose();
            mask.Dispose();
            if (wasTraining)
            {
                _model.train();
            }
        }

        return new GenerationResult(generated, reasons.Select(r => r ?? FinishReason.Length).ToArray(), produced, clock.Elapsed);
    }

    /// <summary>
    /// Generates every request with continuous batching: up to <paramref name="maxBatchSize"/> sequences are decoded together,
    /// and when one finishes the next waiting sequence takes its slot, so no row idles until the longest one ends. A request's
    /// prompt is prefilled once for all its <see cref="GenerationRequest.Samples"/>. Greedy outputs equal decoding each
    /// request alone; sampled outputs depend only on <see cref="GenerationOptions.Seed"/>, the request's id and the sample
    /// index, not on the batch size or the order of the requests. A request whose prompt plus
    /// <see cref="GenerationOptions.MaxNewTokens"/> exceeds max_position_embeddings (or whose prompt is empty) is rejected in
    /// its result (<see cref="GenerationRequestResult.Error"/>, naming the request); the others are generated.
    /// Always uses the KV cache (<see cref="GenerationOptions.UseCache"/> is ignored).
    /// </summary>
    /// <param name="requests">The prompts; results come back in this order.</param>
    /// <param name="options">Decoding settings; validated.</param>
    /// <param name="maxBatchSize">Sequences in flight at most (default 16).</param>
    /// <param name="progress">Receives the number of finished requests each time one finishes.</param>
    /// <param name="cancellationToken">Checked between decoding steps.</param>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">The options are invalid (every problem listed).</exception>
    /// <exception cref="ArgumentException">A request with fewer than one sample, or duplicate request ids.</exception>
    /// <exception cref="NonFiniteException">The logits of a step hold NaN or infinite values; the message names the request and the step.</exception>
    public BatchGenerationResult GenerateBatched(
        IReadOnlyList<GenerationRequest> requests,
        GenerationOptions options,
        int maxBatchSize = 16,
        IProgress<int>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBatchSize, 1);
        var problems = new List<string>();
        for (int i = 0; i < requests.Count; i++)
        {
            if (requests[i] is null || requests[i].PromptIds is null)
            {
                problems.Add($"request {i} is null or has no prompt");
            }
            else if (requests[i].Samples < 1)
            {
                problems.Add($"request '{requests[i].Id ?? i.ToString(System.Globalization.CultureInfo.InvariantCulture)}' asks for {requests[i].Samples} samples (at least 1)");
            }
        }

        var duplicates = requests.Select((r, i) => r?.Id ?? i.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .GroupBy(id => id, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => $"'{g.Key}'").ToList();
        if (duplicates.Count > 0)
        {
            problems.Add($"request ids must be unique (they seed the samplers); repeated: {string.Join(", ", duplicates)}");
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException($"Invalid generation requests: {string.Join("; ", problems)}.", nameof(requests));
        }

        return new ContinuousBatchScheduler(_model, options, maxBatchSize).Run(requests, progress, cancellationToken);
    }

    internal static FinishReason? Append(List<int> row, int token, IReadOnlyList<int> eos, GenerationOptions options)
    {
        if (eos.Contains(token))
        {
            return FinishReason.EndOfSequence;
        }

        row.Add(token);
        foreach (IReadOnlyList<int> stop in options.StopTokenSequences)
        {
            if (row.Count >= stop.Count && Enumerable.Range(0, stop.Count).All(i => row[row.Count - stop.Count + i] == stop[i]))
            {
                row.RemoveRange(row.Count - stop.Count, stop.Count);
                return FinishReason.StopSequence;
            }
        }

        return options.StopCondition?.Invoke(row) == true ? FinishReason.StopCondition : null;
    }

    /// <summary>
    /// The sampling distribution's logits: <paramref name="x"/> [N,V] divided by the temperature, then top-k and
    /// top-p (nucleus) filtering (removed tokens get -inf; the top token is never removed). The static decoder samples
    /// from it; continuous batching draws from the same distribution on the host (<see cref="RowSampler"/>, tested
    /// against this).
    /// </summary>
    internal static Tensor FilterLogits(Tensor x, GenerationOptions options)
    {
        x = x.Over(options.Temperature);
        if (options.TopK is > 0 && options.TopK < x.shape[1])
        {
            Tensor kth = x.topk(options.TopK.Value, -1).values.narrow(1, options.TopK.Value - 1, 1); // [N,1]
            x = x.masked_fill(x < kth, Scalars.NegativeInfinity);
        }

        if (options.TopP < 1.0)
        {
            var (sorted, order) = x.sort(-1, descending: true);
            Tensor probs = sorted.softmax(-1);
            Tensor before = probs.cumsum(-1) - probs;                     // mass strictly before each token
            Tensor drop = before.AtLeast(options.TopP);                        // never drops the top token
            Tensor dropOriginal = zeros_like(drop).scatter(1, order, drop);
            x = x.masked_fill(dropOriginal, Scalars.NegativeInfinity);
        }

        return x;
    }

    /// <summary>Turns last-position logits into next ids; sampling runs on CPU in f32 with its own seeded generator.</summary>
    private sealed class Sampler : IDisposable
    {
        private readonly GenerationOptions _options;
        private readonly Generator? _generator;

        public Sampler(GenerationOptions options)
        {
            _options = options;
            if (options.IsSampling)
            {
                _generator = new Generator((ulong)(options.Seed ?? Random.Shared.NextInt64()), CPU);
            }
        }

        /// <summary>The next id of each row, and each row's largest logit (NaN when the row holds a NaN).</summary>
        public int[] Next(Tensor logits, out float[] rowMax)
        {
            using var scope = NewDisposeScope();
            Tensor x = logits.to_type(ScalarType.Float32).to(CPU); // [B,V]
            var (maxValues, argmax) = x.max(-1);                  // torch.max propagates NaN
            rowMax = maxValues.data<float>().ToArray();
            if (!_options.IsSampling)
            {
                return argmax.to_type(ScalarType.Int32).data<int>().ToArray();
            }

            if (rowMax.Any(v => !float.IsFinite(v)))
            {
                // The caller throws for a live row; a finished row's sample is discarded, but multinomial must not see NaN.
                x = where(maxValues.isfinite().unsqueeze(1), x, zeros_like(x));
            }

            x = FilterLogits(x, _options);
            return x.softmax(-1).multinomial(1, generator: _generator).squeeze(1).to_type(ScalarType.Int32).data<int>().ToArray();
        }

        public void Dispose() => _generator?.Dispose();
    }
}

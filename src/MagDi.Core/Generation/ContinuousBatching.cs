using System.Diagnostics;
using System.Globalization;
using System.Text;
using MagDi.Modeling;
using MagDi.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Generation;

/// <summary>One prompt for <see cref="TextGenerator.GenerateBatched"/>, sampled <see cref="Samples"/> times.</summary>
public sealed class GenerationRequest
{
    /// <summary>Creates a <see cref="GenerationRequest"/>.</summary>
    /// <param name="promptIds">Token ids of the prompt (at least one).</param>
    public GenerationRequest(IReadOnlyList<int> promptIds)
    {
        PromptIds = promptIds;
    }

    /// <summary>Token ids of the prompt (at least one).</summary>
    public IReadOnlyList<int> PromptIds { get; }

    /// <summary>
    /// Names the request in messages and seeds its samplers (with <see cref="GenerationOptions.Seed"/>); null uses its
    /// index in the list. Give stable ids when the same request must sample the same text in another call or order.
    /// </summary>
    public string? Id { get; init; }

    /// <summary>Sequences generated from this prompt (self-consistency samples); the prompt is prefilled once for all of them. Default 1.</summary>
    public int Samples { get; init; } = 1;
}

/// <summary>The outcome of one <see cref="GenerationRequest"/>.</summary>
public sealed class GenerationRequestResult
{
    internal GenerationRequestResult(string id, IReadOnlyList<IReadOnlyList<int>> tokens, IReadOnlyList<FinishReason> finishReasons, int generatedTokenCount, string? error)
    {
        Id = id;
        Tokens = tokens;
        FinishReasons = finishReasons;
        GeneratedTokenCount = generatedTokenCount;
        Error = error;
    }

    /// <summary>The request's id (its index when it had none).</summary>
    public string Id { get; }

    /// <summary>Generated ids per sample (EOS and stop sequences excluded); empty when rejected.</summary>
    public IReadOnlyList<IReadOnlyList<int>> Tokens { get; }

    /// <summary>Why each sample stopped; empty when rejected.</summary>
    public IReadOnlyList<FinishReason> FinishReasons { get; }

    /// <summary>Tokens produced over the samples, EOS and stop-sequence tokens included.</summary>
    public int GeneratedTokenCount { get; }

    /// <summary>Why the request was rejected (for example a prompt too long for the model), or null.</summary>
    public string? Error { get; }

    /// <summary>Whether the request was generated (not rejected).</summary>
    public bool Succeeded => Error is null;
}

/// <summary>The result of <see cref="TextGenerator.GenerateBatched"/>.</summary>
public sealed class BatchGenerationResult
{
    internal BatchGenerationResult(IReadOnlyList<GenerationRequestResult> results, int generatedTokenCount, TimeSpan elapsed)
    {
        Results = results;
        GeneratedTokenCount = generatedTokenCount;
        Elapsed = elapsed;
    }

    /// <summary>One result per request, in request order.</summary>
    public IReadOnlyList<GenerationRequestResult> Results { get; }

    /// <summary>Tokens produced over all requests.</summary>
    public int GeneratedTokenCount { get; }

    /// <summary>Wall-clock time of the call.</summary>
    public TimeSpan Elapsed { get; }
}

/// <summary>
/// A sampler's random stream (SplitMix64), seeded from the call's seed, the request id and the sample index, so that a
/// sequence draws the same numbers whatever the batch size, the slot it lands in or the order of the requests.
/// </summary>
internal struct SampleStream
{
    private ulong _state;

    public SampleStream(long seed, string requestId, int sample)
    {
        ulong h = 14695981039346656037UL; // FNV-1a over the id's UTF-8 bytes
        foreach (byte b in Encoding.UTF8.GetBytes(requestId))
        {
            h = (h ^ b) * 1099511628211UL;
        }

        _state = Mix(Mix((ulong)seed) ^ h) ^ Mix((ulong)sample + 0x51ED27UL);
    }

    /// <summary>A uniform number in (0, 1].</summary>
    public double NextDouble()
    {
        _state += 0x9E3779B97F4A7C15UL;
        return ((Mix(_state) >> 11) + 1) * (1.0 / (1UL << 53));
    }

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

/// <summary>
/// Continuous batching (as in vLLM or TGI) over one KV cache of <c>rows</c> slots: a scheduler keeps up to that many
/// sequences in flight, and when a sequence finishes the next waiting one takes its slot. Each request's prompt is
/// prefilled once on its own (shared by all its samples) and its keys and values are copied into the slots, right-aligned
/// at the common write position; each row's attention mask starts at its own first prompt position, so rope positions
/// are per row. The cache is compacted (finished rows dropped, dead positions on the left removed) so the left-padding
/// waste stays bounded.
/// </summary>
internal sealed class ContinuousBatchScheduler
{
    private readonly CausalLanguageModel _model;
    private readonly GenerationOptions _options;
    private readonly int _maxRows;
    private readonly IReadOnlyList<int> _eos;
    private readonly int _pad;

    public ContinuousBatchScheduler(CausalLanguageModel model, GenerationOptions options, int maxRows)
    {
        _model = model;
        _options = options;
        _maxRows = maxRows;
        _eos = options.EosTokenIds ?? model.Config.EosTokenIds;
        _pad = options.PadTokenId ?? model.Config.PadTokenId ?? (_eos.Count > 0 ? _eos[0] : 0);
    }

    private sealed class Sequence(int request, string id, int sample, SampleStream stream)
    {
        private SampleStream _stream = stream;

        public int Request { get; } = request;

        public string Id { get; } = id;

        public int Sample { get; } = sample;

        public double NextUniform() => _stream.NextDouble();

        public List<int> Tokens { get; } = [];

        public int Produced { get; set; }

        public FinishReason? Reason { get; set; }

        public int NextToken { get; set; }
    }

    private sealed class Prefix(int request, KvCache cache, Tensor lastLogits) : IDisposable
    {
        public int Request { get; } = request;

        public KvCache Cache { get; } = cache;

        public Tensor LastLogits { get; } = lastLogits; // [1,V] float32 on the CPU

        public int NextSample { get; set; }

        public void Dispose()
        {
            Cache.Dispose();
            LastLogits.Dispose();
        }
    }

    public BatchGenerationResult Run(IReadOnlyList<GenerationRequest> requests, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        TorchRuntime.EnsureInitialized();
        var clock = Stopwatch.StartNew();
        int n = requests.Count;
        string[] ids = [.. requests.Select((r, i) => r.Id ?? i.ToString(CultureInfo.InvariantCulture))];
        var errors = new string?[n];
        int maxPositions = _model.Config.MaxPositionEmbeddings;
        for (int i = 0; i < n; i++)
        {
            IReadOnlyList<int> prompt = requests[i].PromptIds;
            long needed = (long)prompt.Count + _options.MaxNewTokens;
            if (prompt.Count == 0)
            {
                errors[i] = $"Request '{ids[i]}': the prompt is empty (it needs at least one token id).";
            }
            else if (needed > maxPositions)
            {
                errors[i] = $"Request '{ids[i]}': prompt length {prompt.Count} + MaxNewTokens {_options.MaxNewTokens} exceeds max_position_embeddings {maxPositions} " +
                            $"(at most {Math.Max(0, maxPositions - prompt.Count)} new tokens fit after this prompt).";
            }
        }

        var accepted = Enumerable.Range(0, n).Where(i => errors[i] is null).ToList();
        var sequences = new Sequence[n][];
        long seed = _options.Seed ?? Random.Shared.NextInt64();
        foreach (int i in accepted)
        {
            sequences[i] = [.. Enumerable.Range(0, requests[i].Samples).Select(s => new Sequence(i, ids[i], s, new SampleStream(seed, ids[i], s)))];
        }

        if (accepted.Count > 0)
        {
            bool wasTraining = _model.training;
            _model.eval();
            try
            {
                using var noGrad = no_grad();
                Decode(requests, ids, accepted, sequences, errors, progress, cancellationToken);
            }
            finally
            {
                if (wasTraining)
                {
                    _model.train();
                }
            }
        }

        var results = new GenerationRequestResult[n];
        int total = 0;
        for (int i = 0; i < n; i++)
        {
            if (errors[i] is { } error)
            {
                results[i] = new GenerationRequestResult(ids[i], [], [], 0, error);
                continue;
            }

            int produced = sequences[i].Sum(s => s.Produced);
            total += produced;
            results[i] = new GenerationRequestResult(ids[i], [.. sequences[i].Select(s => (IReadOnlyList<int>)s.Tokens)], [.. sequences[i].Select(s => s.Reason ?? FinishReason.Length)], produced, null);
        }

        return new BatchGenerationResult(results, total, clock.Elapsed);
    }

    private void Decode(IReadOnlyList<GenerationRequest> requests, string[] ids, List<int> accepted, Sequence[][] sequences, string?[] errors, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        Device device = _model.Device;
        int maxNew = _options.MaxNewTokens;
        // Every prompt ends at the common write position, which therefore never drops below the longest prompt;
        // capacity leaves room for the longest sequence plus slack so that compactions stay rare.
        int longestPrompt = accepted.Max(i => requests[i].PromptIds.Count);
        int capacity = (int)Math.Min(_model.Config.MaxPositionEmbeddings, (long)longestPrompt + (2L * maxNew));
        int totalSamples = accepted.Sum(i => requests[i].Samples);
        int rows = Math.Min(_maxRows, totalSamples);
        var slots = new Sequence?[rows];
        var starts = new long[rows];
        var remaining = accepted.ToDictionary(i => i, i => requests[i].Samples);
        var waiting = new Queue<int>(accepted);
        int completedRequests = errors.Count(e => e is not null);
        Prefix? prefix = null;
        KvCache? cache = null;
        long position = longestPrompt;
        int step = 0;

        void Finish(Sequence sequence)
        {
            if (--remaining[sequence.Request] == 0)
            {
                progress?.Report(++completedRequests);
            }
        }

        try
        {
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();

                // 1. Admission: waiting sequences take free slots; a request's prompt is prefilled once for all its samples.
                while ((prefix is not null || waiting.Count > 0) && Array.IndexOf(slots, null) >= 0)
                {
                    prefix ??= Prefill(waiting.Dequeue(), requests, ids);
                    Sequence[] samples = sequences[prefix.Request];
                    int free = slots.Count(s => s is null);
                    int take = Math.Min(free, samples.Length - prefix.NextSample);
                    Sequence[] admitted = samples[prefix.NextSample..(prefix.NextSample + take)];
                    prefix.NextSample += take;
                    using (var scope = NewDisposeScope())
                    {
                        int[] first = Sample(prefix.LastLogits.expand(take, -1), admitted, step);
                        for (int a = 0; a < take; a++)
                        {
                            if (Accept(admitted[a], first[a]))
                            {
                                Finish(admitted[a]);
                                continue;
                            }

                            cache ??= KvCache.Create(_model, rows, capacity);
                            int row = Array.IndexOf(slots, null);
                            int length = requests[prefix.Request].PromptIds.Count;
                            cache.CopyRowFrom(prefix.Cache, 0, 0, length, row, position - length);
                            slots[row] = admitted[a];
                            starts[row] = position - length;
                        }
                    }

                    if (prefix.NextSample == samples.Length)
                    {
                        prefix.Dispose();
                        prefix = null;
                    }
                }

                int live = slots.Count(s => s is not null);
                if (live == 0)
                {
                    if (prefix is null && waiting.Count == 0)
                    {
                        return;
                    }

                    continue;
                }

                // 2. Layout: drop finished rows once nothing waits, and cut dead positions on the left when they are many or
                // the next write would not fit (never below the longest prompt while prompts may still arrive).
                bool admitting = prefix is not null || waiting.Count > 0;
                long oldest = Enumerable.Range(0, slots.Length).Where(r => slots[r] is not null).Min(r => starts[r]);
                long cut = admitting ? Math.Min(oldest, position - longestPrompt) : oldest;
                bool shrink = !admitting && live < slots.Length && live * 4 <= slots.Length * 3;
                if (shrink || position >= capacity || (cut >= 32 && cut * 2 >= position))
                {
                    int[] keep = shrink ? [.. Enumerable.Range(0, slots.Length).Where(r => slots[r] is not null)] : [.. Enumerable.Range(0, slots.Length)];
                    using (Tensor index = tensor(keep.Select(r => (long)r).ToArray(), device: device))
                    {
                        cache = cache!.Relayout(index, cut, position - cut, 0);
                    }

                    slots = [.. keep.Select(r => slots[r])];
                    starts = [.. keep.Select(r => Math.Max(0, starts[r] - cut))];
                    position -= cut;
                }

                // 3. One decoding step for every slot: each live row feeds its last token at the common position.
                int batch = slots.Length;
                var input = new long[batch];
                var mask = new long[batch * (position + 1)];
                for (int r = 0; r < batch; r++)
                {
                    if (slots[r] is { } sequence)
                    {
                        input[r] = sequence.NextToken;
                        Array.Fill(mask, 1L, (int)((r * (position + 1)) + starts[r]), (int)(position + 1 - starts[r]));
                    }
                    else
                    {
                        input[r] = _pad;
                    }
                }

                step++;
                using (var scope = NewDisposeScope())
                {
                    Tensor inputIds = tensor(input, [batch, 1], device: device);                 // [B,1]
                    Tensor attention = tensor(mask, [batch, position + 1], device: device);      // [B,S]
                    cache!.Length = (int)position;
                    Tensor logits = _model.call(new CausalLMInput(inputIds, attention, cache, LogitsToKeep: 1)).Logits.select(1, 0); // [B,V]
                    position++;
                    int[] liveRows = [.. Enumerable.Range(0, batch).Where(r => slots[r] is not null)];
                    Sequence[] liveSequences = [.. liveRows.Select(r => slots[r]!)];
                    Tensor liveLogits = liveRows.Length == batch ? logits : logits.index_select(0, tensor(liveRows.Select(r => (long)r).ToArray(), device: logits.device));
                    int[] next = Sample(liveLogits, liveSequences, step);
                    for (int j = 0; j < liveRows.Length; j++)
                    {
                        if (Accept(liveSequences[j], next[j]))
                        {
                            slots[liveRows[j]] = null;
                            Finish(liveSequences[j]);
                        }
                    }
                }
            }
        }
        finally
        {
            prefix?.Dispose();
            cache?.Dispose();
        }
    }

    /// <summary>Prefills one prompt alone into its own cache; keeps the last position's logits for the first tokens.</summary>
    private Prefix Prefill(int request, IReadOnlyList<GenerationRequest> requests, string[] ids)
    {
        IReadOnlyList<int> prompt = requests[request].PromptIds;
        KvCache cache = KvCache.Create(_model, 1, prompt.Count);
        try
        {
            using var scope = NewDisposeScope();
            Tensor input = tensor(prompt.Select(t => (long)t).ToArray(), [1, prompt.Count], device: _model.Device); // [1,P]
            Tensor logits = _model.call(new CausalLMInput(input, null, cache, LogitsToKeep: 1)).Logits.select(1, 0); // [1,V]
            Tensor last = logits.to_type(ScalarType.Float32).to(CPU).contiguous();
            if (!float.IsFinite(last.max().item<float>()))
            {
                throw NonFiniteException.ForModel(_model, "logits", $"The logits of the prompt of request '{ids[request]}'", 0);
            }

            return new Prefix(request, cache, last.DetachFromDisposeScope());
        }
        catch
        {
            cache.Dispose();
            throw;
        }
    }

    /// <summary>Appends a sampled token; true when the sequence is finished.</summary>
    private bool Accept(Sequence sequence, int token)
    {
        sequence.Produced++;
        sequence.Reason = TextGenerator.Append(sequence.Tokens, token, _eos, _options);
        if (sequence.Reason is null && sequence.Produced >= _options.MaxNewTokens)
        {
            sequence.Reason = FinishReason.Length;
        }

        sequence.NextToken = token;
        return sequence.Reason is not null;
    }

    /// <summary>
    /// Next id of each row of <paramref name="logits"/> [N,V]: the argmax, or a draw by inverse CDF with the row's own
    /// stream (the same transforms as the static path: temperature, top-k, top-p), computed row by row so that a row's
    /// token does not depend on the other rows.
    /// </summary>
    private int[] Sample(Tensor logits, Sequence[] rows, int step)
    {
        using var scope = NewDisposeScope();
        Tensor x = logits.to_type(ScalarType.Float32).to(CPU); // [N,V]
        var (maxValues, argmax) = x.max(-1);
        float[] rowMax = maxValues.data<float>().ToArray();
        for (int r = 0; r < rowMax.Length; r++)
        {
            if (!float.IsFinite(rowMax[r]))
            {
                throw NonFiniteException.ForModel(_model, "logits", $"The logits at generation step {step} (request '{rows[r].Id}', sample {rows[r].Sample})", step);
            }
        }

        if (!_options.IsSampling)
        {
            return argmax.to_type(ScalarType.Int32).data<int>().ToArray();
        }

        x = TextGenerator.FilterLogits(x, _options);

        Tensor cdf = x.softmax(-1).to_type(ScalarType.Float64).cumsum(-1); // [N,V]
        var u = new double[rows.Length];
        for (int r = 0; r < rows.Length; r++)
        {
            u[r] = rows[r].NextUniform();
        }

        Tensor threshold = tensor(u, [rows.Length, 1], ScalarType.Float64) * cdf.narrow(1, cdf.shape[1] - 1, 1); // [N,1]
        Tensor index = (cdf < threshold).sum(-1).clamp_max(cdf.shape[1] - 1);                                     // first token whose cdf reaches u
        return index.to_type(ScalarType.Int32).data<int>().ToArray();
    }
}

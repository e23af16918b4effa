using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
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
/// prefilled once (shared by all its samples), in one left-padded forward with the other requests admitted at the same
/// time (free slots wait for a quarter of the slots to be free, so that prompts are prefilled a few at a time; requests
/// with many samples are prefilled a quarter of the slots' count ahead, and wait for their slots), and its
/// keys and values are copied into the slots, right-aligned at the common write position; each row's attention mask
/// starts at its own first prompt position, so rope positions are per row. The cache is compacted (finished rows
/// dropped, dead positions on the left removed) so the left-padding waste stays bounded.
/// </summary>
internal sealed class ContinuousBatchScheduler
{
    private readonly CausalLanguageModel _model;
    private readonly GenerationOptions _options;
    private readonly int _maxRows;
    private readonly IReadOnlyList<int> _eos;
    private readonly int _pad;

    /// <summary>At most this many prompt positions (rows × longest prompt) in one prefill forward, unless one prompt alone is longer.</summary>
    private const int PrefillTokenBudget = 4096;

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

    /// <summary>
    /// The KV cache of prompts prefilled together, left-padded to the longest: row r holds its prompt at positions
    /// [length - promptLength_r, length). Disposed when the last <see cref="Prefix"/> that reads it is.
    /// </summary>
    private sealed class PrefillGroup(KvCache cache, int members)
    {
        private int _open = members;

        public KvCache Cache { get; } = cache;

        public void Release()
        {
            if (--_open == 0)
            {
                Cache.Dispose();
            }
        }
    }

    /// <summary>One request's prefilled prompt: its row of a <see cref="PrefillGroup"/> and the logits of its last position.</summary>
    private sealed class Prefix(int request, PrefillGroup group, int row, int offset, Tensor lastLogits) : IDisposable
    {
        public int Request { get; } = request;

        public PrefillGroup Group { get; } = group;

        public int Row { get; } = row;

        public int Offset { get; } = offset; // first prompt position in the group's cache row

        public Tensor LastLogits { get; } = lastLogits; // [1,V] float32 on the CPU

        public int NextSample { get; set; }

        public void Dispose()
        {
            LastLogits.Dispose();
            Group.Release();
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
        var prefilled = new Queue<Prefix>(); // prefilled requests with samples still to admit, in request order
        KvCache? cache = null;
        long position = longestPrompt;
        int step = 0;
        // Free slots wait until there are this many (or until nothing else can arrive) before new prompts are prefilled,
        // so that prompts are prefilled a few at a time in one forward: a decoding step costs about the same with a few
        // rows fewer, while a prompt prefilled alone costs markedly more per token than one prefilled with others.
        int admitTogether = Math.Max(1, rows / 4);
        int waitingSamples = accepted.Sum(i => requests[i].Samples);

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

                // 1. Admission: waiting sequences take free slots. Prompts already prefilled go first; new prompts are
                // prefilled together, once for all the samples of each request, when enough slots are free.
                int free = slots.Count(s => s is null);
                bool prefill = waiting.Count > 0 && (free >= Math.Min(admitTogether, waitingSamples) || free == slots.Length);
                while (free > 0 && (prefilled.Count > 0 || prefill))
                {
                    if (prefilled.Count == 0)
                    {
                        PrefillTogether(TakeGroup(waiting, requests, free, admitTogether), requests, ids, prefilled);
                        prefill = false;
                    }

                    Prefix prefix = prefilled.Peek();
                    Sequence[] samples = sequences[prefix.Request];
                    int take = Math.Min(free, samples.Length - prefix.NextSample);
                    Sequence[] admitted = samples[prefix.NextSample..(prefix.NextSample + take)];
                    prefix.NextSample += take;
                    waitingSamples -= take;
                    free -= take;
                    using (var scope = NewDisposeScope())
                    {
                        int[] first = Sample(prefix.LastLogits.expand(take, -1), admitted, step);
                        for (int a = 0; a < take; a++)
                        {
                            if (Accept(admitted[a], first[a]))
                            {
                                Finish(admitted[a]);
                                free++;
                                continue;
                            }

                            cache ??= KvCache.Create(_model, rows, capacity);
                            int row = Array.IndexOf(slots, null);
                            int length = requests[prefix.Request].PromptIds.Count;
                            cache.CopyRowFrom(prefix.Group.Cache, prefix.Row, prefix.Offset, length, row, position - length);
                            slots[row] = admitted[a];
                            starts[row] = position - length;
                        }
                    }

                    if (prefix.NextSample == samples.Length)
                    {
                        prefilled.Dequeue().Dispose();
                    }
                }

                int live = slots.Count(s => s is not null);
                if (live == 0)
                {
                    if (prefilled.Count == 0 && waiting.Count == 0)
                    {
                        return;
                    }

                    continue;
                }

                // 2. Layout: drop finished rows once nothing waits, and cut dead positions on the left when they are many or
                // the next write would not fit (never below the longest prompt while prompts may still arrive).
                bool admitting = prefilled.Count > 0 || waiting.Count > 0;
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
            foreach (Prefix prefix in prefilled)
            {
                prefix.Dispose();
            }

            cache?.Dispose();
        }
    }

    /// <summary>
    /// The next waiting requests to prefill together, while the left-padded batch stays within
    /// <see cref="PrefillTokenBudget"/> tokens: at least one, then more while each still gets one of the
    /// <paramref name="free"/> slots now, or while the group has fewer than <paramref name="lookahead"/> requests. The
    /// lookahead serves requests with many samples (self-consistency): one such request fills the free slots by itself, and
    /// prefilling each prompt alone costs about twice as much per prompt as prefilling four together; the prompts prefilled
    /// ahead wait in their group's cache and take slots as they free.
    /// </summary>
    private static List<int> TakeGroup(Queue<int> waiting, IReadOnlyList<GenerationRequest> requests, int free, int lookahead)
    {
        var group = new List<int> { waiting.Dequeue() };
        int samples = requests[group[0]].Samples;
        int longest = requests[group[0]].PromptIds.Count;
        while (waiting.Count > 0 && (samples < free || group.Count < lookahead))
        {
            int next = waiting.Peek();
            int length = Math.Max(longest, requests[next].PromptIds.Count);
            if ((long)length * (group.Count + 1) > PrefillTokenBudget)
            {
                break;
            }

            group.Add(waiting.Dequeue());
            samples += requests[next].Samples;
            longest = length;
        }

        return group;
    }

    /// <summary>
    /// Prefills the prompts of <paramref name="group"/> in one forward, left-padded into one cache (each row's rope
    /// positions and attention start at its own first token, as <see cref="TextGenerator.Generate"/> does), and queues
    /// one <see cref="Prefix"/> per request with the logits of its last position.
    /// </summary>
    private void PrefillTogether(List<int> group, IReadOnlyList<GenerationRequest> requests, string[] ids, Queue<Prefix> prefilled)
    {
        int n = group.Count;
        int length = group.Max(i => requests[i].PromptIds.Count);
        var input = new long[n * length];
        var mask = new long[n * length];
        for (int r = 0; r < n; r++)
        {
            IReadOnlyList<int> prompt = requests[group[r]].PromptIds;
            int offset = length - prompt.Count;
            Array.Fill(input, (long)_pad, r * length, offset);
            for (int j = 0; j < prompt.Count; j++)
            {
                input[(r * length) + offset + j] = prompt[j];
                mask[(r * length) + offset + j] = 1;
            }
        }

        var prefillGroup = new PrefillGroup(KvCache.Create(_model, n, length), n);
        int queued = 0;
        try
        {
            using var scope = NewDisposeScope();
            Tensor inputIds = tensor(input, [n, length], device: _model.Device);                                        // [N,P]
            Tensor? attention = group.Any(i => requests[i].PromptIds.Count < length) ? tensor(mask, [n, length], device: _model.Device) : null; // [N,P]
            Tensor logits = _model.call(new CausalLMInput(inputIds, attention, prefillGroup.Cache, LogitsToKeep: 1)).Logits.select(1, 0); // [N,V]
            Tensor last = logits.to_type(ScalarType.Float32).to(CPU).contiguous();                                      // [N,V]
            var (maxValues, _) = last.max(-1);                                                                          // [N]
            CheckFinite(maxValues.data<float>().ToArray(), r => $"The logits of the prompt of request '{ids[group[r]]}'", 0);

            for (int r = 0; r < n; r++)
            {
                Tensor row = last.narrow(0, r, 1).clone().DetachFromDisposeScope();                                    // [1,V]
                prefilled.Enqueue(new Prefix(group[r], prefillGroup, r, length - requests[group[r]].PromptIds.Count, row));
                queued++;
            }
        }
        finally
        {
            // Members never queued release their share here (all of them when the forward failed).
            for (int r = queued; r < n; r++)
            {
                prefillGroup.Release();
            }
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
    /// stream from the static path's distribution (temperature, top-k, top-p; <see cref="RowSampler"/>), computed row by
    /// row so that a row's token does not depend on the other rows.
    /// </summary>
    private int[] Sample(Tensor logits, Sequence[] rows, int step)
    {
        using var scope = NewDisposeScope();
        Tensor x = logits.to_type(ScalarType.Float32).to(CPU).contiguous(); // [N,V]
        if (!_options.IsSampling)
        {
            var (maxValues, argmax) = x.max(-1);
            CheckFinite(maxValues.data<float>().ToArray(), r => AtStep(rows[r], step), step);
            return argmax.to_type(ScalarType.Int32).data<int>().ToArray();
        }

        // On the host, row by row (RowSampler): libtorch's full-vocabulary sort and cumulative sums cost milliseconds a step.
        int vocabulary = (int)x.shape[1];
        ReadOnlySpan<float> values = MemoryMarshal.Cast<byte, float>(x.bytes);              // [N*V]
        var rowMax = new float[rows.Length];
        for (int r = 0; r < rows.Length; r++)
        {
            rowMax[r] = System.Numerics.Tensors.TensorPrimitives.Max(values.Slice(r * vocabulary, vocabulary));
        }

        CheckFinite(rowMax, r => AtStep(rows[r], step), step);
        var next = new int[rows.Length];
        for (int r = 0; r < rows.Length; r++)
        {
            next[r] = RowSampler.Draw(values.Slice(r * vocabulary, vocabulary), _options, rows[r].NextUniform());
        }

        return next;
    }

    /// <summary>Throws for the first row whose maximum logit is not finite, naming it with <paramref name="describe"/>.</summary>
    private void CheckFinite(float[] rowMax, Func<int, string> describe, int step)
    {
        for (int r = 0; r < rowMax.Length; r++)
        {
            if (!float.IsFinite(rowMax[r]))
            {
                throw NonFiniteException.ForModel(_model, "logits", describe(r), step);
            }
        }
    }

    private static string AtStep(Sequence row, int step) => $"The logits at generation step {step} (request '{row.Id}', sample {row.Sample})";
}

using System.ComponentModel.DataAnnotations;
using System.Diagnostics;
using System.Globalization;
using MagDi.Losses;
using MagDi.Modeling;
using MagDi.Runtime;
using MagDi.Tokenization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MagDi.Training;

/// <summary>Settings of <see cref="PretrainingTrainer"/>.</summary>
public sealed class PretrainingOptions
{
    /// <summary>Optimizer steps. Required (at least 1).</summary>
    [Range(1, int.MaxValue)]
    public int Steps { get; set; }

    /// <summary>Texts per step. Default 32.</summary>
    [Range(1, 100000)]
    public int BatchSize { get; set; } = 32;

    /// <summary>Peak learning rate (AdamW), reached after <see cref="WarmupSteps"/>, then a linear decay to zero. Default 1e-3.</summary>
    [Range(1e-12, 10.0)]
    public double LearningRate { get; set; } = 1e-3;

    /// <summary>Linear warm-up steps. Default 100.</summary>
    [Range(0, int.MaxValue)]
    public int WarmupSteps { get; set; } = 100;

    /// <summary>AdamW weight decay of matrices (norms get none). Default 0.1.</summary>
    [Range(0.0, 10.0)]
    public double WeightDecay { get; set; } = 0.1;

    /// <summary>AdamW β2. Default 0.95 (the usual pretraining value).</summary>
    [Range(0.0, 0.999999)]
    public double AdamBeta2 { get; set; } = 0.95;

    /// <summary>Clip the global gradient norm to this value; 0 turns clipping off. Default 1.0.</summary>
    [Range(0.0, 1e6)]
    public double MaxGradNorm { get; set; } = 1.0;

    /// <summary>Seed of the data order. Default 0.</summary>
    public int Seed { get; set; }

    /// <summary>
    /// Stop after this many steps while keeping the schedule of <see cref="Steps"/> (a prefix of the full run), so a test can
    /// check that a long run reproduces without running all of it.
    /// </summary>
    internal int? StopAfterSteps { get; set; }

    internal IReadOnlyList<string> GetProblems()
    {
        var results = new List<ValidationResult>();
        Validator.TryValidateObject(this, new ValidationContext(this), results, validateAllProperties: true);
        return results.Select(r => r.ErrorMessage ?? "invalid value").ToList();
    }
}

/// <summary>What a pretraining run did.</summary>
public sealed class PretrainingResult
{
    internal PretrainingResult(int steps, IReadOnlyList<double> lossHistory, long tokens, TimeSpan duration)
    {
        Steps = steps;
        LossHistory = lossHistory;
        Tokens = tokens;
        Duration = duration;
    }

    /// <summary>Optimizer steps taken.</summary>
    public int Steps { get; }

    /// <summary>Mean next-token loss of each step.</summary>
    public IReadOnlyList<double> LossHistory { get; }

    /// <summary>Tokens trained on.</summary>
    public long Tokens { get; }

    /// <summary>Wall time.</summary>
    public TimeSpan Duration { get; }
}

/// <summary>
/// The pretraining stage that makes a base student: next-token training of every weight on plain texts, before the student
/// ever sees a teacher. Every token of a text is a target (there is no prompt), each text starts with BOS when the tokenizer
/// adds one and ends with EOS.
/// </summary>
/// <remarks>
/// The data order is a pure function of <see cref="PretrainingOptions.Seed"/> (shuffled epochs, texts of similar length
/// batched together), so a model created with a fixed seed and trained with the same options on one machine gives the
/// same weights. The trainer trains the model it is given; the caller owns and disposes it.
/// </remarks>
public sealed partial class PretrainingTrainer
{
    private readonly CausalLanguageModel _model;
    private readonly ITextTokenizer _tokenizer;
    private readonly PretrainingOptions _options;
    private readonly ILogger _logger;
    private readonly IProgress<TrainingProgress>? _progress;

    /// <summary>Creates a trainer for <paramref name="model"/>.</summary>
    /// <exception cref="OptionsValidationException">The options are invalid or the tokenizer does not fit the model (every failure listed).</exception>
    public PretrainingTrainer(CausalLanguageModel model, ITextTokenizer tokenizer, PretrainingOptions options, ILogger? logger = null, IProgress<TrainingProgress>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(options);
        var problems = new List<string>(options.GetProblems());
        if (tokenizer.VocabularySize > model.Config.VocabSize)
        {
            problems.Add($"The tokenizer has {tokenizer.VocabularySize} tokens but the model's vocab_size is {model.Config.VocabSize}.");
        }

        if (tokenizer.Special.EosId is null)
        {
            problems.Add("The tokenizer has no EOS token; pretraining texts end with EOS so the model learns to stop.");
        }

        if (problems.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(PretrainingOptions), problems);
        }

        _model = model;
        _tokenizer = tokenizer;
        _options = options;
        _logger = logger ?? NullLogger.Instance;
        _progress = progress;
    }

    /// <summary>Trains on <paramref name="texts"/> for <see cref="PretrainingOptions.Steps"/> steps (as many epochs as that takes).</summary>
    /// <exception cref="ArgumentException">No text, or a text longer than the model's context.</exception>
    public Task<PretrainingResult> TrainAsync(IReadOnlyList<string> texts, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(texts);
        return Task.Factory.StartNew(() => Train(texts, cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private PretrainingResult Train(IReadOnlyList<string> texts, CancellationToken cancellationToken)
    {
        TorchRuntime.EnsureInitialized();
        PretrainingOptions o = _options;
        int[][] rows = Tokenize(texts);
        int pad = _tokenizer.Special.PadId ?? _tokenizer.Special.EosId!.Value;
        foreach (Parameter p in _model.parameters())
        {
            p.requires_grad = true;
        }

        var decay = _model.parameters().Where(p => p.dim() >= 2).ToList();
        var noDecay = _model.parameters().Where(p => p.dim() < 2).ToList();
        using var optimizer = new Optimization.AdamW(
            [
                new AdamW.ParamGroup(decay, o.LearningRate, 0.9, o.AdamBeta2, 1e-8, o.WeightDecay, false, false),
                new AdamW.ParamGroup(noDecay, o.LearningRate, 0.9, o.AdamBeta2, 1e-8, 0, false, false),
            ],
            o.LearningRate, 0.9, o.AdamBeta2, 1e-8, o.WeightDecay);

        var history = new List<double>(o.Steps);
        var stopwatch = Stopwatch.StartNew();
        long tokens = 0;
        var batches = new Queue<int[]>();
        int epoch = 0;
        _model.train();
        int last = Math.Min(o.Steps, o.StopAfterSteps ?? o.Steps);
        for (int step = 0; step < last; step++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (batches.Count == 0)
            {
                foreach (int[] b in EpochBatching.Batches(rows.Length, i => rows[i].Length, o.BatchSize, o.Seed, epoch++))
                {
                    batches.Enqueue(b);
                }
            }

            double lr = MagDiTrainer.LearningRateAt(step, o.Steps, o.WarmupSteps, o.LearningRate);
            foreach (optim.ILearningRateController group in optimizer.ParamGroups)
            {
                group.LearningRate = lr;
            }

            using var scope = NewDisposeScope();
            int[] batch = batches.Dequeue();
            int t = batch.Max(i => rows[i].Length);
            var ids = new long[batch.Length * t];
            var mask = new long[batch.Length * t];
            Array.Fill(ids, pad);
            for (int r = 0; r < batch.Length; r++)
            {
                int[] row = rows[batch[r]];
                for (int j = 0; j < row.Length; j++)
                {
                    ids[(r * t) + j] = row[j];
                    mask[(r * t) + j] = 1;
                }

                tokens += row.Length;
            }

            Tensor inputIds = tensor(ids, [batch.Length, t], ScalarType.Int64, _model.Device);     // [B, T]
            Tensor attention = tensor(mask, [batch.Length, t], ScalarType.Int64, _model.Device);   // [B, T]
            Tensor labels = NextTokenLoss.BuildLabels(inputIds, attention, null, includePromptTokens: true);
            CausalLMOutput output = _model.forward(new CausalLMInput(inputIds, attention, OutputHiddenStates: true, LogitsToKeep: 0));
            NextTokenLossResult loss = NextTokenLoss.Compute(output.LastHiddenState!, labels, _model.ComputeLogits);
            optimizer.zero_grad();
            loss.Loss.backward();
            if (o.MaxGradNorm > 0)
            {
                nn.utils.clip_grad_norm_(_model.parameters(), o.MaxGradNorm);
            }

            optimizer.step();
            double value = loss.Loss.to(ScalarType.Float64).item<double>();
            if (!double.IsFinite(value))
            {
                throw new TrainingDivergedException($"Pretraining diverged at step {step + 1}: the next-token loss is {value}. Lower the learning rate.")
                {
                    Step = step + 1,
                    Term = LossReport.Keys.Nll,
                };
            }

            history.Add(value);
            var metrics = new Dictionary<string, double>(StringComparer.Ordinal) { [LossReport.Keys.Nll] = value, [LossReport.Keys.Total] = value };
            double perStep = stopwatch.Elapsed.TotalSeconds / (step + 1);
            _progress?.Report(new TrainingProgress(
                step + 1, o.Steps, epoch - 1, lr, metrics, tokens / Math.Max(1e-9, stopwatch.Elapsed.TotalSeconds), stopwatch.Elapsed,
                TimeSpan.FromSeconds(perStep * (o.Steps - step - 1))));
            if ((step + 1) % 100 == 0 || step + 1 == o.Steps)
            {
                LogStep(step + 1, o.Steps, value, lr);
            }
        }

        _model.eval();
        return new PretrainingResult(last, history, tokens, stopwatch.Elapsed);
    }

    private int[][] Tokenize(IReadOnlyList<string> texts)
    {
        if (texts.Count == 0)
        {
            throw new ArgumentException("Pretraining needs at least one text.", nameof(texts));
        }

        int max = _model.Config.MaxPositionEmbeddings;
        int eos = _tokenizer.Special.EosId!.Value;
        var rows = new int[texts.Count][];
        for (int i = 0; i < texts.Count; i++)
        {
            ArgumentNullException.ThrowIfNull(texts[i], $"texts[{i}]");
            IReadOnlyList<int> ids = _tokenizer.Encode(texts[i], addSpecialTokens: true);
            int[] row = ids.Count > 0 && ids[^1] == eos ? [.. ids] : [.. ids, eos];
            if (row.Length > max)
            {
                throw new ArgumentException(
                    string.Create(CultureInfo.InvariantCulture, $"texts[{i}] has {row.Length} tokens, more than the model's {max} positions (max_position_embeddings)."),
                    nameof(texts));
            }

            rows[i] = row;
        }

        return rows;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Pretraining step {Step}/{Total}: loss {Loss:F4}, lr {LearningRate:E2}")]
    private partial void LogStep(int step, int total, double loss, double learningRate);
}

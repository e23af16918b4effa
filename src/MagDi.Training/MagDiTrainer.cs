using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using MagDi.Graphs;
using MagDi.Graphs.Heads;
using MagDi.IO;
using MagDi.Lora;
using MagDi.Losses;
using MagDi.Modeling;
using MagDi.Runtime;
using MagDi.Tokenization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MagDi.Training;

/// <summary>
/// Distils MAGs into a student model with the MAGDi objectives. Create one with <see cref="CreateBuilder"/>:
/// <code>
/// using MagDiTrainer trainer = MagDiTrainer.CreateBuilder()
///     .UseStudent(model, tokenizer)
///     .WithTrainingGraphs(mags)
///     .WithLevel(DistillationLevel.Structure)
///     .WithOutputDirectory("out/magdi")
///     .Build();
/// TrainingResult result = await trainer.TrainAsync(cancellationToken);
/// </code>
/// </summary>
/// <remarks>
/// Each optimizer step takes <see cref="MagDiTrainingOptions.GradientAccumulationSteps"/> micro-batches of
/// <see cref="MagDiTrainingOptions.BatchSize"/> MAGs. Every selected node of a micro-batch is encoded once; its logits feed
/// the next-token loss (correct nodes only) and its pooled last hidden state feeds the scorer and the GCN.
/// A run seeds torch's process-wide generator with <see cref="MagDiTrainingOptions.Seed"/>; two trainers running at the
/// same time in one process share that generator and are then not reproducible.
/// </remarks>
public sealed partial class MagDiTrainer : IDisposable
{
    private readonly CausalLanguageModel _model;
    private readonly bool _ownsModel;
    private readonly ITextTokenizer _tokenizer;
    private readonly IReadOnlyList<InteractionGraph> _training;
    private readonly IReadOnlyList<InteractionGraph> _validation;
    private readonly ILogger _logger;
    private readonly IProgress<TrainingProgress>? _progress;
    private bool _disposed;
    private List<(InteractionGraph Graph, ReleaseLayout Layout)>? _releaseLayouts; // Release preset: every MAG's 12-node layout

    internal MagDiTrainer(
        CausalLanguageModel model,
        ITextTokenizer tokenizer,
        bool ownsModel,
        MagDiTrainingOptions options,
        IReadOnlyList<InteractionGraph> training,
        IReadOnlyList<InteractionGraph> validation,
        ILogger? logger,
        IProgress<TrainingProgress>? progress)
    {
        _model = model;
        _ownsModel = ownsModel;
        _tokenizer = tokenizer;
        Options = options;
        _training = training;
        _validation = validation;
        _logger = logger ?? NullLogger.Instance;
        _progress = progress;
        Template = new MagDiPromptTemplate(options.PromptFormat.Resolve(tokenizer));
    }

    /// <summary>Starts a fluent builder.</summary>
    public static MagDiTrainerBuilder CreateBuilder() => new();

    /// <summary>The validated settings of this run.</summary>
    public MagDiTrainingOptions Options { get; }

    /// <summary>How nodes and questions are rendered for this student.</summary>
    public MagDiPromptTemplate Template { get; }

    /// <summary>The LoRA adapter being trained, after <see cref="TrainAsync"/> started (null in full fine-tuning).</summary>
    public LoraAdapter? Adapter { get; private set; }

    /// <summary>
    /// The objective with its scorer and GCN heads, after <see cref="TrainAsync"/> started. The trainer owns it: it is
    /// disposed by <see cref="Dispose"/> (and replaced by the next <see cref="TrainAsync"/>).
    /// </summary>
    public MagDiObjective? Objective { get; private set; }

    /// <summary>
    /// Runs the distillation. Cancellation writes a checkpoint and returns a result with <see cref="TrainingStatus.Cancelled"/>.
    /// </summary>
    /// <exception cref="TrainingDataException">The data cannot be trained on (no usable node, all invalid, a node too long); the message names the MAGs.</exception>
    /// <exception cref="InvalidDataException">The tokenizer does not belong to the model (more ids than embedding rows, special ids outside the vocabulary, no EOS).</exception>
    /// <exception cref="TrainingDivergedException">A loss term became NaN or infinite; the last good checkpoint is kept.</exception>
    /// <exception cref="IOException">A fresh run (no <see cref="MagDiTrainingOptions.Resume"/>) into an output folder that holds checkpoints of an earlier run.</exception>
    /// <exception cref="ObjectDisposedException">The trainer was disposed.</exception>
    public Task<TrainingResult> TrainAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return Task.Factory.StartNew(() => Train(cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>
    /// Releases what the trainer created or loaded: the objective heads and, when the student came from
    /// <see cref="MagDiTrainerBuilder.UseStudentFromDirectory"/>, the student model. A model passed to
    /// <see cref="MagDiTrainerBuilder.UseStudent"/> stays with its owner and remains usable (with the trained adapter applied).
    /// The optimizer state and frozen features of a run are released when <see cref="TrainAsync"/> returns.
    /// </summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Objective?.Dispose();
        if (_ownsModel)
        {
            _model.Dispose();
        }
    }

    /// <summary>The training loop: prepare, then one optimizer step at a time, then finish (nanoGPT's shape).</summary>
    private TrainingResult Train(CancellationToken cancellationToken)
    {
        using TrainingRun run = Prepare();
        while (run.State.Step < run.TotalSteps)
        {
            if (EpochFinished(run))
            {
                StartNextEpoch(run);
                continue;
            }

            if (cancellationToken.IsCancellationRequested)
            {
                run.Cancelled = true;
                break;
            }

            Dictionary<string, double> metrics = OptimizerStep(run);
            RecordStep(run, metrics);
            SaveCheckpointIfDue(run);
        }

        return Finish(run);
    }

    /// <summary>
    /// Everything before the first step: the output folder, the data, the student's trainable weights, the objective heads,
    /// the optimizer, frozen features, and the position to start from (a fresh start, or the newest checkpoint on resume).
    /// </summary>
    private TrainingRun Prepare()
    {
        TorchRuntime.EnsureInitialized();
        MagDiTrainingOptions o = Options;
        string output = PrepareOutputDirectory();
        CheckTokenizerMatchesModel();
        var (graphs, validation, summary) = PrepareData();

        Device device = _model.Device;
        random.manual_seed(o.Seed);
        _model.GradientCheckpointing = o.ActivationCheckpointing;
        List<(string Name, Parameter Parameter)> studentParameters = PrepareStudent();
        List<(string Name, Parameter Parameter)> headParameters = CreateObjective(device);
        AdamW optimizer = CreateOptimizer(studentParameters, headParameters);

        Dictionary<InteractionGraph, Tensor>? frozen = null;
        TrainingRun? run = null;
        try
        {
            frozen = o.NodeFeatures == NodeFeatureSource.Frozen && o.EffectiveWeights().Gamma > 0
                ? (_releaseLayouts is null ? PrecomputeFrozenFeatures(graphs, device) : PrecomputeReleaseFeatures(_releaseLayouts, device))
                : null;

            int microBatchesPerEpoch = (graphs.Count + o.BatchSize - 1) / o.BatchSize;
            int stepsPerEpoch = Math.Max(1, (microBatchesPerEpoch + o.GradientAccumulationSteps - 1) / o.GradientAccumulationSteps);
            int totalSteps = Math.Min(o.MaxSteps ?? int.MaxValue, stepsPerEpoch * o.Epochs);
            run = new TrainingRun
            {
                OutputDirectory = output,
                Graphs = graphs,
                Validation = validation,
                Summary = summary,
                Trainable = [.. studentParameters, .. headParameters],
                Optimizer = optimizer,
                FrozenFeatures = frozen,
                TotalSteps = totalSteps,
                State = new TrainerState { TotalSteps = totalSteps, Seed = o.Seed, Level = o.Level.ToString() },
            };
            ResumeFromLatestCheckpoint(run);
            RewriteMetrics(run);
        }
        catch
        {
            if (run is not null)
            {
                run.Dispose();
            }
            else
            {
                optimizer.Dispose();
                foreach (Tensor t in frozen?.Values.ToList() ?? [])
                {
                    t.Dispose();
                }
            }

            throw;
        }

        run.LastMetrics = run.State.History.Count > 0 ? run.State.History[^1] : [];
        run.Clock.Start();
        _model.train();
        Objective!.train();
        return run;
    }

    /// <summary>Creates the output folder and removes what a killed run left in it (only MagDi's unique temporary names, see <see cref="AtomicFile"/>).</summary>
    private string PrepareOutputDirectory()
    {
        string output = Path.GetFullPath(Options.OutputDirectory!);
        Directory.CreateDirectory(output);
        int leftovers = AtomicFile.DeleteLeftovers(output);
        if (leftovers > 0)
        {
            LogLeftovers(leftovers, output);
        }

        return output;
    }

    /// <summary>Tokenizes the training and validation MAGs; no usable training node is a <see cref="TrainingDataException"/>.</summary>
    private (List<PreparedGraph> Graphs, List<PreparedGraph> Validation, TrainingDataSummary Summary) PrepareData()
    {
        MagDiTrainingOptions o = Options;
        int maxLength = o.MaxSequenceLength ?? _model.Config.MaxPositionEmbeddings;
        var (graphs, summary) = TrainingSet.Prepare(_training, o, _tokenizer, Template, maxLength, "training");
        if (graphs.Count == 0)
        {
            string uses = o.Level switch
            {
                DistillationLevel.RoundZero => "level RoundZero trains on correct round-0 nodes only, and no MAG has one",
                DistillationLevel.CorrectNodes => "level CorrectNodes trains on correct nodes only, and no MAG has one",
                _ => $"level {o.Level} trains on every valid node, and no MAG has one",
            };
            throw new TrainingDataException(
                $"No training data: of {summary.Graphs} MAG(s) with {summary.NodesGiven} node(s), {summary.InvalidNodesExcluded} node(s) are invalid " +
                $"and {summary.NodesExcludedByLevel} are not used by level {o.Level}" +
                (o.SingleTeacher is null ? string.Empty : $" with single teacher '{o.SingleTeacher}' (agents seen: {string.Join(", ", _training.SelectMany(g => g.Agents).Distinct())})") +
                $"; {uses}" + (o.SingleTeacher is null ? "." : " from that teacher."))
            {
                GraphIds = [.. _training.Take(10).Select(g => g.Id)],
            };
        }

        if (o.GraphHead == GraphHeadKind.TokenAttention && o.EffectiveWeights().Gamma > 0)
        {
            LinearizedBatch.EnsureFits(graphs, maxLength, o.MaxSequenceLength is null ? "the model's max_position_embeddings" : "MaxSequenceLength");
        }

        LogData(summary);
        if (o.Preset == TrainingPreset.Release)
        {
            graphs = ExpandReleaseRows(graphs, out _releaseLayouts); // from here on a batch unit is one (positive, negative) row
        }

        var validationOptions = o.Clone();
        validationOptions.Level = DistillationLevel.CorrectNodes;
        validationOptions.SingleTeacher = null;
        var (validation, _) = _validation.Count == 0
            ? ([], summary)
            : TrainingSet.Prepare(_validation, validationOptions, _tokenizer, Template, maxLength, "validation");
        return (graphs, validation, summary);
    }

    /// <summary>Creates the scorer and GCN heads on <paramref name="device"/> and returns their weights by checkpoint name.</summary>
    private List<(string Name, Parameter Parameter)> CreateObjective(Device device)
    {
        MagDiTrainingOptions o = Options;
        Objective?.Dispose();
        Objective = new MagDiObjective(new MagDiObjectiveOptions
        {
            HiddenSize = _model.Config.HiddenSize,
            Weights = o.EffectiveWeights(),
            Margin = o.Margin,
            Pairing = PairingStrategy.FromKind(o.Pairing),
            Seed = o.Seed,
            NodeFeatures = o.NodeFeatures,
            GcnHiddenSize = o.GcnHiddenSize,
            GcnDropout = o.GcnDropout,
            NodeClasses = o.NodeClasses,
            Normalization = o.GcnNormalization,
            GraphHead = o.GraphHead,
            AttentionHeads = o.AttentionHeads,
            SpanPooling = o.Pooling,
        });
        Objective.to(device);
        return [.. Objective.named_parameters().Select(p => ("objective." + p.name, p.parameter))];
    }

    /// <summary>
    /// A fresh run starts at step 0 and refuses an output folder with an earlier run's checkpoints (it would prune them
    /// against its own, and a later resume would continue the wrong run); a resumed run restores weights, optimizer state,
    /// RNG state and loop position from the newest checkpoint.
    /// </summary>
    private void ResumeFromLatestCheckpoint(TrainingRun run)
    {
        string? latest = CheckpointStore.Latest(run.OutputDirectory);
        if (!Options.Resume && latest is not null)
        {
            throw new IOException(
                $"'{run.OutputDirectory}' holds checkpoints of an earlier run (newest: {Path.GetFileName(latest)}). Continue that run with " +
                "ResumeFromLatestCheckpoint (magdi train --resume), or write this run to another output folder.");
        }

        if (Options.Resume && latest is not null)
        {
            run.State = CheckpointStore.Load(latest, run.Trainable, run.Optimizer);
            run.LastCheckpoint = latest;
            LogResumed(latest, run.State.Step);
        }
    }

    /// <summary>
    /// metrics.jsonl holds exactly the steps of the checkpoint this run starts from (none on a fresh start): lines of steps
    /// after it, duplicates and a torn last line from a killed run are dropped by rewriting it from the checkpoint's own
    /// history. Each later step is appended in one write (<see cref="RecordStep"/>).
    /// </summary>
    private static void RewriteMetrics(TrainingRun run) =>
        AtomicFile.Write(run.MetricsPath, stream =>
        {
            foreach (Dictionary<string, double> line in run.State.History)
            {
                stream.Write(Encoding.UTF8.GetBytes(JsonSerializer.Serialize(line) + "\n"));
            }
        });

    /// <summary>Whether every micro-batch of the current epoch was used.</summary>
    private bool EpochFinished(TrainingRun run) =>
        run.State.MicroBatch >= run.EpochBatches(epoch => BatchesForEpoch(run.Graphs, epoch)).Count;

    /// <summary>Moves to the next epoch; without <see cref="MagDiTrainingOptions.EvalEverySteps"/> the validation loss is computed here.</summary>
    private void StartNextEpoch(TrainingRun run)
    {
        run.State.Epoch++;
        run.State.MicroBatch = 0;
        if (Options.EvalEverySteps == 0 && run.Validation.Count > 0)
        {
            run.ValidationLoss = ValidationLoss(run.Validation);
            LogValidation(run.State.Step, run.ValidationLoss.Value);
        }
    }

    /// <summary>
    /// One optimizer step: set the scheduled learning rate, accumulate the gradients of up to
    /// <see cref="MagDiTrainingOptions.GradientAccumulationSteps"/> micro-batches, clip, update. Returns the step's metrics.
    /// </summary>
    private Dictionary<string, double> OptimizerStep(TrainingRun run)
    {
        MagDiTrainingOptions o = Options;
        var stepWatch = Stopwatch.StartNew();
        double lr = ApplyLearningRate(run.Optimizer, run.State.Step, run.TotalSteps);
        run.Optimizer.zero_grad();
        var (lossSums, microBatches, tokens) = AccumulateGradients(run);
        if (o.MaxGradNorm > 0)
        {
            nn.utils.clip_grad_norm_(run.Trainable.Select(p => p.Parameter), o.MaxGradNorm);
        }

        run.Optimizer.step();
        run.CompleteStep(tokens);

        var metrics = lossSums.ToDictionary(kv => kv.Key, kv => kv.Value / microBatches, StringComparer.Ordinal);
        metrics["step"] = run.State.Step;
        metrics["epoch"] = run.State.Epoch;
        metrics["learning_rate"] = lr;
        metrics["step_time_ms"] = stepWatch.Elapsed.TotalMilliseconds;
        metrics["tokens_per_second"] = run.TokensPerSecond;
        if (o.EvalEverySteps > 0 && run.Validation.Count > 0 && run.State.Step % o.EvalEverySteps == 0)
        {
            run.ValidationLoss = ValidationLoss(run.Validation);
            metrics["validation/nll"] = run.ValidationLoss.Value;
        }

        return metrics;
    }

    /// <summary>Sets every parameter group's learning rate for <paramref name="step"/> (heads keep their ratio to the student's).</summary>
    private double ApplyLearningRate(AdamW optimizer, int step, int totalSteps)
    {
        MagDiTrainingOptions o = Options;
        double lr = LearningRateAt(step, totalSteps, o.WarmupSteps, o.LearningRate);
        foreach (optim.ILearningRateController group in optimizer.ParamGroups)
        {
            group.LearningRate = lr * ((group as ParamGroup)?.InitialLearningRate ?? o.LearningRate) / o.LearningRate;
        }

        return lr;
    }

    /// <summary>
    /// Forward and backward of the next micro-batches of the epoch (at most one step's worth); returns the summed loss terms,
    /// the number of micro-batches and the tokens seen. A non-finite loss term stops the run (<see cref="TrainingDivergedException"/>).
    /// </summary>
    private (Dictionary<string, double> LossSums, int MicroBatches, long Tokens) AccumulateGradients(TrainingRun run)
    {
        MagDiTrainingOptions o = Options;
        TrainerState state = run.State;
        List<List<PreparedGraph>> epochBatches = run.EpochBatches(epoch => BatchesForEpoch(run.Graphs, epoch));
        var sums = new Dictionary<string, double>(StringComparer.Ordinal);
        int micro = 0;
        long tokens = 0;
        while (micro < o.GradientAccumulationSteps && state.MicroBatch < epochBatches.Count)
        {
            using var scope = NewDisposeScope();
            List<PreparedGraph> batchGraphs = epochBatches[state.MicroBatch];
            using MagBatch batch = MagBatch.Collate(batchGraphs, PadId(), o.IncludePromptInLoss, _model.Device);
            StepLoss loss = Forward(batch, run.FrozenFeatures, new Random(unchecked((o.Seed * 7919) + (state.Step * 131) + micro)));
            foreach (var (key, value) in loss.Metrics)
            {
                if (!double.IsFinite(value))
                {
                    throw new TrainingDivergedException(
                        $"Training diverged at step {state.Step + 1} (epoch {state.Epoch}): {key} is {value}. " +
                        $"The last good checkpoint is {(run.LastCheckpoint ?? "none (no checkpoint was written yet)")}. " +
                        "Lower the learning rate, clip gradients (MaxGradNorm) or check the data of this batch: " +
                        string.Join(", ", batchGraphs.Select(g => g.Graph.Id)) + ".")
                    { Step = state.Step + 1, Term = key };
                }

                sums[key] = sums.GetValueOrDefault(key) + value;
            }

            loss.Total.Over((long)o.GradientAccumulationSteps).backward();
            tokens += batch.TokenCount;
            micro++;
            state.MicroBatch++;
        }

        return (sums, micro, tokens);
    }

    /// <summary>Keeps the step's metrics in the history, appends them to metrics.jsonl, logs and reports progress.</summary>
    private void RecordStep(TrainingRun run, Dictionary<string, double> metrics)
    {
        run.State.History.Add(metrics);
        run.LastMetrics = metrics;
        AtomicFile.AppendLine(run.MetricsPath, JsonSerializer.Serialize(metrics));
        ReportProgress(run, metrics);
    }

    /// <summary>Writes a checkpoint every <see cref="MagDiTrainingOptions.SaveEverySteps"/> steps (the last step is saved by <see cref="Finish"/>).</summary>
    private void SaveCheckpointIfDue(TrainingRun run)
    {
        int every = Options.SaveEverySteps;
        if (every > 0 && run.State.Step % every == 0 && run.State.Step < run.TotalSteps)
        {
            SaveCheckpoint(run);
        }
    }

    private void SaveCheckpoint(TrainingRun run) =>
        run.LastCheckpoint = CheckpointStore.Save(run.OutputDirectory, run.State, run.Trainable, run.Optimizer, Options.KeepLastCheckpoints);

    /// <summary>The final validation loss, the last checkpoint, the adapter (or full model) and the result.</summary>
    private TrainingResult Finish(TrainingRun run)
    {
        if (!run.Cancelled && run.Validation.Count > 0 && (run.ValidationLoss is null || Options.EvalEverySteps > 0))
        {
            run.ValidationLoss = ValidationLoss(run.Validation);
        }

        SaveCheckpoint(run);
        string finalDirectory = SaveFinal(run.OutputDirectory);
        TimeSpan duration = run.Clock.Elapsed;
        double tokensPerSecond = run.TokensThisRun / Math.Max(1e-9, duration.TotalSeconds);
        double stepTime = run.StepsThisRun == 0 ? 0 : duration.TotalMilliseconds / run.StepsThisRun;
        LogFinished(run.Cancelled ? "cancelled" : "completed", run.State.Step, tokensPerSecond);
        _model.eval();
        Objective!.eval();
        return new TrainingResult(
            run.Cancelled ? TrainingStatus.Cancelled : TrainingStatus.Completed,
            run.State.Step,
            run.OutputDirectory,
            finalDirectory,
            run.LastCheckpoint,
            run.LastMetrics,
            run.State.History,
            run.ValidationLoss,
            run.Summary,
            tokensPerSecond,
            stepTime,
            duration);
    }

    /// <summary>One forward of every node of the micro-batch and the MAGDi objective (or the DSS-MT objective) on it.</summary>
    private StepLoss Forward(MagBatch batch, Dictionary<InteractionGraph, Tensor>? frozen, Random pairing)
    {
        if (Options.Objective == DistillationObjective.StepByStep)
        {
            return ForwardStepByStep(batch);
        }

        if (batch.Negatives is not null)
        {
            return ForwardRelease(batch, frozen!);
        }

        bool needsRepresentations = Objective!.Options.Weights.Beta > 0 || Objective.Options.Weights.Gamma > 0;
        // No logits from the model: the next-token loss projects only the hidden states of its target positions
        // (answer tokens of correct nodes), skipping the output head on prompts, padding and incorrect nodes.
        CausalLMOutput output = _model.forward(new CausalLMInput(batch.InputIds, batch.AttentionMask, OutputHiddenStates: true, LogitsToKeep: 0));
        Tensor? representations = null;
        if (needsRepresentations)
        {
            // [N, d] one vector per chain, pooled in f32 from the same hidden states that produced the logits.
            representations = SequencePooling.Pool(output.LastHiddenState!.to(ScalarType.Float32), batch.AttentionMask, Options.Pooling);
        }

        // Token attention: each MAG once more through the student, as one linearised sequence (see LinearizedBatch).
        LinearizedGraphStates? tokens = Objective.Options.GraphHead == GraphHeadKind.TokenAttention && Objective.Options.Weights.Gamma > 0
            ? LinearizedBatch.Forward(_model, batch.Source, PadId())
            : null;
        Tensor? frozenFeatures = frozen is null ? null : cat(batch.Source.Select(g => frozen[g.Graph]).ToList(), 0);
        MagDiLoss loss = Objective.forward(new MagDiObjectiveInput
        {
            HiddenStates = output.LastHiddenState,
            OutputProjection = _model.ComputeLogits,
            Labels = batch.Labels,
            NodeRepresentations = representations,
            Graphs = batch.Graphs,
            FrozenNodeFeatures = frozenFeatures,
            Tokens = tokens,
            PairingRandom = pairing,
        });
        return new StepLoss(loss.Total, loss.Report.Metrics);
    }

    /// <summary>Applies LoRA (or unfreezes everything for full fine-tuning) and returns the student's trainable weights by name.</summary>
    private List<(string Name, Parameter Parameter)> PrepareStudent()
    {
        if (Options.FineTuning == FineTuningMode.Lora)
        {
            if (Adapter is null)
            {
                var lora = new LoraOptions
                {
                    Rank = Options.LoraRank,
                    Alpha = Options.LoraAlpha,
                    Dropout = Options.LoraDropout,
                    TargetModules = [.. Options.EffectiveLoraTargetModules],
                };
                Adapter = LoraAdapter.Apply(_model, lora, Options.Seed);
            }
        }
        else
        {
            foreach (var p in _model.parameters())
            {
                p.requires_grad = true;
            }
        }

        return _model.named_parameters().Where(p => p.parameter.requires_grad).Select(p => ("student." + p.name, p.parameter)).ToList();
    }

    private Optimization.AdamW CreateOptimizer(List<(string Name, Parameter Parameter)> student, List<(string Name, Parameter Parameter)> heads)
    {
        MagDiTrainingOptions o = Options;
        static bool Decays(Parameter p) => p.dim() >= 2;
        var groups = new List<AdamW.ParamGroup>();
        void Add(IEnumerable<Parameter> ps, double lr, double decay)
        {
            var list = ps.ToList();
            if (list.Count > 0)
            {
                groups.Add(new AdamW.ParamGroup(list, lr, o.AdamBeta1, o.AdamBeta2, o.AdamEpsilon, decay, false, false));
            }
        }

        double headLr = o.HeadLearningRate ?? o.LearningRate;
        Add(student.Select(p => p.Parameter).Where(Decays), o.LearningRate, o.WeightDecay);
        Add(student.Select(p => p.Parameter).Where(p => !Decays(p)), o.LearningRate, 0);
        Add(heads.Select(p => p.Parameter).Where(Decays), headLr, o.WeightDecay);
        Add(heads.Select(p => p.Parameter).Where(p => !Decays(p)), headLr, 0);
        return new Optimization.AdamW(groups, o.LearningRate, o.AdamBeta1, o.AdamBeta2, o.AdamEpsilon, o.WeightDecay);
    }

    /// <summary>
    /// Linear warm-up from 0 to <paramref name="peak"/> over <paramref name="warmup"/> steps, then linear decay to 0 at
    /// <paramref name="total"/> (Hugging Face's "linear" schedule). <paramref name="step"/> counts from 0.
    /// </summary>
    internal static double LearningRateAt(int step, int total, int warmup, double peak)
    {
        if (warmup > 0 && step < warmup)
        {
            return peak * (step + 1) / warmup;
        }

        int decaySteps = Math.Max(1, total - warmup);
        return peak * Math.Clamp((double)(total - step) / decaySteps, 0.0, 1.0);
    }

    /// <summary>The micro-batches of one epoch (<see cref="EpochBatching"/>; a MAG's length is its longest node).</summary>
    private List<List<PreparedGraph>> BatchesForEpoch(List<PreparedGraph> graphs, int epoch) => graphs.Count > 0 && graphs[0].Release is not null
        ? ReleaseBatchesForEpoch(graphs, epoch)
        : [.. EpochBatching.Batches(graphs.Count, i => graphs[i].Nodes.Max(n => n.Ids.Length), Options.BatchSize, Options.Seed, epoch)
            .Select(batch => batch.Select(i => graphs[i]).ToList())];

    private Dictionary<InteractionGraph, Tensor> PrecomputeFrozenFeatures(List<PreparedGraph> graphs, Device device)
    {
        // The student before training is the base model (LoRA B starts at zero), as in the release's precomputed features.
        var features = new Dictionary<InteractionGraph, Tensor>(ReferenceEqualityComparer.Instance);
        _model.eval();
        using (no_grad())
        {
            foreach (var chunk in graphs.Chunk(Options.BatchSize))
            {
                using var scope = NewDisposeScope();
                using MagBatch batch = MagBatch.Collate(chunk, PadId(), false, device);
                CausalLMOutput output = _model.forward(new CausalLMInput(batch.InputIds, batch.AttentionMask, OutputHiddenStates: true, LogitsToKeep: 0));
                Tensor pooled = SequencePooling.Pool(output.LastHiddenState!.to(ScalarType.Float32), batch.AttentionMask, Options.Pooling);
                int offset = 0;
                foreach (PreparedGraph g in chunk)
                {
                    features[g.Graph] = pooled.narrow(0, offset, g.Nodes.Count).clone().DetachFromDisposeScope();
                    offset += g.Nodes.Count;
                }
            }
        }

        _model.train();
        return features;
    }

    /// <summary>Mean next-token loss of the correct nodes of the validation MAGs (token-weighted).</summary>
    private double ValidationLoss(List<PreparedGraph> validation)
    {
        _model.eval();
        double sum = 0;
        long count = 0;
        using (no_grad())
        {
            foreach (var chunk in validation.Chunk(Options.BatchSize))
            {
                using var scope = NewDisposeScope();
                using MagBatch batch = MagBatch.Collate(chunk, PadId(), false, _model.Device);
                CausalLMOutput output = _model.forward(new CausalLMInput(batch.InputIds, batch.AttentionMask, OutputHiddenStates: true, LogitsToKeep: 0));
                NextTokenLossResult r = NextTokenLoss.Compute(output.LastHiddenState!, batch.Labels, _model.ComputeLogits);
                if (r.TokenCount > 0)
                {
                    sum += r.Loss.to(ScalarType.Float64).item<double>() * r.TokenCount;
                    count += r.TokenCount;
                }
            }
        }

        _model.train();
        return count == 0 ? double.NaN : sum / count;
    }

    private string SaveFinal(string output)
    {
        if (Adapter is not null)
        {
            string dir = Path.Combine(output, "adapter");
            Adapter.Save(dir);
            return dir;
        }

        string modelDir = Path.Combine(output, "model");
        _model.SavePretrained(modelDir);
        return modelDir;
    }

    private void CheckTokenizerMatchesModel()
    {
        int modelVocab = _model.Config.VocabSize;
        if (_tokenizer.VocabularySize > modelVocab)
        {
            throw new InvalidDataException(
                $"The tokenizer has {_tokenizer.VocabularySize} tokens but the model's embedding has {modelVocab} rows " +
                "(config.json vocab_size): they do not belong together.");
        }

        foreach (var (name, id) in new[] { ("bos", _tokenizer.Special.BosId), ("eos", _tokenizer.Special.EosId), ("pad", _tokenizer.Special.PadId) })
        {
            if (id is int value && (value < 0 || value >= modelVocab))
            {
                throw new InvalidDataException($"The tokenizer's {name} id {value} is outside the model's vocabulary of {modelVocab}.");
            }
        }

        if (_tokenizer.Special.EosId is null)
        {
            throw new InvalidDataException("The tokenizer has no EOS token; MAGDi targets end with EOS so the student learns to stop.");
        }
    }

    private int PadId() => _tokenizer.Special.PadId ?? _tokenizer.Special.EosId ?? 0;

    private void ReportProgress(TrainingRun run, Dictionary<string, double> metrics)
    {
        TrainerState state = run.State;
        TimeSpan elapsed = run.Clock.Elapsed;
        double lr = metrics["learning_rate"];
        double perStep = elapsed.TotalSeconds / Math.Max(1, run.StepsThisRun);
        var eta = TimeSpan.FromSeconds(perStep * Math.Max(0, run.TotalSteps - state.Step));
        double tps = run.TokensThisRun / Math.Max(1e-9, elapsed.TotalSeconds);
        double total = metrics.GetValueOrDefault(LossReport.Keys.Total);
        LogStep(state.Step, run.TotalSteps, total, lr, tps);

        _progress?.Report(new TrainingProgress(state.Step, run.TotalSteps, state.Epoch, lr, metrics, tps, elapsed, eta));
    }

    private void LogData(TrainingDataSummary s) =>
        LogDataSelected(s.GraphsUsed, s.Graphs, s.NodesUsed, s.CorrectNodesUsed, s.InvalidNodesExcluded, s.NodesExcludedByLevel, s.GraphsWithoutSelectedNodes.Count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Training data: {GraphsUsed}/{Graphs} MAGs, {Nodes} nodes ({Correct} correct); {Invalid} invalid nodes and {Excluded} nodes outside the level excluded; {EmptyGraphs} MAGs contributed no node")]
    private partial void LogDataSelected(int graphsUsed, int graphs, int nodes, int correct, int invalid, int excluded, int emptyGraphs);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Step {Step}/{Total}: loss {Loss:F4}, lr {LearningRate:E2}, {TokensPerSecond:F0} tokens/s")]
    private partial void LogStep(int step, int total, double loss, double learningRate, double tokensPerSecond);

    [LoggerMessage(Level = LogLevel.Information, Message = "Validation next-token loss after step {Step}: {Loss:F4}")]
    private partial void LogValidation(int step, double loss);

    [LoggerMessage(Level = LogLevel.Information, Message = "Resumed from {Checkpoint} at step {Step}")]
    private partial void LogResumed(string checkpoint, int step);

    [LoggerMessage(Level = LogLevel.Information, Message = "Removed {Count} temporary file(s) or folder(s) a killed run left in {Directory}")]
    private partial void LogLeftovers(int count, string directory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Training {Status} after {Steps} steps ({TokensPerSecond:F0} tokens/s)")]
    private partial void LogFinished(string status, int steps, double tokensPerSecond);

    internal static string Format(double value) => value.ToString("G6", CultureInfo.InvariantCulture);
}

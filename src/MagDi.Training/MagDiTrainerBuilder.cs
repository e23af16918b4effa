using MagDi.Graphs;
using MagDi.Graphs.Heads;
using MagDi.Modeling;
using MagDi.Runtime;
using MagDi.Tasks;
using MagDi.Tokenization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MagDi.Training;

/// <summary>
/// Composes a <see cref="MagDiTrainer"/>. Each <c>Use…</c>/<c>With…</c> only records a setting and returns the builder;
/// <see cref="Build"/> validates everything (one <see cref="OptionsValidationException"/> listing every failure) and only
/// then loads a student given by <see cref="UseStudentFromDirectory"/>.
/// </summary>
public sealed class MagDiTrainerBuilder
{
    private readonly List<InteractionGraph> _training = [];
    private readonly List<InteractionGraph> _validation = [];
    private readonly List<Action<MagDiTrainingOptions>> _configure = [];
    private MagDiTrainingOptions _options = new();
    private CausalLanguageModel? _model;
    private ITextTokenizer? _tokenizer;
    private StudentSource? _studentDirectory;
    private ILogger? _logger;
    private IProgress<TrainingProgress>? _progress;

    internal MagDiTrainerBuilder()
    {
    }

    /// <summary>
    /// The student to distil into and its tokenizer (already on the device and dtype to train with). The caller keeps
    /// ownership: disposing the trainer leaves <paramref name="model"/> usable, with the trained adapter applied.
    /// </summary>
    public MagDiTrainerBuilder UseStudent(CausalLanguageModel model, ITextTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        _model = model;
        _tokenizer = tokenizer;
        _studentDirectory = null;
        return this;
    }

    /// <summary>
    /// Takes the student from a Hugging Face checkpoint folder (config.json, safetensors weights and tokenizer files).
    /// Nothing is read here: <see cref="Build"/> loads the folder after validating every setting, and the trainer owns
    /// (and disposes) the model it loaded.
    /// </summary>
    /// <param name="directory">The checkpoint folder.</param>
    /// <param name="device"><c>auto</c> (default), <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</param>
    /// <param name="dtype">The dtype of the base weights: <see cref="ModelDType.BF16"/> (default; fast on CPU and CUDA),
    /// <see cref="ModelDType.F32"/> or <see cref="ModelDType.F16"/> (CUDA only).</param>
    public MagDiTrainerBuilder UseStudentFromDirectory(string directory, string device = "auto", ModelDType dtype = ModelDType.BF16)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentException.ThrowIfNullOrWhiteSpace(device);
        _studentDirectory = new StudentSource(directory, device, dtype);
        _model = null;
        _tokenizer = null;
        return this;
    }

    /// <summary>Adds training MAGs.</summary>
    public MagDiTrainerBuilder WithTrainingGraphs(IEnumerable<InteractionGraph> graphs)
    {
        ArgumentNullException.ThrowIfNull(graphs);
        _training.AddRange(graphs);
        return this;
    }

    /// <summary>Adds validation MAGs: their correct nodes give the validation next-token loss.</summary>
    public MagDiTrainerBuilder WithValidationGraphs(IEnumerable<InteractionGraph> graphs)
    {
        ArgumentNullException.ThrowIfNull(graphs);
        _validation.AddRange(graphs);
        return this;
    }

    /// <summary>The distillation level (default <see cref="DistillationLevel.Structure"/>).</summary>
    public MagDiTrainerBuilder WithLevel(DistillationLevel level) => Configure(o => o.Level = level);

    /// <summary>
    /// The paper's recipe (<see cref="TrainingPreset.Paper"/>, default) or the released code's semantics as a whole
    /// (<see cref="TrainingPreset.Release"/>). A setting configured explicitly that contradicts the preset makes
    /// <see cref="Build"/> throw an <see cref="OptionsValidationException"/> naming it.
    /// </summary>
    public MagDiTrainerBuilder WithPreset(TrainingPreset preset) => Configure(o => o.Preset = preset);

    /// <summary>
    /// Trains the DSS-MT baseline (Distilling Step-by-Step on the nodes of all teachers) instead of MAGDi's objectives:
    /// L = L_label + λ·L_rationale, λ = <paramref name="rationaleWeight"/> (default 1, Hsieh et al.).
    /// </summary>
    public MagDiTrainerBuilder WithStepByStepObjective(double rationaleWeight = 1.0) => Configure(o =>
    {
        o.Objective = DistillationObjective.StepByStep;
        o.RationaleWeight = rationaleWeight;
    });

    /// <summary>Learn from one teacher's nodes only (the single-teacher baseline).</summary>
    public MagDiTrainerBuilder WithSingleTeacher(string agent) => Configure(o => o.SingleTeacher = agent);

    /// <summary>LoRA settings (defaults: r 16, alpha 32, dropout 0.05 on q_proj and v_proj).</summary>
    public MagDiTrainerBuilder WithLora(int rank = 16, double alpha = 32, double dropout = 0.05, params string[] targetModules) => Configure(o =>
    {
        o.FineTuning = FineTuningMode.Lora;
        o.LoraRank = rank;
        o.LoraAlpha = alpha;
        o.LoraDropout = dropout;
        if (targetModules.Length > 0)
        {
            o.LoraTargetModules = [.. targetModules];
        }
    });

    /// <summary>Train every weight of the student instead of LoRA adapters (for small students).</summary>
    public MagDiTrainerBuilder WithFullFineTuning() => Configure(o => o.FineTuning = FineTuningMode.Full);

    /// <summary>Weights α, β, γ of the next-token, margin-ranking and node-classification losses (each in [0, 1]).</summary>
    public MagDiTrainerBuilder WithLossWeights(double alpha, double beta, double gamma) => Configure(o =>
    {
        o.Alpha = alpha;
        o.Beta = beta;
        o.Gamma = gamma;
    });

    /// <summary>
    /// How the node-classification loss models a MAG (paper Table 6): the GCN over its edges (default), node-level or
    /// token-level attention. See <see cref="MagDiTrainingOptions.GraphHead"/>.
    /// </summary>
    /// <param name="head">The graph head.</param>
    /// <param name="attentionHeads">Attention heads per layer of an attention graph head; null keeps the current setting (default 8).</param>
    public MagDiTrainerBuilder WithGraphHead(GraphHeadKind head, int? attentionHeads = null) => Configure(o =>
    {
        o.GraphHead = head;
        if (attentionHeads is int heads)
        {
            o.AttentionHeads = heads;
        }
    });

    /// <summary>Peak learning rate of the student (and optionally of the scorer and GCN heads).</summary>
    public MagDiTrainerBuilder WithLearningRate(double learningRate, double? headLearningRate = null) => Configure(o =>
    {
        o.LearningRate = learningRate;
        o.HeadLearningRate = headLearningRate;
    });

    /// <summary>Epochs, warm-up steps and an optional cap on optimizer steps.</summary>
    public MagDiTrainerBuilder WithSchedule(int epochs, int warmupSteps, int? maxSteps = null) => Configure(o =>
    {
        o.Epochs = epochs;
        o.WarmupSteps = warmupSteps;
        o.MaxSteps = maxSteps;
    });

    /// <summary>MAGs per micro-batch and micro-batches per optimizer step.</summary>
    public MagDiTrainerBuilder WithBatchSize(int batchSize, int gradientAccumulationSteps = 1) => Configure(o =>
    {
        o.BatchSize = batchSize;
        o.GradientAccumulationSteps = gradientAccumulationSteps;
    });

    /// <summary>Seed of data order, pairing, dropout and initialisation.</summary>
    public MagDiTrainerBuilder WithSeed(int seed) => Configure(o => o.Seed = seed);

    /// <summary>Where checkpoints, metrics and the final adapter go.</summary>
    public MagDiTrainerBuilder WithOutputDirectory(string directory) => Configure(o => o.OutputDirectory = directory);

    /// <summary>Continue from the newest checkpoint in the output folder, if any.</summary>
    public MagDiTrainerBuilder ResumeFromLatestCheckpoint() => Configure(o => o.Resume = true);

    /// <summary>Starts from a copy of <paramref name="options"/> (for example bound from configuration).</summary>
    public MagDiTrainerBuilder WithOptions(MagDiTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Clone();
        return this;
    }

    /// <summary>Starts from the options of the dependency-injection container.</summary>
    public MagDiTrainerBuilder WithOptions(IOptions<MagDiTrainingOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return WithOptions(options.Value);
    }

    /// <summary>Changes any setting; applied after <see cref="WithOptions(MagDiTrainingOptions)"/>, in call order.</summary>
    public MagDiTrainerBuilder Configure(Action<MagDiTrainingOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        _configure.Add(configure);
        return this;
    }

    /// <summary>Logs through <paramref name="logger"/>.</summary>
    public MagDiTrainerBuilder UseLogger(ILogger logger)
    {
        _logger = logger;
        return this;
    }

    /// <summary>Logs through a logger created from <paramref name="loggerFactory"/>.</summary>
    public MagDiTrainerBuilder UseLogger(ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _logger = loggerFactory.CreateLogger<MagDiTrainer>();
        return this;
    }

    /// <summary>Reports every optimizer step.</summary>
    public MagDiTrainerBuilder UseProgress(IProgress<TrainingProgress> progress)
    {
        _progress = progress;
        return this;
    }

    /// <summary>The options <see cref="Build"/> would use: the starting options with every <see cref="Configure"/> applied in order.</summary>
    internal MagDiTrainingOptions ResolveOptions()
    {
        MagDiTrainingOptions options = _options.Clone();
        foreach (var configure in _configure)
        {
            configure(options);
        }

        return TrainingPresets.Apply(options);
    }

    /// <summary>Settings configured explicitly against the preset (empty without a preset or without contradiction).</summary>
    internal IReadOnlyList<string> PresetContradictions() =>
        [.. TrainingPresets.Contradictions(ResolveOptionsWithoutPreset()), .. TrainingPresets.ExplicitContradictions(_options, _configure)];

    private MagDiTrainingOptions ResolveOptionsWithoutPreset()
    {
        MagDiTrainingOptions options = _options.Clone();
        foreach (var configure in _configure)
        {
            configure(options);
        }

        return options;
    }

    /// <summary>The training MAGs added so far.</summary>
    internal IReadOnlyList<InteractionGraph> TrainingGraphs => _training;

    /// <summary>Validates everything, loads the student if it was given as a folder, and creates the trainer.</summary>
    /// <exception cref="OptionsValidationException">One or more settings are missing or invalid; <see cref="OptionsValidationException.Failures"/> lists them all. Nothing was loaded.</exception>
    /// <exception cref="FileNotFoundException">The student folder has no config.json, weights or tokenizer.</exception>
    /// <exception cref="InvalidDataException">A file of the student folder is damaged (the message names the file and the field).</exception>
    /// <exception cref="NotSupportedException">The student uses a model feature MagDi does not implement.</exception>
    public MagDiTrainer Build()
    {
        MagDiTrainingOptions options = ResolveOptions();
        List<string> presetProblems = PresetContradictions().Distinct(StringComparer.Ordinal).ToList();
        var problems = new List<string>(options.GetProblems().Except(presetProblems, StringComparer.Ordinal));
        if (_studentDirectory is { } source)
        {
            problems.AddRange(source.GetProblems());
        }
        else if (_model is null || _tokenizer is null)
        {
            problems.Add("A student is required: call UseStudent(model, tokenizer) or UseStudentFromDirectory(path).");
        }

        if (_training.Count == 0)
        {
            problems.Add("Training MAGs are required: call WithTrainingGraphs(...) with at least one MAG.");
        }

        foreach (string task in _training.Concat(_validation).Select(g => g.Task).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (!ReasoningTasks.TryGet(task, out _))
            {
                problems.Add($"MAGs use the unknown task '{task}'; register it with ReasoningTasks.Register.");
            }
        }

        if (options.SingleTeacher is { } agent && _training.Count > 0 &&
            !_training.Any(g => g.Agents.Contains(agent, StringComparer.OrdinalIgnoreCase)))
        {
            problems.Add($"No training MAG has the agent '{agent}' (agents: {string.Join(", ", _training.SelectMany(g => g.Agents).Distinct())}).");
        }

        if (options.Preset == TrainingPreset.Release)
        {
            var misfits = _training.Select(ReleaseTemplate.Problem).OfType<string>().ToList();
            problems.AddRange(misfits.Take(5).Select(p => "Preset Release: " + p));
            if (misfits.Count > 5)
            {
                problems.Add($"Preset Release: and {misfits.Count - 5} more MAG(s) do not fit the 12-node template.");
            }
        }

        if (presetProblems.Count > 0)
        {
            // A preset contradicted by an explicit setting: one OptionsValidationException naming every setting (and listing
            // the other problems too).
            throw new OptionsValidationException(nameof(MagDiTrainingOptions.Preset), typeof(MagDiTrainingOptions), [.. presetProblems, .. problems]);
        }

        if (problems.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(MagDiTrainingOptions), problems);
        }

        if (_studentDirectory is { } directory)
        {
            // Loaded only now, after every setting was checked; the trainer owns what it loaded.
            (CausalLanguageModel model, ITextTokenizer tokenizer) = directory.Load();
            return new MagDiTrainer(model, tokenizer, ownsModel: true, options, [.. _training], [.. _validation], _logger, _progress);
        }

        return new MagDiTrainer(_model!, _tokenizer!, ownsModel: false, options, [.. _training], [.. _validation], _logger, _progress);
    }

    /// <summary>Where <see cref="UseStudentFromDirectory"/> takes the student from; read in <see cref="Build"/>.</summary>
    private sealed record StudentSource(string Directory, string Device, ModelDType DType)
    {
        public IEnumerable<string> GetProblems()
        {
            if (!System.IO.Directory.Exists(Directory))
            {
                yield return $"The student folder '{Directory}' (UseStudentFromDirectory) does not exist.";
            }

            if (!Enum.IsDefined(DType))
            {
                yield return $"The student dtype '{DType}' is not known; use {string.Join(", ", Enum.GetNames<ModelDType>())}.";
            }

            string? deviceProblem = null;
            try
            {
                _ = TorchRuntime.ResolveDevice(Device);
            }
            catch (Exception ex) when (ex is ArgumentException or TorchRuntimeException)
            {
                deviceProblem = $"The student device '{Device}' cannot be used: {ex.Message}";
            }

            if (deviceProblem is not null)
            {
                yield return deviceProblem;
            }
        }

        public (CausalLanguageModel Model, ITextTokenizer Tokenizer) Load()
        {
            var model = CausalLanguageModel.FromPretrained(Directory, new ModelLoadOptions { Device = TorchRuntime.ResolveDevice(Device), DType = DType.ToScalarType() });
            try
            {
                return (model, TokenizerLoader.Load(Directory));
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }
    }
}

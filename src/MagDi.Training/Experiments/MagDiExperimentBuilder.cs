using MagDi.Graphs;
using MagDi.Graphs.Heads;
using MagDi.Modeling;
using MagDi.Tasks;
using MagDi.Tokenization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MagDi.Training.Experiments;

/// <summary>One row of an experiment as configured (resolved into trainer options when the experiment is built).</summary>
internal sealed record ExperimentRowDefinition(string Name, string Description, ExperimentRowKind Kind, Action<MagDiTrainerBuilder>? Configure)
{
    /// <summary>Whether the row trains a student (the base student's rows, plain or analysed, do not).</summary>
    public bool Trains => Kind != ExperimentRowKind.NoTeacher && !(Kind == ExperimentRowKind.Analysis && Configure is null);

    /// <summary>This row's evaluation settings from the experiment's (self-consistency rows); null uses the experiment's.</summary>
    public Func<EvaluationOptions, EvaluationOptions>? Evaluation { get; init; }

    /// <summary>This row's training MAGs from the experiment's (data-size and edge-pattern rows); null uses them all.</summary>
    public Func<IReadOnlyList<InteractionGraph>, IReadOnlyList<InteractionGraph>>? TrainingData { get; init; }

    /// <summary>What <see cref="Evaluation"/> and <see cref="TrainingData"/> change, for the run's fingerprint.</summary>
    public string? VariantKey { get; init; }

    /// <summary>Expanded in Build into one row per teacher of the training MAGs (self-consistency rows of every SiT).</summary>
    public Func<string, ExperimentRowDefinition>? PerTeacher { get; init; }

    /// <summary>
    /// Rows with the same value train one student per seed, in <c>runs/{slug}/seed-{s}/train</c>, and share it (the
    /// self-consistency rows of one base row differ only in how they are evaluated); null trains in the row's own folder.
    /// </summary>
    public string? SharedTraining { get; init; }

    /// <summary>Expanded in Build into training-size rows of a quarter, half and all of the training MAGs.</summary>
    public bool DefaultSizes { get; init; }

    /// <summary>
    /// For a self-consistency row: the main row whose student it evaluates ("No teacher", "SiT (gpt4)", "Level 4 (MAGDi)") and
    /// its number of samples; null for every other row.
    /// </summary>
    public (string Student, int Samples)? SelfConsistency { get; init; }
}

/// <summary>
/// Composes a <see cref="MagDiExperiment"/>. Each <c>Use…</c>/<c>With…</c>/<c>Add…</c> returns the builder; <see cref="Build"/>
/// validates everything and throws one <see cref="OptionsValidationException"/> listing every problem.
/// </summary>
public sealed class MagDiExperimentBuilder
{
    private readonly List<InteractionGraph> _training = [];
    private readonly List<Question> _test = [];
    private readonly List<InteractionGraph> _teacherDiscussions = [];
    private readonly List<int> _seeds = [];
    private readonly List<ExperimentRowDefinition> _rows = [];
    private readonly List<Action<MagDiTrainerBuilder>> _trainer = [];
    private readonly List<string> _problems = [];
    private readonly List<int> _sizes = [];
    private string? _baseDirectory;
    private string _device = "auto";
    private ModelDType? _dtype;
    private EvaluationOptions _evaluation = new();
    private string? _output;
    private ILogger? _logger;
    private IProgress<ExperimentProgress>? _progress;

    internal MagDiExperimentBuilder()
    {
    }

    /// <summary>
    /// The base student every row starts from: a Hugging Face checkpoint folder (config.json, safetensors weights and tokenizer
    /// files). It is loaded afresh for every (row, seed) run, so no run sees another's weights.
    /// </summary>
    /// <param name="directory">The checkpoint folder.</param>
    /// <param name="device"><c>auto</c>, <c>cpu</c>, <c>cuda</c> or <c>cuda:N</c>.</param>
    /// <param name="dtype">The dtype of the base weights (<see cref="ModelDType.F16"/> on CUDA only); null uses the checkpoint's own floats as float32.</param>
    public MagDiExperimentBuilder UseBaseModel(string directory, string device = "auto", ModelDType? dtype = null)
    {
        _baseDirectory = directory;
        _device = device;
        _dtype = dtype;
        return this;
    }

    /// <summary>Adds training MAGs (shared by every trained row).</summary>
    public MagDiExperimentBuilder WithTrainingGraphs(IEnumerable<InteractionGraph> graphs)
    {
        ArgumentNullException.ThrowIfNull(graphs);
        _training.AddRange(graphs);
        return this;
    }

    /// <summary>Adds held-out test questions (with gold answers); every row is evaluated zero-shot on all of them.</summary>
    public MagDiExperimentBuilder WithTestQuestions(IEnumerable<Question> questions)
    {
        ArgumentNullException.ThrowIfNull(questions);
        _test.AddRange(questions);
        return this;
    }

    /// <summary>
    /// The teachers' own discussions of the test questions (MAGs): their team accuracy and the tokens they wrote are reported
    /// next to the students', as in the paper's efficiency comparison.
    /// </summary>
    public MagDiExperimentBuilder WithTeacherDiscussions(IEnumerable<InteractionGraph> testGraphs)
    {
        ArgumentNullException.ThrowIfNull(testGraphs);
        _teacherDiscussions.AddRange(testGraphs);
        return this;
    }

    /// <summary>The seeds; every trained row runs once per seed (data order, adapter initialisation, dropout, sampling).</summary>
    public MagDiExperimentBuilder WithSeeds(params int[] seeds)
    {
        ArgumentNullException.ThrowIfNull(seeds);
        _seeds.Clear();
        _seeds.AddRange(seeds);
        return this;
    }

    /// <summary><paramref name="count"/> consecutive seeds starting at <paramref name="first"/>.</summary>
    public MagDiExperimentBuilder WithSeedCount(int count, int first = 1)
    {
        _seeds.Clear();
        for (int i = 0; i < count; i++)
        {
            _seeds.Add(first + i); // a count below 1 leaves no seed, which Build reports
        }

        return this;
    }

    /// <summary>The row of the base student itself, zero-shot (the paper's "No Teacher").</summary>
    public MagDiExperimentBuilder AddNoTeacherRow() =>
        AddDefinition(new ExperimentRowDefinition("No teacher", "the base student, zero-shot", ExperimentRowKind.NoTeacher, null));

    /// <summary>
    /// One single-teacher row per teacher (the paper's SiT): that teacher's correct round-0 chains. With no names, one row for
    /// every agent of the training MAGs, in order of first appearance.
    /// </summary>
    public MagDiExperimentBuilder AddSingleTeacherRows(params string[] teachers)
    {
        ArgumentNullException.ThrowIfNull(teachers);
        if (teachers.Length == 0)
        {
            // Every teacher of the training MAGs, which may be added later: expanded in Build, at this position.
            return AddDefinition(new ExperimentRowDefinition(string.Empty, string.Empty, ExperimentRowKind.SingleTeacher, null));
        }

        foreach (string teacher in teachers)
        {
            AddDefinition(SingleTeacherRow(teacher));
        }

        return this;
    }

    /// <summary>Levels 1 to 4 of MAGDi (round-0 correct chains; all correct chains; + margin loss; + GCN loss).</summary>
    public MagDiExperimentBuilder AddLevelRows()
    {
        foreach (DistillationLevel level in Enum.GetValues<DistillationLevel>())
        {
            AddLevelRow(level);
        }

        return this;
    }

    /// <summary>One MAGDi level as a row ("Level 1" ... "Level 4 (MAGDi)"), every teacher.</summary>
    public MagDiExperimentBuilder AddLevelRow(DistillationLevel level)
    {
        var (name, description) = level switch
        {
            DistillationLevel.RoundZero => ("Level 1", "all teachers, round-0 correct chains"),
            DistillationLevel.CorrectNodes => ("Level 2", "correct chains of all rounds"),
            DistillationLevel.AllNodes => ("Level 3", "+ incorrect chains (margin-ranking loss)"),
            DistillationLevel.Structure => ("Level 4 (MAGDi)", "+ interaction structure (GCN node loss)"),
            _ => throw new ArgumentOutOfRangeException(nameof(level), level, "Not a DistillationLevel."),
        };
        return AddDefinition(new ExperimentRowDefinition(name, description, ExperimentRowKind.Level, b => b.WithLevel(level)));
    }

    /// <summary>
    /// The paper's graph-modelling comparison (Table 6): MAGDi (level 4) with node-level attention and with token-level
    /// attention instead of the GCN, as rows "MAGDi (node attention)" and "MAGDi (token attention)". Add the Level 4 row too
    /// (<see cref="AddLevelRow"/>): each is compared with it, and the report checks the paper's claims that the GCN beats
    /// both and node attention beats token attention.
    /// </summary>
    public MagDiExperimentBuilder AddGraphHeadRows() =>
        AddGraphHeadRow(GraphHeadKind.NodeAttention).AddGraphHeadRow(GraphHeadKind.TokenAttention);

    /// <summary>One attention graph head as a MAGDi row (see <see cref="AddGraphHeadRows"/>).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="head"/> is the GCN (that is the Level 4 row) or unknown.</exception>
    public MagDiExperimentBuilder AddGraphHeadRow(GraphHeadKind head)
    {
        var (name, description) = head switch
        {
            GraphHeadKind.NodeAttention => ("MAGDi (node attention)", "level 4, self-attention over the nodes instead of the GCN"),
            GraphHeadKind.TokenAttention => ("MAGDi (token attention)", "level 4, self-attention over the linearised tokens instead of the GCN"),
            GraphHeadKind.Gcn => throw new ArgumentOutOfRangeException(nameof(head), head, "The GCN head is the Level 4 (MAGDi) row: AddLevelRow(DistillationLevel.Structure)."),
            _ => throw new ArgumentOutOfRangeException(nameof(head), head, "Not a GraphHeadKind."),
        };
        return AddDefinition(new ExperimentRowDefinition(name, description, ExperimentRowKind.GraphHead, b => b.WithLevel(DistillationLevel.Structure).WithGraphHead(head)));
    }

    /// <summary>
    /// The paper's multi-teacher baseline DSS-MT (Table 1): Distilling Step-by-Step (Hsieh et al., 2023) on every valid node
    /// of every teacher, label and rationale as two prefixed tasks, L = L_label + λ·L_rationale (λ = 1). Evaluated with the
    /// label prefix, answering without a rationale.
    /// </summary>
    public MagDiExperimentBuilder AddStepByStepRow(double rationaleWeight = 1.0) =>
        AddDefinition(new ExperimentRowDefinition("DSS-MT", "Distilling Step-by-Step, all teachers' nodes (label + rationale tasks)", ExperimentRowKind.Baseline,
            b => b.WithStepByStepObjective(rationaleWeight)));

    /// <summary>
    /// The paper's Table 5: self-consistency@k rows of the base student, of every single teacher (the report shows which SiT is
    /// best) and of MAGDi (Level 4), for each k in <paramref name="samples"/> (default 1 and 10). They decode with the paper's
    /// sampling (temperature 0.7, top-p 0.9, top-k 50) and take the majority answer of k samples; k = 1 is one sample.
    /// The rows of one student at every k share its training (one student per seed, in <c>runs/{student}-sc/seed-{s}/train</c>),
    /// trained with the row's usual settings (same seed, same budget).
    /// </summary>
    public MagDiExperimentBuilder AddSelfConsistencyRows(params int[] samples)
    {
        ArgumentNullException.ThrowIfNull(samples);
        int[] ks = samples.Length == 0 ? [1, 10] : samples;
        foreach (int k in ks)
        {
            string key = $"self-consistency:{k}";
            EvaluationOptions Evaluation(EvaluationOptions e) => Copy(e, o =>
            {
                o.Decoding = DecodingStrategy.Paper;
                o.Samples = k;
            });

            AddDefinition(new ExperimentRowDefinition(MagDiExperiment.SelfConsistencyName("No teacher", k), $"the base student, majority of {k} sample(s)", ExperimentRowKind.Analysis, null)
            {
                Evaluation = Evaluation,
                VariantKey = key,
                SelfConsistency = ("No teacher", k),
            });
            AddDefinition(new ExperimentRowDefinition(string.Empty, string.Empty, ExperimentRowKind.Analysis, null)
            {
                PerTeacher = teacher => SingleTeacherRow(teacher) with
                {
                    Name = MagDiExperiment.SelfConsistencyName($"SiT ({teacher})", k),
                    Description = $"{teacher} alone, majority of {k} sample(s)",
                    Kind = ExperimentRowKind.Analysis,
                    Evaluation = Evaluation,
                    VariantKey = key,
                    SharedTraining = $"SiT ({teacher}), SC",
                    SelfConsistency = ($"SiT ({teacher})", k),
                },
            });
            AddDefinition(new ExperimentRowDefinition(MagDiExperiment.SelfConsistencyName("Level 4 (MAGDi)", k), $"MAGDi, majority of {k} sample(s)", ExperimentRowKind.Analysis, b => b.WithLevel(DistillationLevel.Structure))
            {
                Evaluation = Evaluation,
                VariantKey = key,
                SharedTraining = "Level 4 (MAGDi), SC",
                SelfConsistency = ("Level 4 (MAGDi)", k),
            });
        }

        if (ks.Any(k => k < 1))
        {
            _problems.Add($"Self-consistency sample counts must be at least 1 (got {string.Join(", ", ks)}).");
        }

        return this;
    }

    /// <summary>
    /// The paper's Figure 6: MAGDi (Level 4) trained on the first N training MAGs, one row per N in <paramref name="sizes"/>
    /// ("Level 4 (MAGDi), N MAGs"). The budget is the shared one: with an epoch budget a smaller set gets fewer steps, as in
    /// the paper; with a step budget every size gets the same steps.
    /// </summary>
    /// <remarks>With no sizes: a quarter, half and all of the training MAGs (known when the experiment is built).</remarks>
    public MagDiExperimentBuilder AddTrainingSizeRows(params int[] sizes)
    {
        ArgumentNullException.ThrowIfNull(sizes);
        if (sizes.Length == 0)
        {
            return AddDefinition(new ExperimentRowDefinition(string.Empty, string.Empty, ExperimentRowKind.Analysis, null) { DefaultSizes = true });
        }

        foreach (int size in sizes)
        {
            AddDefinition(TrainingSizeRow(size));
            _sizes.Add(size);
        }

        return this;
    }

    private static ExperimentRowDefinition TrainingSizeRow(int size) =>
        new($"Level 4 (MAGDi), {size} MAGs", $"MAGDi on the first {size} training MAGs", ExperimentRowKind.Analysis, b => b.WithLevel(DistillationLevel.Structure))
        {
            TrainingData = graphs => graphs.Take(size).ToList(),
            VariantKey = $"training-size:{size}",
        };

    /// <summary>
    /// The paper's graph-structure analysis (Table 11): MAGDi (Level 4) on the training MAGs with their edges rebuilt by each of
    /// <paramref name="patterns"/> (default: undirected, fully connected, own chain; the plain Level 4 row is the directed
    /// ReConcile pattern), one row each ("Level 4 (MAGDi), undirected edges").
    /// </summary>
    public MagDiExperimentBuilder AddInteractionPatternRows(params InteractionPattern[] patterns)
    {
        ArgumentNullException.ThrowIfNull(patterns);
        InteractionPattern[] chosen = patterns.Length == 0 ? [InteractionPattern.Undirected, InteractionPattern.FullyConnected, InteractionPattern.OwnChain] : patterns;
        foreach (InteractionPattern pattern in chosen)
        {
            AddDefinition(new ExperimentRowDefinition($"Level 4 (MAGDi), {pattern.Name} edges", $"MAGDi with {pattern.Name} edges", ExperimentRowKind.Analysis, b => b.WithLevel(DistillationLevel.Structure))
            {
                TrainingData = graphs => graphs.Select(g => g.WithPattern(pattern)).ToList(),
                VariantKey = $"edges:{pattern.Name}",
            });
        }

        return this;
    }

    private static EvaluationOptions Copy(EvaluationOptions e, Action<EvaluationOptions> change)
    {
        var copy = new EvaluationOptions
        {
            Decoding = e.Decoding,
            MaxNewTokens = e.MaxNewTokens,
            Samples = e.Samples,
            BatchSize = e.BatchSize,
            Seed = e.Seed,
            Limit = e.Limit,
            PromptFormat = e.PromptFormat,
            TaskPrefix = e.TaskPrefix,
        };
        change(copy);
        return copy;
    }

    /// <summary>A row of your own: <paramref name="configure"/> sets up its trainer (level, teacher, loss weights, ...) after the shared settings.</summary>
    public MagDiExperimentBuilder AddRow(string name, string description, Action<MagDiTrainerBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        return AddDefinition(new ExperimentRowDefinition(name, description ?? string.Empty, ExperimentRowKind.Custom, configure));
    }

    /// <summary>
    /// Settings every trained row shares (the budget: schedule, batch, learning rate, LoRA or full fine-tuning, ...), applied
    /// before each row's own settings. The experiment sets the student, the training MAGs, the seed and the output folder.
    /// </summary>
    public MagDiExperimentBuilder ConfigureTrainer(Action<MagDiTrainerBuilder> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        _trainer.Add(configure);
        return this;
    }

    /// <summary>How students answer at test time (default: greedy, up to 300 new tokens).</summary>
    public MagDiExperimentBuilder WithEvaluation(EvaluationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _evaluation = options;
        return this;
    }

    /// <summary>The folder that receives every run, <c>table.md</c> and <c>results.json</c>. Restarting with the same folder reuses finished runs.</summary>
    public MagDiExperimentBuilder WithOutputDirectory(string directory)
    {
        _output = directory;
        return this;
    }

    /// <summary>Logs through a logger created from <paramref name="loggerFactory"/>.</summary>
    public MagDiExperimentBuilder UseLogger(ILoggerFactory loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _logger = loggerFactory.CreateLogger<MagDiExperiment>();
        return this;
    }

    /// <summary>Logs through <paramref name="logger"/>.</summary>
    public MagDiExperimentBuilder UseLogger(ILogger logger)
    {
        _logger = logger;
        return this;
    }

    /// <summary>Reports training steps, evaluation batches and finished runs.</summary>
    public MagDiExperimentBuilder UseProgress(IProgress<ExperimentProgress> progress)
    {
        _progress = progress;
        return this;
    }

    /// <summary>Validates everything and creates the experiment.</summary>
    /// <exception cref="OptionsValidationException">Something is missing or invalid; every failure is listed.</exception>
    public MagDiExperiment Build()
    {
        var failures = new List<string>();
        var rows = new List<ExperimentRowDefinition>();
        foreach (var row in _rows)
        {
            if (row.DefaultSizes)
            {
                rows.AddRange(new[] { _training.Count / 4, _training.Count / 2, _training.Count }.Where(n => n >= 1).Distinct().Select(TrainingSizeRow));
            }
            else if ((row.Kind == ExperimentRowKind.SingleTeacher && row.Configure is null) || row.PerTeacher is not null)
            {
                var agents = _training.SelectMany(g => g.Agents).Distinct(StringComparer.Ordinal).ToList();
                rows.AddRange(agents.Select(row.PerTeacher ?? SingleTeacherRow));
                if (agents.Count == 0)
                {
                    failures.Add("Single-teacher rows for every teacher need training MAGs to take the teachers from (WithTrainingGraphs).");
                }
            }
            else
            {
                rows.Add(row);
            }
        }

        failures.AddRange(_problems);
        foreach (int size in _sizes.Where(n => n < 1 || (_training.Count > 0 && n > _training.Count)))
        {
            failures.Add($"Training-size row of {size} MAGs: sizes must be from 1 to the {_training.Count} training MAGs.");
        }

        if (_seeds.Count == 0)
        {
            failures.Add("At least one seed is required (WithSeeds or WithSeedCount with a count of 1 or more).");
        }
        else if (_seeds.Distinct().Count() != _seeds.Count)
        {
            failures.Add($"Seeds must be distinct (got {string.Join(", ", _seeds)}).");
        }

        if (rows.Count == 0)
        {
            failures.Add("At least one row is required (AddNoTeacherRow, AddSingleTeacherRows, AddLevelRows or AddRow).");
        }

        foreach (var name in rows.GroupBy(r => r.Name, StringComparer.OrdinalIgnoreCase).Where(g => g.Count() > 1).Select(g => g.Key))
        {
            failures.Add($"Row names must be distinct; '{name}' is used more than once.");
        }

        foreach (var row in rows.Where(r => string.IsNullOrWhiteSpace(r.Name)))
        {
            failures.Add($"Every row needs a name (a row described as '{row.Description}' has none).");
        }

        if (string.IsNullOrWhiteSpace(_output))
        {
            failures.Add("An output folder is required (WithOutputDirectory).");
        }

        CheckTest(failures);
        ModelConfig? config = CheckBaseModel(failures, out ITextTokenizer? tokenizer);
        if (rows.Any(r => r.Trains) && _training.Count == 0)
        {
            failures.Add("Trained rows need training MAGs (WithTrainingGraphs).");
        }

        var resolved = new Dictionary<string, MagDiTrainingOptions>(StringComparer.Ordinal);
        foreach (var row in rows.Where(r => r.Trains && !string.IsNullOrWhiteSpace(r.Name)))
        {
            MagDiTrainingOptions? options = ResolveRow(row, failures);
            if (options is not null)
            {
                resolved[row.Name] = options;
            }
        }

        if (config is not null && tokenizer is not null)
        {
            CheckLinearizedLengths(rows, resolved, config, tokenizer, failures);
        }

        failures.AddRange(_evaluation.GetProblems());
        foreach (var row in rows.Where(r => r.Evaluation is not null))
        {
            failures.AddRange(row.Evaluation!(_evaluation).GetProblems().Select(problem => $"Row '{row.Name}': {problem}"));
        }

        if (failures.Count > 0)
        {
            throw new OptionsValidationException("MagDiExperiment", typeof(MagDiExperimentBuilder), failures);
        }

        return new MagDiExperiment(new ExperimentSetup(
            Path.GetFullPath(_output!),
            Path.GetFullPath(_baseDirectory!),
            _device,
            _dtype,
            config!,
            tokenizer!,
            [.. _training],
            [.. _test],
            [.. _teacherDiscussions],
            [.. _seeds],
            rows,
            [.. _trainer],
            resolved,
            _evaluation,
            _logger,
            _progress));
    }

    private void CheckTest(List<string> failures)
    {
        if (_test.Count == 0)
        {
            failures.Add("Test questions are required (WithTestQuestions).");
            return;
        }

        foreach (var id in _test.GroupBy(q => q.Id, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).Take(5))
        {
            failures.Add($"Test question ids must be distinct; '{id}' appears more than once.");
        }

        foreach (string task in _test.Select(q => q.Task).Concat(_training.Select(g => g.Task)).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            if (!ReasoningTasks.TryGet(task, out _))
            {
                failures.Add($"The task '{task}' is not known; register it with ReasoningTasks.Register.");
            }
        }

        var testIds = _test.Select(q => q.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var g in _teacherDiscussions.Where(g => !testIds.Contains(g.Id)).Take(3))
        {
            failures.Add($"Teacher discussion '{g.Id}' is not one of the test questions (ids must match).");
        }
    }

    private ModelConfig? CheckBaseModel(List<string> failures, out ITextTokenizer? tokenizer)
    {
        tokenizer = null;
        if (string.IsNullOrWhiteSpace(_baseDirectory))
        {
            failures.Add("A base student is required (UseBaseModel with a Hugging Face checkpoint folder).");
            return null;
        }

        if (!Directory.Exists(_baseDirectory))
        {
            failures.Add($"The base student folder '{_baseDirectory}' does not exist.");
            return null;
        }

        ModelConfig config;
        try
        {
            config = ModelConfig.Load(Path.Combine(_baseDirectory, "config.json"));
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or ArgumentException or FormatException or System.Text.Json.JsonException or UnauthorizedAccessException)
        {
            failures.Add($"The base student's config.json cannot be read: {ex.Message}");
            return null;
        }

        try
        {
            tokenizer = TokenizerLoader.Load(_baseDirectory);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or ArgumentException or FormatException or NotSupportedException or System.Text.Json.JsonException or UnauthorizedAccessException)
        {
            failures.Add($"The base student's tokenizer cannot be loaded from '{_baseDirectory}': {ex.Message}");
            return config;
        }

        if (tokenizer.VocabularySize > config.VocabSize)
        {
            failures.Add($"The base student's tokenizer has {tokenizer.VocabularySize} tokens but its config.json vocab_size is {config.VocabSize}: " +
                "the tokenizer and the weights do not belong together.");
        }

        foreach (var (name, id) in new[] { ("bos", tokenizer.Special.BosId), ("eos", tokenizer.Special.EosId), ("pad", tokenizer.Special.PadId) })
        {
            if (id is int value && (value < 0 || value >= config.VocabSize))
            {
                failures.Add($"The base student's tokenizer has {name} id {value}, outside its vocab_size of {config.VocabSize}.");
            }
        }

        if (tokenizer.Special.EosId is null)
        {
            failures.Add("The base student's tokenizer has no EOS token; MAGDi targets end with EOS.");
        }

        return config;
    }

    /// <summary>The trainer options a row resolves to, with the data checks the trainer would only make at run time.</summary>
    private MagDiTrainingOptions? ResolveRow(ExperimentRowDefinition row, List<string> failures)
    {
        var probe = MagDiTrainer.CreateBuilder();
        foreach (var configure in _trainer)
        {
            configure(probe);
        }

        row.Configure?.Invoke(probe);
        probe.WithOutputDirectory(Path.Combine(_output ?? ".", "probe"));
        MagDiTrainingOptions options = probe.ResolveOptions();
        foreach (string problem in options.GetProblems())
        {
            failures.Add($"Row '{row.Name}': {problem}");
        }

        if (_training.Count == 0)
        {
            return options;
        }

        IReadOnlyList<InteractionGraph> training = row.TrainingData?.Invoke(_training) ?? _training;
        if (options.SingleTeacher is { } teacher && !training.Any(g => g.Agents.Contains(teacher, StringComparer.OrdinalIgnoreCase)))
        {
            failures.Add($"Row '{row.Name}': no training MAG has the teacher '{teacher}' (teachers: {string.Join(", ", _training.SelectMany(g => g.Agents).Distinct(StringComparer.Ordinal))}).");
            return null;
        }

        if (!training.Any(g => g.Nodes.Any(n => n.IsValid && TrainingSet.Selects(options, n))))
        {
            failures.Add($"Row '{row.Name}': the training MAGs have no node this row trains on (level {options.Level}" +
                (options.SingleTeacher is null ? ")." : $", teacher '{options.SingleTeacher}')."));
            return null;
        }

        return options;
    }

    /// <summary>
    /// Token attention runs each MAG through the student as one sequence: a MAG longer than the student's positions would fail
    /// that row after the rows before it had trained, so it is found here, with the trainer's own message.
    /// </summary>
    private void CheckLinearizedLengths(
        List<ExperimentRowDefinition> rows, Dictionary<string, MagDiTrainingOptions> resolved, ModelConfig config, ITextTokenizer tokenizer, List<string> failures)
    {
        foreach (ExperimentRowDefinition row in rows)
        {
            if (!resolved.TryGetValue(row.Name, out MagDiTrainingOptions? options) || options.GraphHead != GraphHeadKind.TokenAttention || options.EffectiveWeights().Gamma <= 0)
            {
                continue;
            }

            try
            {
                int limit = options.MaxSequenceLength ?? config.MaxPositionEmbeddings;
                var template = new MagDiPromptTemplate(options.PromptFormat.Resolve(tokenizer));
                var (graphs, _) = TrainingSet.Prepare(_training, options, tokenizer, template, limit, "training");
                LinearizedBatch.EnsureFits(graphs, limit, options.MaxSequenceLength is null ? "the model's max_position_embeddings" : "MaxSequenceLength");
            }
            catch (Exception ex) when (ex is TrainingDataException or ArgumentException)
            {
                failures.Add($"Row '{row.Name}': {ex.Message}");
            }
        }
    }

    private MagDiExperimentBuilder AddDefinition(ExperimentRowDefinition row)
    {
        _rows.Add(row);
        return this;
    }

    private static ExperimentRowDefinition SingleTeacherRow(string teacher) => new(
        $"SiT ({teacher})",
        $"{teacher} alone, its correct round-0 chains",
        ExperimentRowKind.SingleTeacher,
        b => b.WithLevel(DistillationLevel.RoundZero).WithSingleTeacher(teacher));
}

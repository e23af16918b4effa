using System.ClientModel;
using System.ClientModel.Primitives;
using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using MagDi.Cli.Infrastructure;
using MagDi.Tasks;
using MagDi.Training;
using Microsoft.Extensions.AI;
using OpenAI;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MagDi.Cli.Commands;

/// <summary>
/// <c>magdi eval</c>: accuracy on a benchmark file, either of a predictions file produced anywhere (<c>--predictions</c>)
/// or of a student generating zero-shot answers (<c>--model</c>, with MagDiEvaluator), in this process or served by an
/// OpenAI-compatible engine (<c>--endpoint URL --model NAME</c>).
/// </summary>
public sealed class EvalCommand(CliOutput output) : AsyncCommand<EvalCommand.Settings>
{
    /// <summary>Options of <c>eval</c>.</summary>
    public sealed class Settings : ModelSettings
    {
        /// <summary>The most self-consistency samples per question (each one is a full generation).</summary>
        public const int MaxSamples = 1024;

        /// <summary>The largest generation batch.</summary>
        public const int MaxBatchSize = 4096;

        /// <summary>The task.</summary>
        [CommandOption("--task <TASK>")]
        [Description("The task: gsm8k, svamp, math, strategyqa (sqa), boolq, commonsenseqa (ecqa, csqa), arc, aqua, or a registered task.")]
        public string? Task { get; set; }

        /// <summary>The benchmark file.</summary>
        [CommandOption("--test <FILE>")]
        [Description("The benchmark file in its public format (see docs/tasks.md).")]
        public string? Test { get; set; }

        /// <summary>The predictions file.</summary>
        [CommandOption("--predictions <FILE>")]
        [Description("JSON Lines: {\"id\": ..., \"prediction\": \"model output\"} or {\"id\": ..., \"answer\": \"...\"} per line.")]
        public string? Predictions { get; set; }

        /// <summary>Evaluate only the first N questions.</summary>
        [CommandOption("--limit <N>")]
        [Description("Model mode: evaluate only the first N questions.")]
        [NumberRange(1, int.MaxValue)]
        public int? Limit { get; set; }

        /// <summary>Self-consistency samples.</summary>
        [CommandOption("--samples <K>")]
        [Description("Model mode: 1 (default) decodes greedily; K > 1 samples K answers with the paper's settings and takes a majority vote.")]
        [DefaultValue(1)]
        [NumberRange(1, MaxSamples)]
        public int Samples { get; set; } = 1;

        /// <summary>Maximum new tokens per answer.</summary>
        [CommandOption("--max-new-tokens <N>")]
        [Description("Model mode: maximum tokens generated per answer (default 300).")]
        [DefaultValue(300)]
        [NumberRange(1, int.MaxValue)]
        public int MaxNewTokens { get; set; } = 300;

        /// <summary>Sequences decoded together (or requests in flight with --endpoint).</summary>
        [CommandOption("--batch-size <N>")]
        [Description("Model mode: sequences decoded together with continuous batching (default 8; at least --samples), or requests in flight with --endpoint.")]
        [DefaultValue(8)]
        [NumberRange(1, MaxBatchSize)]
        public int BatchSize { get; set; } = 8;

        /// <summary>Task prefix before the question.</summary>
        [CommandOption("--task-prefix <TEXT>")]
        [Description("Model mode: a task prefix before the question, for students trained on prefixed tasks: \"[[label]]\" for a DSS-MT adapter (magdi train --objective dss-mt).")]
        public string? TaskPrefix { get; set; }

        /// <summary>Seed of sampling.</summary>
        [CommandOption("--seed <S>")]
        [Description("Model mode: seed of sampling (with --samples > 1).")]
        [DefaultValue(0L)]
        public long Seed { get; set; }

        /// <summary>An OpenAI-compatible server that serves the student named by --model.</summary>
        [CommandOption("--endpoint <URL>")]
        [Description("Evaluate a student served elsewhere (vLLM, TGI, Ollama, ...): the OpenAI-compatible base URL, e.g. http://localhost:8000/v1; --model is then the served model's name. The API key, if any, comes from OPENAI_API_KEY.")]
        public string? Endpoint { get; set; }

        /// <summary>Where predictions and metrics go.</summary>
        [CommandOption("--out <DIR>")]
        [Description("Model mode: write predictions.jsonl (readable by --predictions) and metrics.json into DIR.")]
        public string? Out { get; set; }

        /// <summary>Print JSON.</summary>
        [CommandOption("--json")]
        [Description("Print {\"task\",\"count\",\"correct\",\"accuracy\"} as JSON (model mode adds \"average_generated_tokens\").")]
        public bool Json { get; set; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (Endpoint is not null && (!Uri.TryCreate(Endpoint, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https")))
            {
                return ValidationResult.Error($"--endpoint must be an absolute http(s) URL such as http://localhost:8000/v1 (got '{Endpoint}').");
            }

            if (Endpoint is not null && string.IsNullOrWhiteSpace(Model))
            {
                return ValidationResult.Error("--endpoint needs --model NAME, the name under which the server serves the student.");
            }

            if (Endpoint is not null && Adapter is not null)
            {
                return ValidationResult.Error("--adapter applies to a local --model folder; a served student is served with its adapter merged (or by the engine).");
            }

            if (Model is not null)
            {
                if (Predictions is not null)
                {
                    return ValidationResult.Error("Give either --model (generate answers) or --predictions (score a file), not both.");
                }

                var model = Endpoint is null ? ValidateModel() : ValidationResult.Success();
                if (!model.Successful)
                {
                    return model;
                }

                if (string.IsNullOrWhiteSpace(Task) || string.IsNullOrWhiteSpace(Test))
                {
                    return ValidationResult.Error("--task and --test are required.");
                }

                if (Limit is < 1 || Samples is < 1 or > MaxSamples || MaxNewTokens < 1 || BatchSize is < 1 or > MaxBatchSize)
                {
                    return ValidationResult.Error($"--limit and --max-new-tokens must be at least 1, --samples from 1 to {MaxSamples}, --batch-size from 1 to {MaxBatchSize}.");
                }

                if (Out is not null && OutputTargets.Folder("--out", Out) is { Successful: false } folder)
                {
                    return folder;
                }
            }
            else if (string.IsNullOrWhiteSpace(Task) || string.IsNullOrWhiteSpace(Test) || string.IsNullOrWhiteSpace(Predictions))
            {
                return ValidationResult.Error("--task, --test and --predictions are required (or --model, --task and --test to evaluate a student).");
            }

            if (!ReasoningTasks.TryGet(Task, out _))
            {
                return ValidationResult.Error($"Unknown task '{Task}'. Known tasks: {string.Join(", ", ReasoningTasks.KnownNames)}.");
            }

            if (Out is not null)
            {
                foreach (string written in new[] { "predictions.jsonl", "metrics.json" })
                {
                    var check = OutputPaths.CheckNotAnInput("--out", Path.Combine(Out, written), ("--test", Test), ("--predictions", Predictions));
                    if (!check.Successful)
                    {
                        return check;
                    }
                }
            }

            return ValidationResult.Success();
        }
    }

    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        if (settings.Model is not null)
        {
            return await EvaluateModelAsync(settings, cancellationToken);
        }

        var result = await Scoring.ScoreFilesAsync(settings.Task!, settings.Test!, settings.Predictions!, null, cancellationToken);
        if (settings.Json)
        {
            var json = JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["task"] = result.Task,
                ["count"] = result.Count,
                ["correct"] = result.Correct,
                ["accuracy"] = result.Accuracy,
            });
            await output.Out.WriteLineAsync(json);
        }
        else
        {
            await output.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{result.Task}: {result.Correct}/{result.Count} correct, accuracy {result.Accuracy:P2} ({result.Missing} without prediction, {result.Unanswered} without an extractable answer)"));
        }

        if (result.Missing > 0)
        {
            await output.Error.WriteLineAsync($"warning: {result.Missing} question(s) had no prediction and count as wrong.");
        }

        return ExitCodes.Success;
    }

    private async Task<int> EvaluateModelAsync(Settings settings, CancellationToken cancellationToken)
    {
        var data = await BenchmarkReader.ReadAsync(settings.Test!, settings.Task!, null, cancellationToken);
        if (data.Questions.Count == 0)
        {
            throw new ArgumentException($"--test: '{settings.Test}' holds no questions.");
        }

        var options = new EvaluationOptions
        {
            Decoding = settings.Samples > 1 ? DecodingStrategy.Paper : DecodingStrategy.Greedy,
            Samples = settings.Samples,
            TaskPrefix = settings.TaskPrefix,
            MaxNewTokens = settings.MaxNewTokens,
            BatchSize = settings.BatchSize,
            Seed = settings.Seed,
            Limit = settings.Limit,
        };
        LoadedStudent? student = null;
        IChatClient? served = null;
        MagDiEvaluator evaluator;
        if (settings.Endpoint is not null)
        {
            string? key = Environment.GetEnvironmentVariable(DiscussCommand.ApiKeyVariable);
            served = new OpenAI.Chat.ChatClient(settings.Model!, new ApiKeyCredential(string.IsNullOrEmpty(key) ? "none" : key), new OpenAIClientOptions
            {
                Endpoint = new Uri(settings.Endpoint),
                RetryPolicy = new ClientRetryPolicy(1),
            }).AsIChatClient();
            evaluator = new MagDiEvaluator(served, options);
        }
        else
        {
            student = LoadedStudent.Load(settings);
            int maxPositions = student.Model.Config.MaxPositionEmbeddings;
            if (settings.MaxNewTokens >= maxPositions)
            {
                student.Dispose();
                throw new ArgumentException(
                    $"--max-new-tokens {settings.MaxNewTokens} leaves no room for the question: the prompt plus the answer must fit the model's max_position_embeddings {maxPositions}.");
            }

            evaluator = new MagDiEvaluator(student.Model, student.Tokenizer, options);
        }

        using var ownedStudent = student;
        using var ownedClient = served;
        int total = Math.Min(data.Questions.Count, settings.Limit ?? int.MaxValue);
        EvaluationResult result;
        if (settings.Json)
        {
            result = await evaluator.EvaluateAsync(data.Questions, null, cancellationToken);
        }
        else
        {
            result = await output.Console.Progress()
                .AutoClear(false)
                .Columns(new TaskDescriptionColumn { Alignment = Justify.Left }, new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
                .StartAsync(async ctx =>
                {
                    var task = ctx.AddTask($"evaluating {total} question(s)", maxValue: total);
                    var progress = new InlineProgress<int>(done =>
                    {
                        task.Value = done;
                        ctx.Refresh();
                    });
                    return await evaluator.EvaluateAsync(data.Questions, progress, cancellationToken);
                });
        }

        if (settings.Out is not null)
        {
            await MagDiEvaluator.WriteAsync(result, settings.Out, cancellationToken);
        }

        foreach (EvaluatedQuestion rejected in result.Questions.Where(q => q.Error is not null))
        {
            await output.Error.WriteLineAsync($"warning: question '{Terminal.Clean(rejected.Id)}' was not generated and counts as wrong: {Terminal.Clean(rejected.Error!)}");
        }

        if (settings.Json)
        {
            await output.Out.WriteLineAsync(JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["task"] = result.Task,
                ["count"] = result.Count,
                ["correct"] = result.Correct,
                ["accuracy"] = result.Accuracy,
                ["average_generated_tokens"] = result.AverageGeneratedTokens,
            }));
        }
        else
        {
            await output.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                $"{result.Task}: {result.Correct}/{result.Count} correct, accuracy {result.Accuracy:P2}, {result.AverageGeneratedTokens:F1} generated tokens per answer, {result.Duration.TotalSeconds:F1} s")
                + (settings.Out is null ? string.Empty : $". Predictions and metrics in {settings.Out}"));
        }

        return ExitCodes.Success;
    }
}

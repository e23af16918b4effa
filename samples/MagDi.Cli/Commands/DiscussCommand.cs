using System.ClientModel;
using System.ClientModel.Primitives;
using System.ComponentModel;
using System.Globalization;
using MagDi.Cli.Infrastructure;
using MagDi.Graphs.Discussion;
using Microsoft.Extensions.AI;
using OpenAI;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MagDi.Cli.Commands;

/// <summary><c>magdi discuss</c>: build a MAG corpus from ReConcile-style discussions between teachers (real or simulated).</summary>
public sealed class DiscussCommand(CliOutput output) : AsyncCommand<DiscussCommand.Settings>
{
    /// <summary>The environment variable holding the API key of real teachers.</summary>
    public const string ApiKeyVariable = "OPENAI_API_KEY";

    /// <summary>Options of <c>discuss</c>.</summary>
    public sealed class Settings : CliSettings
    {
        /// <summary>The most discussion rounds after round 0 (the paper uses 3).</summary>
        public const int MaxRounds = 100;

        /// <summary>The most questions in flight.</summary>
        public const int MaxConcurrency = 256;

        /// <summary>The task.</summary>
        [CommandOption("--task <TASK>")]
        [Description("The task, e.g. gsm8k, strategyqa, synthetic-arithmetic, synthetic-comparison.")]
        public string? Task { get; set; }

        /// <summary>The questions.</summary>
        [CommandOption("--questions <SOURCE>")]
        [Description("A benchmark file in its public format, or synthetic:N for N generated problems (synthetic tasks only).")]
        public string? Questions { get; set; }

        /// <summary>The output corpus.</summary>
        [CommandOption("--out <FILE>")]
        [Description("Output MAG corpus (JSON Lines). If it exists, questions already in it are skipped (resume).")]
        public string? Out { get; set; }

        /// <summary>The teachers.</summary>
        [CommandOption("--agent <SPEC>")]
        [Description("A teacher: NAME=MODEL (OpenAI) or NAME=URL|MODEL (any OpenAI-compatible server). Repeat for each teacher. Key from OPENAI_API_KEY.")]
        public string[] Agents { get; set; } = [];

        /// <summary>Use simulated teachers.</summary>
        [CommandOption("--simulated")]
        [Description("Use the three deterministic simulated teachers (offline). The default when no --agent is given.")]
        public bool Simulated { get; set; }

        /// <summary>Rounds.</summary>
        [CommandOption("--rounds <N>")]
        [Description("Discussion rounds after round 0 (default 3).")]
        [NumberRange(0, MaxRounds)]
        public int? Rounds { get; set; }

        /// <summary>Concurrency.</summary>
        [CommandOption("--concurrency <N>")]
        [Description("Questions discussed in parallel (default 4).")]
        [NumberRange(1, MaxConcurrency)]
        public int? Concurrency { get; set; }

        /// <summary>Seed.</summary>
        [CommandOption("--seed <S>")]
        [Description("Seed of synthetic questions and simulated teachers (default 1234).")]
        [DefaultValue(1234)]
        public int Seed { get; set; } = 1234;

        /// <summary>Limit.</summary>
        [CommandOption("--limit <N>")]
        [Description("Only the first N questions.")]
        [NumberRange(1, int.MaxValue)]
        public int? Limit { get; set; }

        /// <summary>Retries of a chat call.</summary>
        [CommandOption("--retries <N>")]
        [Description("Retries of a teacher call after a transient error (network, timeout, HTTP 408/429/5xx, unreadable reply), with exponential backoff (default 6).")]
        [NumberRange(0, 100)]
        public int? Retries { get; set; }

        /// <summary>Timeout of one chat call.</summary>
        [CommandOption("--timeout <SECONDS>")]
        [Description("Timeout of one teacher call, in seconds (default 120).")]
        [NumberRange(0, 86_400, MinimumExclusive = true)]
        public double? Timeout { get; set; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Task) || string.IsNullOrWhiteSpace(Questions) || string.IsNullOrWhiteSpace(Out))
            {
                return ValidationResult.Error("--task, --questions and --out are required.");
            }

            if (Rounds is < 0 or > MaxRounds || Concurrency is < 1 or > MaxConcurrency || Limit is < 1 || Retries is < 0 || Timeout is <= 0)
            {
                return ValidationResult.Error($"--rounds must be from 0 to {MaxRounds}, --concurrency from 1 to {MaxConcurrency}, --limit at least 1, --retries at least 0, --timeout positive.");
            }

            const string Synthetic = "synthetic:";
            if (Questions.StartsWith(Synthetic, StringComparison.OrdinalIgnoreCase))
            {
                string count = Questions[Synthetic.Length..];
                var range = new NumericOption("--questions synthetic:N", typeof(int), new NumberRangeAttribute(1, DiscussionCommand.MaxSyntheticQuestions));
                if (range.Problem(count) is { } problem)
                {
                    return ValidationResult.Error(problem.Replace("(got '", "(got 'synthetic:", StringComparison.Ordinal) +
                        " Larger corpora: several runs with different --seed values into different files.");
                }
            }
            else if (!File.Exists(Questions) && !Directory.Exists(Questions))
            {
                return ValidationResult.Error($"--questions: '{Terminal.Clean(Questions)}' does not exist (give a benchmark file, or synthetic:N).");
            }

            var output = OutputTargets.File("--out", Out);
            if (!output.Successful)
            {
                return output;
            }

            foreach (string spec in Agents)
            {
                try
                {
                    AgentEndpoint.Parse(spec);
                }
                catch (FormatException e)
                {
                    return ValidationResult.Error($"--agent: {Terminal.Clean(e.Message)}");
                }
            }

            // The corpus and its usage log are appended to: neither may be the questions file.
            var check = OutputPaths.CheckNotAnInput("--out", Out, ("--questions", Questions));
            return check.Successful
                ? OutputPaths.CheckNotAnInput(
                    "--out (its usage log)", Path.Combine(Path.GetDirectoryName(Path.GetFullPath(Out))!, Path.GetFileNameWithoutExtension(Out) + ".usage.jsonl"), ("--questions", Questions))
                : check;
        }
    }

    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var options = new DiscussionCommandOptions
        {
            Task = settings.Task!,
            Questions = settings.Questions!,
            Output = settings.Out!,
            Simulated = settings.Simulated,
            Rounds = settings.Rounds,
            Concurrency = settings.Concurrency,
            Seed = settings.Seed,
            Limit = settings.Limit,
        };
        foreach (string spec in settings.Agents)
        {
            options.Agents.Add(AgentEndpoint.Parse(spec));
        }

        string? key = Environment.GetEnvironmentVariable(ApiKeyVariable);
        if (!options.Simulated && options.Agents.Count > 0 && string.IsNullOrEmpty(key) && options.Agents.Any(a => a.Endpoint is null))
        {
            throw new ArgumentException($"--agent NAME=MODEL talks to OpenAI and needs the API key in {ApiKeyVariable}; set it, give NAME=URL|MODEL for a local server, or use --simulated.");
        }

        IChatClient CreateClient(AgentEndpoint agent) =>
            new OpenAI.Chat.ChatClient(agent.Model, new ApiKeyCredential(string.IsNullOrEmpty(key) ? "none" : key), new OpenAIClientOptions
            {
                Endpoint = agent.Endpoint,
                RetryPolicy = new ClientRetryPolicy(0), // UseMagDiResilience retries with backoff instead
            }).AsIChatClient();

        // The runner's log (retries, re-asks, invalid nodes and why a question failed) goes to stderr. Questions finish on
        // several threads and the runner logs from them: the progress lines take the logger's lock too.
        using var loggerFactory = new CliLoggerFactory(output.Error, output.Verbose);
        var gate = loggerFactory.Gate;
        var progress = new InlineProgress<DiscussionProgress>(p =>
        {
            string outcome = p.Result is { } r
                ? $"G{r.Graph.InteractionRounds}, team answer {Terminal.Clean(r.TeamAnswer)} ({(r.TeamCorrect ? "correct" : "wrong")})"
                : "failed (the reason is logged above)";
            lock (gate)
            {
                output.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"[{p.Completed + p.Skipped + p.Failed}/{p.Total}] {Terminal.Clean(p.QuestionId)}: {outcome}, {p.RunningTotal.TotalTokens} tokens so far"));
            }
        });

        var runOptions = new DiscussionOptions();
        if (settings.Retries is int retries)
        {
            runOptions.Resilience.MaxRetries = retries;
        }

        if (settings.Timeout is double timeout)
        {
            runOptions.Resilience.CallTimeout = TimeSpan.FromSeconds(timeout);
        }

        var summary = await DiscussionCommand.RunAsync(options, CreateClient, runOptions, loggerFactory, progress, cancellationToken);
        await output.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"Wrote {summary.Written} MAG(s) to {summary.OutputPath} ({summary.Skipped} already there, {summary.FailedQuestionIds.Count} failed); team answer correct {summary.TeamCorrect}/{summary.Written}; {summary.RunningTotal.TotalTokens} tokens. Usage log: {summary.UsagePath}"));
        if (summary.GraphTypes.Count > 0)
        {
            await output.Out.WriteLineAsync("Graph types: " + string.Join(", ", summary.GraphTypes.OrderBy(kv => kv.Key).Select(kv => $"G{kv.Key}={kv.Value}")));
        }

        if (summary.FailedQuestionIds.Count > 0)
        {
            await output.Error.WriteLineAsync(
                $"error: {summary.FailedQuestionIds.Count} question(s) failed: {Terminal.Clean(string.Join(", ", summary.FailedQuestionIds.Take(20)))}. " +
                "The reason of each is logged above; run again to retry them.");
            return ExitCodes.BadInput;
        }

        return ExitCodes.Success;
    }
}

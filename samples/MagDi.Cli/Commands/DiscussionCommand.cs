using System.Globalization;
using MagDi.Graphs.Discussion;
using MagDi.Graphs.Discussion.Simulation;
using MagDi.Tasks;
using MagDi.Tasks.Synthetic;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace MagDi.Cli.Commands;

/// <summary>
/// A teacher endpoint from the command line or configuration: <c>NAME=MODEL</c> or <c>NAME=URL|MODEL</c>
/// (an OpenAI-compatible base URL such as <c>http://localhost:11434/v1</c>, then the model name).
/// </summary>
/// <param name="Name">The agent name used in the MAG.</param>
/// <param name="Endpoint">The OpenAI-compatible base URL, or <see langword="null"/> for the provider's default.</param>
/// <param name="Model">The model name.</param>
internal sealed record AgentEndpoint(string Name, Uri? Endpoint, string Model)
{
    /// <summary>Parses <c>NAME=MODEL</c> or <c>NAME=URL|MODEL</c>.</summary>
    /// <param name="spec">The text.</param>
    /// <returns>The endpoint.</returns>
    /// <exception cref="FormatException">The text does not have that form; the message says why.</exception>
    public static AgentEndpoint Parse(string spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        int eq = spec.IndexOf('=', StringComparison.Ordinal);
        if (eq <= 0 || eq == spec.Length - 1)
        {
            throw new FormatException($"Agent '{spec}' must look like NAME=MODEL or NAME=URL|MODEL.");
        }

        string name = spec[..eq].Trim();
        string rest = spec[(eq + 1)..].Trim();
        int bar = rest.LastIndexOf('|');
        if (bar < 0)
        {
            return new AgentEndpoint(name, null, rest);
        }

        string url = rest[..bar].Trim(), model = rest[(bar + 1)..].Trim();
        if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
        {
            throw new FormatException($"Agent '{spec}': '{url}' is not an http(s) URL.");
        }

        if (model.Length == 0)
        {
            throw new FormatException($"Agent '{spec}': the model name after '|' is missing.");
        }

        return new AgentEndpoint(name, uri, model);
    }

    /// <inheritdoc />
    public override string ToString() => Endpoint is null ? $"{Name}={Model}" : $"{Name}={Endpoint}|{Model}";
}

/// <summary>The settings of the <c>magdi discuss</c> verb.</summary>
internal sealed class DiscussionCommandOptions
{
    /// <summary>The task name (for example <c>gsm8k</c>, <c>strategyqa</c>, <c>synthetic-arithmetic</c>).</summary>
    public string Task { get; set; } = SyntheticBenchmark.ArithmeticTaskName;

    /// <summary>The benchmark file (any format <see cref="BenchmarkReader"/> reads), or <c>synthetic:N</c> to generate N synthetic problems of the task's family.</summary>
    public string Questions { get; set; } = "synthetic:50";

    /// <summary>The output MAG corpus (JSON lines); resumed if it exists.</summary>
    public string Output { get; set; } = "mags.jsonl";

    /// <summary>The teachers; empty (or <see cref="Simulated"/>) for the three simulated teachers.</summary>
    public IList<AgentEndpoint> Agents { get; } = [];

    /// <summary>Use the simulated teachers even if <see cref="Agents"/> are given.</summary>
    public bool Simulated { get; set; }

    /// <summary>Discussion rounds after round 0; <see langword="null"/> for <see cref="DiscussionOptions.MaxRounds"/>.</summary>
    public int? Rounds { get; set; }

    /// <summary>Questions in parallel; <see langword="null"/> for <see cref="DiscussionOptions.MaxConcurrentQuestions"/>.</summary>
    public int? Concurrency { get; set; }

    /// <summary>Seed of the synthetic benchmark and the simulated teachers. Default 1234.</summary>
    public int Seed { get; set; } = 1234;

    /// <summary>Only the first N questions; <see langword="null"/> for all.</summary>
    public int? Limit { get; set; }
}

/// <summary>
/// The body of <c>magdi discuss --task T --questions FILE --out FILE.jsonl [--agent NAME=URL|MODEL ...] [--simulated] [--rounds N] [--concurrency N]</c>.
/// </summary>
internal static class DiscussionCommand
{
    /// <summary>The most questions <c>synthetic:N</c> generates (they are generated up front, and each one is a full discussion).</summary>
    public const int MaxSyntheticQuestions = 100_000;

    /// <summary>Loads the questions, creates the teachers and runs the discussions into the output corpus.</summary>
    /// <param name="options">The verb's settings.</param>
    /// <param name="clientFactory">Creates a chat client for a real teacher (for example with Microsoft.Extensions.AI.OpenAI); unused with simulated teachers. Each client gets a <see cref="ResilientChatClient"/> with <see cref="DiscussionOptions.Resilience"/> and is disposed at the end.</param>
    /// <param name="discussionOptions">Further runner settings (retries, timeouts, rate limits, prompts); <see cref="DiscussionCommandOptions.Rounds"/> and <see cref="DiscussionCommandOptions.Concurrency"/> override it.</param>
    /// <param name="loggerFactory">Logging; <see langword="null"/> for none.</param>
    /// <param name="progress">Progress reports.</param>
    /// <param name="cancellationToken">Stops the run (finished MAGs stay on disk; rerun to resume).</param>
    /// <returns>The run summary.</returns>
    /// <exception cref="ArgumentException">Unknown task, bad agent list, real agents without a client factory, or synthetic:N with N outside 1..<see cref="MaxSyntheticQuestions"/>.</exception>
    public static async Task<DiscussionRunSummary> RunAsync(
        DiscussionCommandOptions options,
        Func<AgentEndpoint, IChatClient>? clientFactory = null,
        DiscussionOptions? discussionOptions = null,
        ILoggerFactory? loggerFactory = null,
        IProgress<DiscussionProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        SyntheticTasks.EnsureRegistered();
        var task = ReasoningTasks.Get(options.Task);
        var questions = await LoadQuestionsAsync(options, task, cancellationToken).ConfigureAwait(false);

        var runOptions = discussionOptions ?? new DiscussionOptions();
        IReadOnlyList<DiscussionAgent> agents;
        if (options.Simulated || options.Agents.Count == 0)
        {
            agents = SimulatedTeacher.CreateTeam(options.Seed, SimulatedTeacher.OracleFor(questions));
        }
        else
        {
            if (clientFactory is null)
            {
                throw new ArgumentException("Real agents were given but no client factory; pass one or use simulated teachers.", nameof(clientFactory));
            }

            // Real endpoints fail now and then: every teacher gets retries, backoff, Retry-After and a timeout.
            agents = options.Agents.Select(a => new DiscussionAgent(a.Name, clientFactory(a)
                .AsBuilder()
                .UseMagDiResilience(ResilienceFor(runOptions, a.Name), loggerFactory)
                .Build())).ToList();
        }

        if (options.Rounds is { } rounds)
        {
            runOptions.MaxRounds = rounds;
        }

        if (options.Concurrency is { } concurrency)
        {
            runOptions.MaxConcurrentQuestions = concurrency;
        }

        try
        {
            var runner = new DiscussionRunner(agents, runOptions, loggerFactory?.CreateLogger<DiscussionRunner>());
            return await runner.RunAsync(questions, options.Output, progress, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // This command created the clients, so it disposes them.
            foreach (var agent in agents)
            {
                agent.Client.Dispose();
            }
        }
    }

    /// <summary>The runner's resilience settings for one agent: named after it (for the retry log), with its own rate limit if set.</summary>
    private static ChatResilienceOptions ResilienceFor(DiscussionOptions options, string agent)
    {
        var r = options.Resilience;
        return new ChatResilienceOptions
        {
            Name = r.Name ?? agent,
            MaxRetries = r.MaxRetries,
            RetryBaseDelay = r.RetryBaseDelay,
            RetryMaxDelay = r.RetryMaxDelay,
            RetryJitter = r.RetryJitter,
            MaxRetryAfter = r.MaxRetryAfter,
            CallTimeout = r.CallTimeout,
            RequestsPerMinute = options.AgentRequestsPerMinute.TryGetValue(agent, out double rpm) ? rpm : r.RequestsPerMinute,
        };
    }

    private static async Task<IReadOnlyList<Question>> LoadQuestionsAsync(DiscussionCommandOptions options, ReasoningTask task, CancellationToken ct)
    {
        IReadOnlyList<Question> questions;
        if (options.Questions.StartsWith("synthetic:", StringComparison.OrdinalIgnoreCase))
        {
            string count = options.Questions["synthetic:".Length..];
            if (!int.TryParse(count, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < 1 || n > MaxSyntheticQuestions)
            {
                throw new ArgumentException(
                    $"Questions '{options.Questions}': expected synthetic:N with N a whole number from 1 to {MaxSyntheticQuestions}.", nameof(options));
            }

            SyntheticFamily family = task.Name switch
            {
                SyntheticBenchmark.ArithmeticTaskName => SyntheticFamily.Arithmetic,
                SyntheticBenchmark.ComparisonTaskName => SyntheticFamily.Comparison,
                _ => throw new ArgumentException($"synthetic:N questions need the task {SyntheticBenchmark.ArithmeticTaskName} or {SyntheticBenchmark.ComparisonTaskName}, not '{task.Name}'.", nameof(options)),
            };
            questions = SyntheticBenchmark.Generate(family, n, new SyntheticBenchmarkOptions { Seed = options.Seed }).Select(p => p.ToQuestion()).ToList();
        }
        else
        {
            questions = (await BenchmarkReader.ReadAsync(options.Questions, task.Name, null, ct).ConfigureAwait(false)).Questions;
        }

        return options.Limit is { } limit ? questions.Take(limit).ToList() : questions;
    }
}

using System.ClientModel;
using MagDi.Graphs.Discussion;
using MagDi.Graphs.Discussion.Simulation;
using MagDi.Tasks;
using MagDi.Tasks.Synthetic;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Caching.Distributed;
using Microsoft.Extensions.Caching.Memory;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenAI;

namespace MagDi.Samples.Discussion;

/// <summary>The sample's work, callable from its tests: configuration in, corpus files and a report out.</summary>
public static class DiscussionSample
{
    /// <summary>
    /// Discusses the configured questions <c>Discussion:Passes</c> times, pass k into its own corpus
    /// (<c>mags.jsonl</c>, <c>mags.pass2.jsonl</c>, ...), through one container whose teacher clients share a cache.
    /// </summary>
    /// <param name="config">The configuration (<c>MagDi:Discussions</c> for the runner, <c>Discussion</c> for the sample).</param>
    /// <param name="output">Receives the report.</param>
    /// <param name="cancellationToken">Stops the run; finished MAGs stay on disk.</param>
    /// <returns>The exit code: 0, or 2 when a question failed.</returns>
    public static async Task<int> RunAsync(IConfiguration config, TextWriter output, CancellationToken cancellationToken = default)
    {
        var sample = config.GetSection("Discussion");
        string taskName = sample["Task"] ?? SyntheticBenchmark.ArithmeticTaskName;
        int seed = sample.GetValue("Seed", 1234);
        int passes = sample.GetValue("Passes", 2);
        bool simulated = sample.GetValue("Simulated", true);
        string outputPath = sample["Output"] ?? "mags.jsonl";
        var questions = await LoadQuestionsAsync(taskName, sample["Questions"] ?? "synthetic:40", seed, cancellationToken);
        var agents = config.GetSection("MagDi:Discussions:Agents").Get<string[]>() ?? [];

        var services = new ServiceCollection();
        services.AddLogging(b => b.AddConfiguration(config.GetSection("Logging")).AddSimpleConsole(o => o.SingleLine = true));
        // Replace MemoryDistributedCache with Redis or SQL Server (AddStackExchangeRedisCache, ...) to keep the replies across runs.
        services.AddSingleton<IDistributedCache>(new MemoryDistributedCache(Options.Create(new MemoryDistributedCacheOptions())));
        var network = new TokenUsageCounter();
        var resilience = config.GetSection("MagDi:Discussions:Resilience").Get<ChatResilienceOptions>() ?? new ChatResilienceOptions();
        var oracle = SimulatedTeacher.OracleFor(questions);
        foreach (string agent in agents)
        {
            IChatClient teacher = simulated ? SimulatedTeacherFor(agent, seed, oracle) : RealTeacher(sample.GetSection("Teachers").GetSection(agent), agent);
            services.AddKeyedChatClient(agent, teacher)
                // Outermost: a reply to the same conversation comes from the cache. The agent's name is part of the key,
                // so two agents that happen to use the same model never share replies.
                .UseDistributedCache(configure: c => c.CacheKeyAdditionalValues = [agent])
                // Only cache misses pass here: retries, backoff, Retry-After and a timeout for the real endpoint.
                .UseMagDiResilience(WithName(resilience, agent))
                // Counts the replies that came from the provider.
                .UseTokenUsageCounter(network);
        }

        services.AddMagDiDiscussions(config.GetSection("MagDi:Discussions"));
        await using var provider = services.BuildServiceProvider();
        // A host runs this at start; here it makes a misconfiguration (an agent without a teacher, a bad setting) fail now.
        provider.GetRequiredService<IStartupValidator>().Validate();
        var runner = provider.GetRequiredService<IDiscussionRunnerFactory>().Create();

        int failed = 0;
        for (int pass = 1; pass <= passes; pass++)
        {
            string path = pass == 1 ? outputPath : Path.ChangeExtension(outputPath, null) + $".pass{pass}.jsonl";
            network.Reset();
            var summary = await runner.RunAsync(questions, path, new InlineProgress(output), cancellationToken);
            var spent = network.Total;
            failed += summary.FailedQuestionIds.Count;
            await output.WriteLineAsync($"Pass {pass}: wrote {summary.Written} MAGs to {summary.OutputPath} ({summary.Skipped} already there, {summary.FailedQuestionIds.Count} failed); "
                + $"graph types {string.Join(", ", summary.GraphTypes.Select(kv => $"G{kv.Key}={kv.Value}"))}; team answer correct {summary.TeamCorrect}/{summary.Written}.");
            await output.WriteLineAsync($"Pass {pass}: {spent.Calls} calls reached the teachers ({spent.TotalTokens} tokens); the rest came from the cache. "
                + $"Tokens the corpus's replies report: {summary.RunningTotal.TotalTokens} (usage log {summary.UsagePath}).");
        }

        return failed == 0 ? 0 : 2;
    }

    private static async Task<IReadOnlyList<Question>> LoadQuestionsAsync(string taskName, string source, int seed, CancellationToken ct)
    {
        SyntheticTasks.EnsureRegistered();
        if (source.StartsWith("synthetic:", StringComparison.OrdinalIgnoreCase))
        {
            var family = taskName == SyntheticBenchmark.ComparisonTaskName ? SyntheticFamily.Comparison : SyntheticFamily.Arithmetic;
            int count = int.Parse(source["synthetic:".Length..], System.Globalization.CultureInfo.InvariantCulture);
            return SyntheticBenchmark.Generate(family, count, new SyntheticBenchmarkOptions { Seed = seed }).Select(p => p.ToQuestion()).ToList();
        }

        return (await BenchmarkReader.ReadAsync(source, taskName, null, ct)).Questions;
    }

    private static SimulatedTeacher SimulatedTeacherFor(string agent, int seed, IReadOnlyDictionary<string, string> oracle)
    {
        var profile = SimulatedTeacherProfile.Defaults.FirstOrDefault(p => p.Name == agent) ?? SimulatedTeacherProfile.Average(agent);
        return new SimulatedTeacher(profile, seed, oracle);
    }

    private static IChatClient RealTeacher(IConfigurationSection teacher, string agent)
    {
        string model = teacher["Model"] ?? throw new InvalidOperationException($"appsettings.json: {teacher.Path}:Model is required for the agent '{agent}'.");
        string? key = teacher["ApiKeyVariable"] is { Length: > 0 } variable ? Environment.GetEnvironmentVariable(variable) : null;
        return new OpenAI.Chat.ChatClient(model, new ApiKeyCredential(string.IsNullOrEmpty(key) ? "none" : key), new OpenAIClientOptions
        {
            Endpoint = teacher["Endpoint"] is { Length: > 0 } url ? new Uri(url) : null,
            RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(maxRetries: 0), // UseMagDiResilience retries
        }).AsIChatClient();
    }

    private static ChatResilienceOptions WithName(ChatResilienceOptions o, string agent) => new()
    {
        Name = agent,
        MaxRetries = o.MaxRetries,
        RetryBaseDelay = o.RetryBaseDelay,
        RetryMaxDelay = o.RetryMaxDelay,
        RetryJitter = o.RetryJitter,
        MaxRetryAfter = o.MaxRetryAfter,
        CallTimeout = o.CallTimeout,
        RequestsPerMinute = o.RequestsPerMinute,
    };

    /// <summary>Prints one line per finished question, on the reporting thread.</summary>
    private sealed class InlineProgress(TextWriter output) : IProgress<DiscussionProgress>
    {
        public void Report(DiscussionProgress p)
        {
            lock (output)
            {
                output.WriteLine($"[{p.Completed + p.Skipped + p.Failed}/{p.Total}] {p.QuestionId}: "
                    + (p.Result is { } r ? $"G{r.Graph.InteractionRounds}, team answer {r.TeamAnswer} ({(r.TeamCorrect ? "correct" : "wrong")})" : "failed"));
            }
        }
    }
}

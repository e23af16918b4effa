using MagDi.Graphs.Discussion;
using MagDi.Tasks;
using MagDi.Tasks.Synthetic;

namespace MagDi.Discussion.Tests;

internal static class TestData
{
    public static List<Question> Synthetic(int perFamily, int seed = 7)
    {
        var options = new SyntheticBenchmarkOptions { Seed = seed };
        return SyntheticBenchmark.Generate(SyntheticFamily.Arithmetic, perFamily, options)
            .Concat(SyntheticBenchmark.Generate(SyntheticFamily.Comparison, perFamily, options))
            .Select(p => p.ToQuestion())
            .ToList();
    }

    public static DiscussionOptions FastOptions(int concurrency = 4) => new()
    {
        MaxConcurrentQuestions = concurrency,
        Resilience = new ChatResilienceOptions
        {
            RetryBaseDelay = TimeSpan.FromMilliseconds(5),
            RetryMaxDelay = TimeSpan.FromMilliseconds(50),
            MaxRetries = 8,
            CallTimeout = TimeSpan.FromSeconds(20),
        },
    };

    /// <summary>The agents' clients with the resilience middleware of <paramref name="options"/> (as the CLI and the DI factory add it).</summary>
    public static List<DiscussionAgent> Resilient(IEnumerable<DiscussionAgent> agents, DiscussionOptions options, Microsoft.Extensions.Logging.ILogger? logger = null) =>
        agents.Select(a => new DiscussionAgent(a.Name, new ResilientChatClient(a.Client, options.Resilience, logger), a.Options)).ToList();

    public static string TempFile(string name)
    {
        string dir = Path.Combine(Path.GetTempPath(), "magdi-discussion-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return Path.Combine(dir, name);
    }

    /// <summary>The corpus lines ordered by id (runs write in completion order).</summary>
    public static List<string> SortedLines(string path) =>
        File.ReadAllLines(path).Where(l => l.Length > 0).OrderBy(l => l, StringComparer.Ordinal).ToList();

    /// <summary>Reports synchronously (Progress&lt;T&gt; would post to the thread pool).</summary>
    public sealed class SyncProgress<T>(Action<T> action) : IProgress<T>
    {
        public void Report(T value) => action(value);
    }
}

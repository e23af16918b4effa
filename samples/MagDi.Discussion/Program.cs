// Builds a MAG corpus from ReConcile-style discussions configured in appsettings.json.
// Default: three simulated teachers discuss 40 synthetic arithmetic problems, offline.
// Real teachers: set "Simulated": false, list OpenAI-compatible endpoints under "Agents", and put
// each API key in the environment variable named by "ApiKeyVariable". Any setting can be overridden
// from the environment, e.g. MAGDI_Discussion__Questions=data/gsm8k_train.jsonl MAGDI_Discussion__Task=gsm8k.
// Ctrl-C stops after the questions in flight; run again to resume.
using System.ClientModel;
using MagDi.Graphs.Discussion;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using OpenAI;

var config = new ConfigurationBuilder()
    .SetBasePath(AppContext.BaseDirectory)
    .AddJsonFile("appsettings.json", optional: false)
    .AddEnvironmentVariables("MAGDI_")
    .AddCommandLine(args)
    .Build();
var section = config.GetSection("Discussion");

var options = new DiscussionCommandOptions
{
    Task = section["Task"] ?? "synthetic-arithmetic",
    Questions = section["Questions"] ?? "synthetic:40",
    Output = section["Output"] ?? "mags.jsonl",
    Simulated = section.GetValue("Simulated", true),
    Seed = section.GetValue("Seed", 1234),
    Rounds = section.GetValue<int?>("Rounds"),
    Concurrency = section.GetValue<int?>("Concurrency"),
    Limit = section.GetValue<int?>("Limit"),
};
var keys = new Dictionary<string, string?>(StringComparer.Ordinal);
foreach (var agent in section.GetSection("Agents").GetChildren())
{
    string name = agent["Name"] ?? throw new InvalidOperationException($"appsettings.json: {agent.Path}.Name is required.");
    string model = agent["Model"] ?? throw new InvalidOperationException($"appsettings.json: {agent.Path}.Model is required.");
    options.Agents.Add(new AgentEndpoint(name, agent["Endpoint"] is { Length: > 0 } url ? new Uri(url) : null, model));
    keys[name] = agent["ApiKeyVariable"] is { Length: > 0 } variable ? Environment.GetEnvironmentVariable(variable) : null;
}

var runner = new DiscussionOptions();
section.GetSection("Runner").Bind(runner);

using var loggerFactory = LoggerFactory.Create(b => b.AddConfiguration(config.GetSection("Logging")).AddSimpleConsole(o => o.SingleLine = true));
using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    Console.WriteLine("Stopping after the questions in flight; run again to resume.");
    cts.Cancel();
};

IChatClient CreateClient(AgentEndpoint a) =>
    new OpenAI.Chat.ChatClient(a.Model, new ApiKeyCredential(keys.GetValueOrDefault(a.Name) ?? "none"), new OpenAIClientOptions
    {
        Endpoint = a.Endpoint,
        RetryPolicy = new System.ClientModel.Primitives.ClientRetryPolicy(maxRetries: 0), // the runner retries
    }).AsIChatClient();

var progress = new Progress<DiscussionProgress>(p =>
    Console.WriteLine($"[{p.Completed + p.Skipped + p.Failed}/{p.Total}] {p.QuestionId}: "
        + (p.Result is { } r ? $"G{r.Graph.InteractionRounds}, team answer {r.TeamAnswer} ({(r.TeamCorrect ? "correct" : "wrong")})" : "failed")
        + $", {p.RunningTotal.TotalTokens} tokens so far"));

try
{
    var summary = await DiscussionCommand.RunAsync(options, CreateClient, runner, loggerFactory, progress, cts.Token);
    Console.WriteLine($"Wrote {summary.Written} MAGs to {summary.OutputPath} ({summary.Skipped} already there, {summary.FailedQuestionIds.Count} failed).");
    Console.WriteLine("Graph types this run: " + string.Join(", ", summary.GraphTypes.Select(kv => $"G{kv.Key}={kv.Value}")));
    Console.WriteLine($"Team answer correct: {summary.TeamCorrect}/{summary.Written}. Tokens in the corpus: {summary.RunningTotal.TotalTokens} "
        + $"({string.Join(", ", summary.RunningTotalByAgent.Select(kv => $"{kv.Key} {kv.Value.TotalTokens}"))}). Usage log: {summary.UsagePath}");
    return summary.FailedQuestionIds.Count == 0 ? 0 : 2;
}
catch (OperationCanceledException)
{
    Console.WriteLine("Cancelled; finished MAGs are on disk.");
    return 130;
}

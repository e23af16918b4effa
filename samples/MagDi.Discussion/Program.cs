// Builds a MAG corpus from ReConcile-style discussions configured in appsettings.json, through dependency injection:
// every teacher is a keyed IChatClient whose pipeline caches replies, retries transient errors and counts what reaches
// the provider. Default: three simulated teachers discuss 40 synthetic arithmetic problems, offline, twice; the second
// pass is answered from the cache and makes no call at all.
// Real teachers: set "Simulated": false, list OpenAI-compatible endpoints under "Teachers", and put each API key in the
// environment variable named by "ApiKeyVariable". Any setting can be overridden from the environment or the command
// line, e.g. MAGDI_Discussion__Questions=data/gsm8k_train.jsonl MAGDI_Discussion__Task=gsm8k.
// Ctrl-C stops after the questions in flight; run again to resume.
using MagDi.Samples.Discussion;
using Microsoft.Extensions.Configuration;

var config = new ConfigurationBuilder()
    .SetBasePath(AppContext.BaseDirectory)
    .AddJsonFile("appsettings.json", optional: false)
    .AddEnvironmentVariables("MAGDI_")
    .AddCommandLine(args)
    .Build();

using var cts = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    Console.WriteLine("Stopping after the questions in flight; run again to resume.");
    cts.Cancel();
};

try
{
    return await DiscussionSample.RunAsync(config, Console.Out, cts.Token);
}
catch (OperationCanceledException)
{
    Console.WriteLine("Cancelled; finished MAGs are on disk.");
    return 130;
}

using System.Net;
using System.Text.Json;

namespace MagDi.Cli.Tests;

/// <summary>
/// <c>magdi eval --endpoint URL --model NAME</c>: the student is served by an OpenAI-compatible engine, here the scripted
/// server on 127.0.0.1; the prompts, answer extraction, voting and files are the local evaluator's.
/// </summary>
[Collection(CliTestGroup.Name)]
public sealed class ServedEvalTests(CliFixture fixture)
{
    [Fact]
    public async Task ServedStudent_SelfConsistency_VotesOverKSamples_AndCountsTokensFromUsage()
    {
        var graphs = CliFixture.Graphs(6);
        var prompts = new List<string>();
        var temperatures = new List<double>();
        using var server = new ScriptedChatServer((_, model, request) =>
        {
            string prompt = request.GetProperty("messages")[0].GetProperty("content").GetString()!;
            long seed = request.GetProperty("seed").GetInt64();
            lock (prompts)
            {
                prompts.Add(prompt);
                temperatures.Add(request.GetProperty("temperature").GetDouble());
            }

            // Samples 1 and 2 of every question (seed = question index * 3 + sample) answer right, sample 3 wrong: the vote is right.
            string gold = graphs.First(g => prompt.Contains(g.Question, StringComparison.Ordinal)).GoldAnswer;
            string answer = seed % 3 == 2 ? "999" : gold;
            return (HttpStatusCode.OK, ScriptedChatServer.Completion(model, $"Add the numbers. So the answer is {answer}."));
        });
        string outDir = fixture.NewDirectory("served-eval");

        var (code, output, err) = await CliFixture.Run(
            "eval", "--endpoint", server.BaseUrl, "--model", "served-student", "--task", "gsm8k", "--test", fixture.BenchmarkPath,
            "--samples", "3", "--batch-size", "4", "--out", outDir, "--json");

        Assert.True(code == 0, err);
        using var json = JsonDocument.Parse(output);
        Assert.Equal(6, json.RootElement.GetProperty("count").GetInt32());
        Assert.Equal(6, json.RootElement.GetProperty("correct").GetInt32());
        Assert.Equal(20, json.RootElement.GetProperty("average_generated_tokens").GetDouble()); // usage.completion_tokens of each sample
        Assert.Equal(18, server.Requests);
        Assert.All(server.Models, m => Assert.Equal("served-student", m));
        Assert.All(prompts, p => Assert.Matches(new System.Text.RegularExpressions.Regex(@"^### Question: .+ ### Answer:$", System.Text.RegularExpressions.RegexOptions.Singleline), p));  // the evaluator's template, plain format
        Assert.All(temperatures, t => Assert.Equal(0.7, t, 3));                         // the paper's sampling
        string[] predictions = await File.ReadAllLinesAsync(Path.Combine(outDir, "predictions.jsonl"));
        Assert.Equal(6, predictions.Length);
        Assert.Contains("So the answer is", predictions[0]);
    }

    [Fact]
    public async Task ServedStudent_Greedy_SendsTemperatureZero_AndScoresTheSingleAnswer()
    {
        var graphs = CliFixture.Graphs(6);
        using var server = new ScriptedChatServer((n, model, request) =>
        {
            Assert.Equal(0, request.GetProperty("temperature").GetDouble());
            string prompt = request.GetProperty("messages")[0].GetProperty("content").GetString()!;
            string gold = graphs.First(g => prompt.Contains(g.Question, StringComparison.Ordinal)).GoldAnswer;
            return (HttpStatusCode.OK, ScriptedChatServer.Completion(model, prompt.Contains(graphs[0].Question, StringComparison.Ordinal) ? "No idea." : $"So the answer is {gold}."));
        });

        var (code, output, err) = await CliFixture.Run(
            "eval", "--endpoint", server.BaseUrl, "--model", "m", "--task", "gsm8k", "--test", fixture.BenchmarkPath, "--json");

        Assert.True(code == 0, err);
        using var json = JsonDocument.Parse(output);
        Assert.Equal(5, json.RootElement.GetProperty("correct").GetInt32());
        Assert.Equal(6, server.Requests);
    }

    [Fact]
    public async Task BadEndpoints_AreExit2_WithAMessageNamingTheQuestion()
    {
        string dead = $"http://127.0.0.1:{ScriptedChatServer.FreePort()}/v1";
        var (code, _, err) = await CliFixture.Run("eval", "--endpoint", dead, "--model", "m", "--task", "gsm8k", "--test", fixture.BenchmarkPath, "--limit", "1");
        Assert.Equal(2, code);
        Assert.Contains("served student failed on question", err);

        using var failing = new ScriptedChatServer((_, _) => (HttpStatusCode.NotFound, ScriptedChatServer.Error("The model 'nope' does not exist.")));
        (code, _, err) = await CliFixture.Run("eval", "--endpoint", failing.BaseUrl, "--model", "nope", "--task", "gsm8k", "--test", fixture.BenchmarkPath, "--limit", "2");
        Assert.Equal(2, code);
        Assert.Contains("served student failed on question", err);
        Assert.Contains("does not exist", err);

        (code, _, err) = await CliFixture.Run("eval", "--endpoint", "localhost:8000", "--model", "m", "--task", "gsm8k", "--test", fixture.BenchmarkPath);
        Assert.Equal(2, code);
        Assert.Contains("--endpoint must be an absolute http(s) URL", err);

        (code, _, err) = await CliFixture.Run("eval", "--endpoint", "http://localhost:8000/v1", "--task", "gsm8k", "--test", fixture.BenchmarkPath);
        Assert.Equal(2, code);
        Assert.Contains("--endpoint needs --model NAME", err);
    }
}

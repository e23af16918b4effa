using System.Text.Json;
using MagDi.Cli.Commands;
using MagDi.Training;
using MagDi.Training.Experiments;

namespace MagDi.Cli.Tests;

[Collection(CliTestGroup.Name)]
public sealed class ExperimentCommandTests(CliFixture fixture)
{
    private string[] Args(string output, params string[] more) =>
    [
        "experiment", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--test", fixture.BenchmarkPath, "--task", "gsm8k",
        "--out", output, "--seeds", "2", "--rows", "no-teacher,sit,level1,level3", "--teacher", "alpha",
        "--max-steps", "2", "--batch-size", "4", "--grad-accum", "1", "--lr", "1e-3", "--max-new-tokens", "4", "--dtype", "f32", "--threads", "1",
        .. more,
    ];

    [Fact]
    public async Task Experiment_OnAMagFileAndACheckpoint_WritesTheTableResultsAndPlot_AndARerunReusesEveryRun()
    {
        string output = fixture.NewDirectory("experiment");
        var (code, stdout, stderr) = await CliFixture.Run(Args(output, "--json"));

        Assert.True(code == 0, stderr);
        using (var json = JsonDocument.Parse(stdout))
        {
            JsonElement rows = json.RootElement.GetProperty("rows");
            Assert.Equal(["No teacher", "SiT (alpha)", "Level 1", "Level 3"], rows.EnumerateArray().Select(r => r.GetProperty("name").GetString()));
            Assert.All(rows.EnumerateArray(), r =>
            {
                Assert.Equal(2, r.GetProperty("per_seed").GetArrayLength());
                Assert.Equal(2, r.GetProperty("ci95").GetArrayLength());
            });
            Assert.Equal([1, 2], json.RootElement.GetProperty("seeds").EnumerateArray().Select(s => s.GetInt32()));
        }

        foreach (string file in new[] { "table.md", "results.json", "plot.png" })
        {
            Assert.True(File.Exists(Path.Combine(output, file)), file);
        }

        Assert.True(File.Exists(Path.Combine(output, "runs", "level-3", "seed-2", "train", "adapter", "adapter_model.safetensors")));

        // Without --json: progress, the table with intervals, the claims; every run reused.
        var (again, table, err) = await CliFixture.Run(Args(output));
        Assert.True(again == 0, err);
        Assert.Contains("95 % CI", table, StringComparison.Ordinal);
        Assert.Contains("Reused 8 of 8 (row, seed) runs", table, StringComparison.Ordinal);
        Assert.Contains("Multi-teacher (Level 1) > best SiT", table, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Experiment_GraphHeadRows_AreComparedWithLevel4()
    {
        string output = fixture.NewDirectory("experiment-heads");
        var args = Args(output, "--json").ToList();
        args[args.IndexOf("--rows") + 1] = "level4,graph-heads";
        args[args.IndexOf("--seeds") + 1] = "1";

        var (code, stdout, stderr) = await CliFixture.Run([.. args]);

        Assert.True(code == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        JsonElement rows = json.RootElement.GetProperty("rows");
        Assert.Equal(["Level 4 (MAGDi)", "MAGDi (node attention)", "MAGDi (token attention)"], rows.EnumerateArray().Select(r => r.GetProperty("name").GetString()));
        Assert.Equal("Level 4 (MAGDi)", rows[1].GetProperty("comparisons").GetProperty("level_4").GetProperty("reference").GetString());
        Assert.Contains("Δ vs Level 4 (GCN)", await File.ReadAllTextAsync(Path.Combine(output, "table.md")), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--seeds", "0", "--seeds must be")]
    [InlineData("--teacher", "zeta", "no training MAG has the teacher 'zeta'")]
    [InlineData("--rows", "sit,everything", "--rows takes")]
    [InlineData("--decoding", "beam", "--decoding must be greedy or paper")]
    [InlineData("--analyses", "dss-mt,tables", "--analyses takes")]
    public async Task Experiment_BadSettings_Exit2NamingTheSetting(string option, string value, string expected)
    {
        var args = Args(fixture.NewDirectory("bad")).ToList();
        int at = args.IndexOf(option);
        if (at >= 0)
        {
            args[at + 1] = value;
        }
        else
        {
            args.AddRange([option, value]);
        }

        var (code, _, stderr) = await CliFixture.Run([.. args]);

        Assert.Equal(2, code);
        Assert.Contains(expected, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Experiment_AnalysesDssMt_AddsTheRowAfterTheOthers()
    {
        string output = fixture.NewDirectory("analyses");
        string[] args = [.. Args(output, "--analyses", "dss-mt", "--json")];
        args[Array.IndexOf(args, "--seeds") + 1] = "1";
        args[Array.IndexOf(args, "--rows") + 1] = "level1";

        var (code, stdout, stderr) = await CliFixture.Run(args);

        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(["Level 1", "DSS-MT"], doc.RootElement.GetProperty("rows").EnumerateArray().Select(r => r.GetProperty("name").GetString()));
    }

    [Fact]
    public async Task Experiment_SyntheticWithAModel_AndPretrainWithoutSyntheticOrWithAnUnknownStudent_AreRefused()
    {
        var (code, _, stderr) = await CliFixture.Run("experiment", "--synthetic", "--model", fixture.ModelDirectory, "--out", fixture.NewDirectory("s"));
        Assert.Equal(2, code);
        Assert.Contains("--synthetic builds its own base student", stderr, StringComparison.Ordinal);

        (code, _, stderr) = await CliFixture.Run("pretrain", "--out", fixture.NewDirectory("p"));
        Assert.Equal(2, code);
        Assert.Contains("pretrain needs --synthetic", stderr, StringComparison.Ordinal);

        (code, _, stderr) = await CliFixture.Run("experiment", "--synthetic", "--student", "tiny", "--out", fixture.NewDirectory("s"));
        Assert.Equal(2, code);
        Assert.Contains("--student must be small or medium (was 'tiny')", stderr, StringComparison.Ordinal);

        (code, _, stderr) = await CliFixture.Run("experiment", "--model", fixture.ModelDirectory, "--student", "medium", "--out", fixture.NewDirectory("s"));
        Assert.Equal(2, code);
        Assert.Contains("--student applies to --synthetic runs", stderr, StringComparison.Ordinal);

        (code, _, stderr) = await CliFixture.Run("pretrain", "--synthetic", "--student", "large", "--out", fixture.NewDirectory("p"));
        Assert.Equal(2, code);
        Assert.Contains("--student must be small or medium (was 'large')", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void SyntheticEvaluation_KeepsTheSetUpsAnswerLength_WhenOnlyTheDecodingChanges()
    {
        Assert.Null(ExperimentCommand.SyntheticEvaluation(new ExperimentCommand.Settings { Synthetic = true }));
        Assert.Null(ExperimentCommand.SyntheticEvaluation(new ExperimentCommand.Settings { Decoding = "paper" })); // not --synthetic

        var sampled = ExperimentCommand.SyntheticEvaluation(new ExperimentCommand.Settings { Synthetic = true, Decoding = "paper" })!;
        Assert.Equal(DecodingStrategy.Paper, sampled.Decoding);
        Assert.Equal(new SyntheticExperimentOptions().MaxNewTokens, sampled.MaxNewTokens); // 160: the longest teacher style needs about 130
        Assert.Equal(64, sampled.BatchSize);

        var shorter = ExperimentCommand.SyntheticEvaluation(new ExperimentCommand.Settings { Synthetic = true, MaxNewTokens = 50, EvalBatchSize = 8 })!;
        Assert.Equal((DecodingStrategy.Greedy, 50, 8), (shorter.Decoding, shorter.MaxNewTokens, shorter.BatchSize));
    }
}

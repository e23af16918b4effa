using System.Text.Json;
using MagDi.Cli;
using MagDi.Graphs;
using MagDi.Graphs.IO;

namespace MagDi.Cli.Tests;

[Collection(CliTestGroup.Name)]
public sealed class TrainEvalDiscussTests(CliFixture fixture)
{
    [Fact]
    public async Task Train_Json_ReportsEveryLossTermAndWritesAdapterAndLossCurve()
    {
        string outDir = Path.Combine(fixture.NewDirectory("train"), "run");
        var (code, output, err) = await CliFixture.Run(
            "train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--level", "structure", "--out", outDir,
            "--max-steps", "3", "--batch-size", "2", "--lr", "1e-3", "--dtype", "f32", "--seed", "5", "--json");

        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.Equal("completed", root.GetProperty("status").GetString());
        Assert.Equal(3, root.GetProperty("steps").GetInt32());
        Assert.True(root.GetProperty("tokens_per_second").GetDouble() > 0);
        Assert.True(root.GetProperty("step_time_ms").GetDouble() > 0);
        foreach (string term in new[] { "loss/total", "loss/nll", "loss/margin", "loss/node" })
        {
            Assert.True(double.IsFinite(root.GetProperty(term).GetDouble()), term);
        }

        string adapter = root.GetProperty("adapter_directory").GetString()!;
        Assert.True(File.Exists(Path.Combine(adapter, "adapter_config.json")));
        Assert.True(File.Exists(Path.Combine(adapter, "adapter_model.safetensors")));
        string png = root.GetProperty("loss_curve").GetString()!;
        Assert.Equal(Path.Combine(outDir, "loss-curve.png"), png);
        byte[] header = (await File.ReadAllBytesAsync(png))[..8];
        Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A }, header);

        // The trained adapter loads into generate.
        var generated = await CliFixture.Run("generate", "--model", fixture.ModelDirectory, "--adapter", adapter, "--prompt", "Tom has", "--max-new-tokens", "3");
        Assert.True(generated.Code == 0, generated.Err);
    }

    [Theory]
    [InlineData("--pairing", "random", "--pairing must be one of paper, cyclic, all-pairs (got 'random').")]
    [InlineData("--prompt-format", "alpaca", "--prompt-format must be one of auto, mistral, llama2-chat, chatml, qwen3, plain (got 'alpaca').")]
    [InlineData("--dtype", "f8", "--dtype must be one of bf16, f32 (got 'f8').")]
    public async Task Train_WithAnUnknownChoice_ExitsWith2AndListsTheAllowedValues(string option, string value, string message)
    {
        var (code, _, err) = await CliFixture.Run(
            "train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--out", fixture.NewDirectory("choice"), option, value);
        Assert.Equal(2, code);
        Assert.Contains(message, err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Train_ChoicesAreCaseInsensitive_AllPairsCanBeSelectedByName()
    {
        string outDir = Path.Combine(fixture.NewDirectory("all-pairs"), "run");
        var (code, output, err) = await CliFixture.Run(
            "train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--out", outDir, "--max-steps", "1", "--batch-size", "2",
            "--pairing", "All-Pairs", "--prompt-format", "MISTRAL", "--dtype", "F32", "--json");
        Assert.True(code == 0, err);
        Assert.Equal(1, JsonDocument.Parse(output).RootElement.GetProperty("steps").GetInt32());
        Assert.Equal(Losses.PairingStrategyKind.AllPairs, Infrastructure.CliChoices.Pairing.Parse("ALL-PAIRS"));
        Assert.Equal(Losses.PairingStrategyKind.Cyclic, Infrastructure.CliChoices.Pairing.Parse("release"));
        Assert.Equal(Training.PromptFormatKind.Llama2Chat, Infrastructure.CliChoices.PromptFormat.Parse("Llama2-Chat"));
        Assert.Equal(Training.ModelDType.BF16, Infrastructure.CliChoices.DType.Parse("bfloat16"));
        Assert.Null(Infrastructure.CliChoices.CpuDType.TryParse("f16"));
    }

    [Fact]
    public async Task Train_WithProgressBar_PrintsStepsAndFinalTable()
    {
        string outDir = fixture.NewDirectory("train-bar");
        var (code, output, err) = await CliFixture.Run(
            "train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--level", "correct-nodes", "--teacher", "beta",
            "--out", outDir, "--max-steps", "2", "--batch-size", "2", "--dtype", "bf16");

        Assert.True(code == 0, err);
        Assert.True(output.Contains("step 1/2  total "), output); // the progress description (step/total and loss terms)
        Assert.Contains(" tok/s  ETA ", output);
        Assert.Contains("tokens_per_second", output);
        Assert.Contains("Completed: 2 step(s)", output);
        Assert.True(File.Exists(Path.Combine(outDir, "loss-curve.png")));
    }

    [Fact]
    public async Task Train_Resume_ContinuesFromTheLatestCheckpoint()
    {
        string outDir = fixture.NewDirectory("train-resume");
        string[] common = ["train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--level", "all-nodes", "--out", outDir,
            "--batch-size", "2", "--warmup-steps", "0", "--dtype", "bf16", "--json"];
        var first = await CliFixture.Run([.. common, "--max-steps", "2"]);
        Assert.True(first.Code == 0, first.Err);

        var resumed = await CliFixture.Run([.. common, "--max-steps", "3", "--resume"]);

        Assert.True(resumed.Code == 0, resumed.Err);
        using var doc = JsonDocument.Parse(resumed.Out);
        Assert.Equal(3, doc.RootElement.GetProperty("steps").GetInt32());
        Assert.EndsWith("checkpoint-000003", doc.RootElement.GetProperty("last_checkpoint").GetString());
    }

    [Fact]
    public async Task Train_SeveralMagFilesAndValidation_TrainsOnAllAndReportsValidationLoss()
    {
        string dir = fixture.NewDirectory("train-mt");
        string yesNo = Path.Combine(dir, "strategyqa.jsonl");
        await MagFile.WriteJsonlAsync(yesNo, YesNoGraphs(4));
        string heldOut = Path.Combine(dir, "validation.jsonl");
        await MagFile.WriteJsonlAsync(heldOut, CliFixture.Graphs(8).Skip(6)); // q6, q7: not among the training MAGs q0-q5
        string outDir = Path.Combine(dir, "run");

        var (code, output, err) = await CliFixture.Run(
            "train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--mags", yesNo, "--validation-mags", heldOut,
            "--eval-every", "1", "--level", "correct-nodes", "--out", outDir, "--max-steps", "2", "--batch-size", "2", "--dtype", "f32", "--json");

        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(6 + 4, doc.RootElement.GetProperty("training_mags").GetInt32());
        Assert.Equal(2, doc.RootElement.GetProperty("validation_mags").GetInt32());
        Assert.True(double.IsFinite(doc.RootElement.GetProperty("validation_loss").GetDouble()));
        string[] metrics = await File.ReadAllLinesAsync(Path.Combine(outDir, "metrics.jsonl"));
        Assert.Equal(2, metrics.Count(l => l.Contains("\"validation/nll\"", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Train_SameMagInTrainingAndValidation_IsBadInput()
    {
        var (code, _, err) = await CliFixture.Run(
            "train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--validation-mags", fixture.MagsPath,
            "--out", fixture.NewDirectory("leak"), "--max-steps", "1");

        Assert.Equal(2, code);
        Assert.Contains("also a training MAG", err);
    }

    [Fact]
    public async Task Train_SameMagIdInTwoFiles_IsBadInput()
    {
        string dir = fixture.NewDirectory("train-dup");
        string copy = Path.Combine(dir, "copy.jsonl");
        File.Copy(fixture.MagsPath, copy);

        var (code, _, err) = await CliFixture.Run(
            "train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--mags", copy, "--out", Path.Combine(dir, "run"), "--max-steps", "1");

        Assert.Equal(2, code);
        Assert.Contains("MAG 'q0' of task gsm8k in '" + copy + "' is also in '" + fixture.MagsPath + "'", err);
    }

    [Fact]
    public async Task Train_EvalEveryWithoutValidationMags_IsBadInput()
    {
        var (code, _, err) = await CliFixture.Run(
            "train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--out", fixture.NewDirectory("eval-every"), "--eval-every", "2");

        Assert.Equal(2, code);
        Assert.Contains("--eval-every must be at least 1 and needs --validation-mags", err);
    }

    [Fact]
    public async Task Train_PresetRelease_TrainsAndAContradictingLevelOrObjectiveIsBadInputNamingIt()
    {
        string outDir = Path.Combine(fixture.NewDirectory("release"), "run");
        var (code, output, err) = await CliFixture.Run(
            "train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--preset", "release", "--out", outDir,
            "--max-steps", "2", "--batch-size", "2", "--lr", "1e-3", "--dtype", "f32", "--json");
        Assert.True(code == 0, err);
        using (var doc = JsonDocument.Parse(output))
        {
            Assert.Equal(2, doc.RootElement.GetProperty("steps").GetInt32());
            Assert.True(doc.RootElement.GetProperty("loss/node").GetDouble() > 0);
        }

        var contradicted = await CliFixture.Run(
            "train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--preset", "release", "--level", "all-nodes",
            "--objective", "dss-mt", "--out", fixture.NewDirectory("release-bad"), "--max-steps", "1");
        Assert.Equal(2, contradicted.Code);
        Assert.Contains("Level = AllNodes", contradicted.Err);
        Assert.Contains("Objective = StepByStep", contradicted.Err);
    }

    [Fact]
    public async Task Train_ObjectiveDssMt_ReportsTheLabelAndRationaleLosses()
    {
        string outDir = Path.Combine(fixture.NewDirectory("dss"), "run");
        var (code, output, err) = await CliFixture.Run(
            "train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--objective", "dss-mt", "--rationale-weight", "0.5",
            "--out", outDir, "--max-steps", "2", "--batch-size", "2", "--lr", "1e-3", "--dtype", "f32", "--json");

        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(output);
        double label = doc.RootElement.GetProperty("loss/label").GetDouble();
        double rationale = doc.RootElement.GetProperty("loss/rationale").GetDouble();
        Assert.Equal(label + (0.5 * rationale), doc.RootElement.GetProperty("loss/total").GetDouble(), 5);
    }

    private static List<InteractionGraph> YesNoGraphs(int count)
    {
        var graphs = new List<InteractionGraph>();
        for (int q = 0; q < count; q++)
        {
            string gold = q % 2 == 0 ? "yes" : "no";
            var builder = InteractionGraph.CreateBuilder()
                .WithId($"yn{q}")
                .WithTask("strategyqa")
                .WithQuestion($"Is {q + 2} an even number?")
                .WithGoldAnswer(gold)
                .AddAgent("alpha")
                .AddAgent("beta");
            builder.AddNode("alpha", 0, $"{q + 2} is {(gold == "yes" ? "even" : "odd")}.", gold, 0.9);
            builder.AddNode("beta", 0, "I am not sure.", gold == "yes" ? "no" : "yes", 0.4);
            graphs.Add(builder.Build());
        }

        return graphs;
    }

    [Theory]
    [InlineData("--level", "level-five", "--level must be")]
    [InlineData("--dtype", "f64", "--dtype must be")]
    [InlineData("--graph-head", "gat", "--graph-head must be gcn, node-attention or token-attention (got 'gat')")]
    [InlineData("--max-steps", "0", "--max-steps must be a whole number from 1 to 2147483647 (got '0')")]
    public async Task Train_BadOptions_AreBadInput(string option, string value, string reason)
    {
        var (code, _, err) = await CliFixture.Run("train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--out", fixture.NewDirectory("bad"), option, value);
        Assert.Equal(2, code);
        Assert.Contains(reason, err);
    }

    [Fact]
    public async Task Train_TokenAttentionGraphHead_TrainsTheNodeLossThroughIt_AndNeedsLevelStructure()
    {
        string outDir = Path.Combine(fixture.NewDirectory("train-token"), "run");
        var (code, output, err) = await CliFixture.Run(
            "train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--graph-head", "token-attention", "--out", outDir,
            "--max-steps", "2", "--batch-size", "2", "--lr", "1e-3", "--dtype", "f32", "--json");

        Assert.True(code == 0, err);
        using (var doc = JsonDocument.Parse(output))
        {
            Assert.True(doc.RootElement.GetProperty("loss/node").GetDouble() > 0);
        }

        string checkpoint = Directory.GetDirectories(outDir, "checkpoint-*").Single();
        using (var file = MagDi.SafeTensors.SafeTensorsFile.Open(Path.Combine(checkpoint, "trainable.safetensors")))
        {
            Assert.Contains("objective.token_attention.classifier.weight", file.Tensors.Keys);
        }

        var (wrongLevel, _, levelErr) = await CliFixture.Run(
            "train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--graph-head", "node-attention", "--level", "all-nodes",
            "--out", fixture.NewDirectory("bad-head"));
        Assert.Equal(2, wrongLevel);
        Assert.Contains("--graph-head node-attention needs --level structure", levelErr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Train_BadMagFile_NamesFileAndLine()
    {
        string dir = fixture.NewDirectory("bad-mags");
        string mags = Path.Combine(dir, "mags.jsonl");
        string[] lines = await File.ReadAllLinesAsync(fixture.MagsPath);
        await File.WriteAllLinesAsync(mags, [lines[0], "{\"id\": \"broken\""]);
        var (code, _, err) = await CliFixture.Run("train", "--model", fixture.ModelDirectory, "--mags", mags, "--out", Path.Combine(dir, "run"), "--max-steps", "1");
        Assert.Equal(2, code);
        Assert.Contains("mags.jsonl", err);
        Assert.Contains("2", err);
    }

    [Fact]
    public async Task Eval_ModelMode_Json_WithLimit_WritesScorablePredictions()
    {
        string outDir = fixture.NewDirectory("eval");
        var (code, output, err) = await CliFixture.Run(
            "eval", "--model", fixture.ModelDirectory, "--task", "gsm8k", "--test", fixture.BenchmarkPath, "--limit", "2",
            "--max-new-tokens", "4", "--out", outDir, "--json");

        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(output);
        var root = doc.RootElement;
        Assert.Equal("gsm8k", root.GetProperty("task").GetString());
        Assert.Equal(2, root.GetProperty("count").GetInt32());
        int correct = root.GetProperty("correct").GetInt32();
        Assert.InRange(correct, 0, 2);
        Assert.Equal(correct / 2.0, root.GetProperty("accuracy").GetDouble(), 6);
        Assert.InRange(root.GetProperty("average_generated_tokens").GetDouble(), 1, 4);

        // The predictions file goes back through the predictions-only mode with the same count.
        var scored = await CliFixture.Run("eval", "--task", "gsm8k", "--test", fixture.BenchmarkPath, "--predictions", Path.Combine(outDir, "predictions.jsonl"), "--json");
        Assert.Equal(0, scored.Code);
        using var again = JsonDocument.Parse(scored.Out);
        Assert.Equal(correct, again.RootElement.GetProperty("correct").GetInt32());
        Assert.True(File.Exists(Path.Combine(outDir, "metrics.json")));
    }

    [Fact]
    public async Task Eval_ModelMode_SelfConsistency_CountsEverySample()
    {
        var (code, output, err) = await CliFixture.Run(
            "eval", "--model", fixture.ModelDirectory, "--task", "gsm8k", "--test", fixture.BenchmarkPath, "--limit", "1",
            "--samples", "3", "--max-new-tokens", "3", "--seed", "2", "--json");

        Assert.True(code == 0, err);
        using var doc = JsonDocument.Parse(output);
        Assert.Equal(1, doc.RootElement.GetProperty("count").GetInt32());
        Assert.InRange(doc.RootElement.GetProperty("average_generated_tokens").GetDouble(), 1, 3);
    }

    [Fact]
    public async Task Eval_ModelMode_Table_ShowsAccuracy()
    {
        var (code, output, err) = await CliFixture.Run(
            "eval", "--model", fixture.ModelDirectory, "--task", "gsm8k", "--test", fixture.BenchmarkPath, "--limit", "1", "--max-new-tokens", "2");
        Assert.True(code == 0, err);
        Assert.Contains("gsm8k: ", output);
        Assert.Contains("/1 correct, accuracy ", output);
    }

    [Fact]
    public async Task Eval_ModelAndPredictionsTogether_IsBadInput()
    {
        var (code, _, err) = await CliFixture.Run("eval", "--model", fixture.ModelDirectory, "--task", "gsm8k", "--test", fixture.BenchmarkPath, "--predictions", "p.jsonl");
        Assert.Equal(2, code);
        Assert.Contains("not both", err);
    }

    [Fact]
    public async Task Discuss_Simulated_WritesOneMagPerSyntheticQuestion_AndResumes()
    {
        string outPath = Path.Combine(fixture.NewDirectory("discuss"), "mags.jsonl");
        var (code, output, err) = await CliFixture.Run(
            "discuss", "--task", "synthetic-arithmetic", "--questions", "synthetic:5", "--out", outPath, "--simulated", "--rounds", "2", "--concurrency", "2");

        Assert.True(code == 0, err);
        Assert.Contains("Wrote 5 MAG(s)", output);
        Assert.Contains("[5/5]", err);
        var read = await MagFile.ReadAsync(outPath);
        Assert.Equal(5, read.Graphs.Count);
        Assert.All(read.Graphs, g => Assert.True(g.InteractionRounds <= 2));

        var rerun = await CliFixture.Run("discuss", "--task", "synthetic-arithmetic", "--questions", "synthetic:5", "--out", outPath, "--simulated");
        Assert.Equal(0, rerun.Code);
        Assert.Contains("Wrote 0 MAG(s)", rerun.Out);
        Assert.Contains("5 already there", rerun.Out);
    }

    [Theory]
    [InlineData("--agent", "no-equals-sign", "NAME=MODEL")]
    [InlineData("--agent", "a=ftp://host|m", "http(s)")]
    [InlineData("--questions", "synthetic:zero", "synthetic:N")]
    public async Task Discuss_BadInput_ExitsWith2(string option, string value, string reason)
    {
        string[] args = ["discuss", "--task", "synthetic-arithmetic", "--out", Path.Combine(fixture.NewDirectory("discuss-bad"), "m.jsonl")];
        if (option != "--questions")
        {
            args = [.. args, "--questions", "synthetic:2"];
        }

        var (code, _, err) = await CliFixture.Run([.. args, option, value]);
        Assert.Equal(2, code);
        Assert.Contains(reason, err);
    }

    [Fact]
    public async Task Train_CancelledWhileTraining_WritesCheckpointAndExitsWith130()
    {
        string outDir = fixture.NewDirectory("train-ctrl-c");
        using var cts = new CancellationTokenSource();
        using var stdout = new CancelOnTextWriter("step ", cts); // Ctrl-C as soon as the progress bar shows a step
        using var stderr = new StringWriter();
        int code = await MagDiApp.RunAsync(
            ["train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--out", outDir, "--max-steps", "200", "--batch-size", "1", "--dtype", "bf16"],
            stdout, stderr, cts.Token);
        Assert.True(code == 130, stderr.ToString());
        Assert.Contains("Cancelled: ", stdout.ToString());
        Assert.Contains("--resume", stderr.ToString());
        Assert.NotEmpty(Directory.GetDirectories(outDir, "checkpoint*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task Train_Cancelled_ExitsWith130()
    {
        string outDir = fixture.NewDirectory("train-cancel");
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int code = await MagDiApp.RunAsync(
            ["train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--out", outDir, "--max-steps", "3", "--batch-size", "2", "--json"],
            stdout, stderr, cts.Token);
        Assert.Equal(130, code);
        Assert.Contains("cancelled", stderr.ToString());
    }

    [Fact]
    public async Task Discuss_Cancelled_ExitsWith130()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int code = await MagDiApp.RunAsync(
            ["discuss", "--task", "synthetic-arithmetic", "--questions", "synthetic:3", "--out", Path.Combine(fixture.NewDirectory("discuss-cancel"), "m.jsonl"), "--simulated"],
            stdout, stderr, cts.Token);
        Assert.Equal(130, code);
        Assert.Contains("cancelled", stderr.ToString());
    }
}

/// <summary>A StringWriter that cancels a token once its text contains a marker.</summary>
internal sealed class CancelOnTextWriter(string marker, CancellationTokenSource cts) : StringWriter
{
    public override void Write(char value)
    {
        base.Write(value);
        Check();
    }

    public override void Write(string? value)
    {
        base.Write(value);
        Check();
    }

    public override void Write(char[] buffer, int index, int count)
    {
        base.Write(buffer, index, count);
        Check();
    }

    private void Check()
    {
        if (!cts.IsCancellationRequested && GetStringBuilder().ToString().Contains(marker, StringComparison.Ordinal))
        {
            cts.Cancel();
        }
    }
}

using System.Text.Json;
using MagDi.Quickstart;
using MagDi.Training.Experiments;
using Spectre.Console;

namespace MagDi.Quickstart.Tests;

public sealed class QuickstartTests
{
    private static readonly string[] RowNames =
        ["No teacher", "SiT (gpt4)", "SiT (claude)", "SiT (bard)", "Level 1", "Level 2", "Level 3", "Level 4 (MAGDi)"];

    [Fact]
    public async Task QuickRun_WritesEveryOutput_WithIntervalsOverSeeds_AndARestartReusesEveryRun()
    {
        string dir = Path.Combine(Path.GetTempPath(), "magdi-quickstart-" + Guid.NewGuid().ToString("N"));
        var output = new StringWriter();
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Interactive = InteractionSupport.No,
            Ansi = AnsiSupport.No,
        });
        try
        {
            var options = new QuickstartOptions { Quick = true, OutputDirectory = dir };
            QuickstartReport report = await new QuickstartRunner(options, console).RunAsync();
            ExperimentReport experiment = report.Experiment;

            foreach (string file in new[] { "table.md", "results.json", "plot.png", "mag.svg" })
            {
                string path = Path.Combine(dir, file);
                if (!File.Exists(path))
                {
                    path = Path.Combine(dir, "experiment", file);
                }

                Assert.True(File.Exists(path) && new FileInfo(path).Length > 0, $"missing or empty {file}");
            }

            Assert.Equal(RowNames, experiment.Rows.Select(r => r.Name));
            Assert.Equal([1, 2], experiment.Seeds);
            Assert.All(experiment.Rows, r =>
            {
                Assert.Equal(2, r.PerSeed.Count);
                Assert.InRange(r.Accuracy.Mean, r.Accuracy.Low, r.Accuracy.High);
            });

            // The console says what the students learn from: reasoning cleaned as the release cleans it.
            // (The console wraps long lines, so the text is compared with its white space folded.)
            Assert.Contains("reasoning cleaned as the release cleans it", System.Text.RegularExpressions.Regex.Replace(output.ToString(), @"\s+", " "), StringComparison.Ordinal);

            // The base student answers some held-out questions on its own (the paper's "No teacher" row), not all.
            ExperimentRowResult noTeacher = experiment.Rows[0];
            Assert.InRange(noTeacher.Accuracy.Mean, 0.01, 0.99);

            // Every distilled student is a LoRA adapter over the base, saved in the PEFT layout.
            foreach (string row in new[] { "sit-gpt4", "level-1", "level-4-magdi" })
            {
                string adapter = Path.Combine(dir, "experiment", "runs", row, "seed-1", "train", "adapter");
                Assert.True(File.Exists(Path.Combine(adapter, "adapter_config.json")), $"{row}: no adapter_config.json");
                Assert.True(File.Exists(Path.Combine(adapter, "adapter_model.safetensors")), $"{row}: no adapter_model.safetensors");
            }

            using (var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "experiment", "results.json"))))
            {
                JsonElement rows = json.RootElement.GetProperty("rows");
                Assert.Equal(RowNames.Length, rows.GetArrayLength());
                JsonElement first = rows[0];
                Assert.Equal("No teacher", first.GetProperty("name").GetString());
                Assert.Equal(2, first.GetProperty("ci95").GetArrayLength());
                Assert.Equal(2, first.GetProperty("per_seed").GetArrayLength());
                Assert.True(first.GetProperty("mean").GetDouble() > 0);
                Assert.Equal(2, json.RootElement.GetProperty("seeds").GetArrayLength());
                Assert.True(json.RootElement.GetProperty("claims").GetArrayLength() >= 4);
            }

            byte[] png = await File.ReadAllBytesAsync(Path.Combine(dir, "plot.png"));
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
            Assert.Contains("<svg", await File.ReadAllTextAsync(Path.Combine(dir, "mag.svg")));
            string text = output.ToString();
            Assert.Contains("95 % CI", text);
            Assert.Contains("Level 2 > Level 1", text);

            // A restart with the same folder redoes nothing: same numbers, every run reused.
            var again = new StringWriter();
            var console2 = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(again), Interactive = InteractionSupport.No, Ansi = AnsiSupport.No });
            QuickstartReport second = await new QuickstartRunner(options, console2).RunAsync();
            Assert.Equal(experiment.Rows.Select(r => r.PerSeed.ToArray()), second.Experiment.Rows.Select(r => r.PerSeed.ToArray()));
            Assert.Contains("Reused 16 of 16 (row, seed) runs", again.ToString());
            Assert.True(second.WallTime < report.WallTime / 2, $"restart took {second.WallTime.TotalSeconds:F0} s after {report.WallTime.TotalSeconds:F0} s");
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    [Fact]
    public void Parse_ReadsEveryOption_AndRejectsBadOnes()
    {
        var o = QuickstartOptions.Parse(["--quick", "--out", "x", "--seeds", "5", "--first-seed", "11", "--threads", "2"]);
        Assert.True(o.Quick);
        Assert.Equal("x", o.EffectiveOutputDirectory);
        // The two budgets default to different folders: a --quick run after a default run must not meet the default
        // run's results (the runner would refuse them as made with other settings).
        Assert.Equal(Path.Combine("out", "quickstart"), QuickstartOptions.Parse([]).EffectiveOutputDirectory);
        Assert.Equal(Path.Combine("out", "quickstart-quick"), QuickstartOptions.Parse(["--quick"]).EffectiveOutputDirectory);
        Assert.Equal(5, o.SeedCount);
        Assert.Equal(11, o.FirstSeed);
        Assert.Equal(2, o.Threads);
        Assert.Equal(3, QuickstartOptions.Parse([]).SeedCount);
        Assert.Equal(2, QuickstartOptions.Parse(["--quick"]).SeedCount);
        Assert.Contains("--bogus", Assert.Throws<ArgumentException>(() => QuickstartOptions.Parse(["--bogus"])).Message);
        Assert.Contains("--seeds", Assert.Throws<ArgumentException>(() => QuickstartOptions.Parse(["--seeds", "0"])).Message);
        Assert.Contains("--seeds", Assert.Throws<ArgumentException>(() => QuickstartOptions.Parse(["--seeds", "x"])).Message);
        Assert.Contains("needs a value", Assert.Throws<ArgumentException>(() => QuickstartOptions.Parse(["--out"])).Message);
    }

    [Fact]
    public void Parse_Student_PicksTheBase_AndItsOwnDefaultFolder()
    {
        Assert.Equal(QuickstartStudent.Small, QuickstartOptions.Parse([]).Student);
        Assert.Equal(QuickstartStudent.Small, QuickstartOptions.Parse(["--student", "small"]).Student);
        var medium = QuickstartOptions.Parse(["--student", "medium"]);
        Assert.Equal(QuickstartStudent.Medium, medium.Student);
        // Each student's runs have their own folder (a folder holding another student's runs is refused by the runner).
        Assert.Equal(Path.Combine("out", "quickstart-medium"), medium.EffectiveOutputDirectory);
        Assert.Equal(Path.Combine("out", "quickstart-quick-medium"), QuickstartOptions.Parse(["--quick", "--student", "medium"]).EffectiveOutputDirectory);
        Assert.Equal("y", QuickstartOptions.Parse(["--student", "medium", "--out", "y"]).EffectiveOutputDirectory);
        Assert.Contains("small or medium", Assert.Throws<ArgumentException>(() => QuickstartOptions.Parse(["--student", "large"])).Message);
        Assert.Contains("needs a value", Assert.Throws<ArgumentException>(() => QuickstartOptions.Parse(["--student"])).Message);
    }

    [Fact]
    public void Parse_KeepAgreementSentences_IsTheAblation_WithItsOwnDefaultFolder()
    {
        Assert.False(QuickstartOptions.Parse([]).KeepAgreementSentences);
        var keep = QuickstartOptions.Parse(["--keep-agreement-sentences"]);
        Assert.True(keep.KeepAgreementSentences);
        Assert.Equal(Path.Combine("out", "quickstart-keep-agreement"), keep.EffectiveOutputDirectory);
        Assert.Equal(Path.Combine("out", "quickstart-medium-keep-agreement"), QuickstartOptions.Parse(["--student", "medium", "--keep-agreement-sentences"]).EffectiveOutputDirectory);
        // The library's experiment trains on cleaned reasoning unless told otherwise, as the release does.
        Assert.True(new MagDi.Training.Experiments.SyntheticExperimentOptions().StripAgreementSentences);
    }

    [Fact]
    public void Parse_SelfConsistency_AddsTable5_InTheDefaultRowsFolder()
    {
        Assert.False(QuickstartOptions.Parse([]).SelfConsistency);
        var sc = QuickstartOptions.Parse(["--self-consistency", "--seeds", "10"]);
        Assert.True(sc.SelfConsistency);
        Assert.Equal(10, sc.SeedCount);
        // The default rows' finished runs are reused: the same folder as without the flag.
        Assert.Equal(QuickstartOptions.Parse([]).EffectiveOutputDirectory, sc.EffectiveOutputDirectory);
        Assert.Contains("[--self-consistency]", QuickstartOptions.Usage);
    }
}

using System.Text.Json;
using MagDi.Quickstart;
using Spectre.Console;

namespace MagDi.Quickstart.Tests;

public sealed class QuickstartTests
{
    [Fact]
    public async Task QuickRun_WritesAllOutputs_AndTheBestDistilledStudentBeatsTheUntrainedOne()
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
            QuickstartReport report = await new QuickstartRunner(new QuickstartOptions { Quick = true, OutputDirectory = dir, Seed = 7 }, console).RunAsync();

            foreach (string file in new[] { "mags.jsonl", "table.md", "results.json", "plot.png", "mag.svg", "tokenizer/tokenizer.json" })
            {
                string path = Path.Combine(dir, file);
                Assert.True(File.Exists(path), $"missing {file}");
                Assert.True(new FileInfo(path).Length > 0, $"empty {file}");
            }

            string[] names = ["untrained", "SiT", "Level 1", "Level 2", "Level 3", "Level 4"];
            Assert.Equal(names, report.Rows.Select(r => r.Name));
            string table = await File.ReadAllTextAsync(Path.Combine(dir, "table.md"));
            Assert.All(names, n => Assert.Contains($"| {n} |", table));
            Assert.Contains("<svg", await File.ReadAllTextAsync(Path.Combine(dir, "mag.svg")));
            byte[] png = await File.ReadAllBytesAsync(Path.Combine(dir, "plot.png"));
            Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);

            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(Path.Combine(dir, "results.json")));
            Assert.Equal(names.Length, json.RootElement.GetProperty("rows").GetArrayLength());

            QuickstartRow untrained = report.Rows[0];
            QuickstartRow best = report.Rows.Skip(1).MaxBy(r => r.Accuracy)!;
            Assert.True(best.Accuracy > untrained.Accuracy, $"best distilled {best.Name} {best.Accuracy:P1} vs untrained {untrained.Accuracy:P1}");
            Assert.All(report.Rows.Skip(1), r => Assert.True(r.TrainingSeconds > 0 && r.LossHistory.Count > 0, r.Name));
            Assert.Contains("Held-out zero-shot accuracy", output.ToString());
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
    public void Parse_ReadsEveryOption_AndRejectsUnknownOnes()
    {
        var o = QuickstartOptions.Parse(["--quick", "--out", "x", "--seed", "3", "--device", "cpu", "--dtype", "bf16"]);
        Assert.True(o.Quick);
        Assert.Equal("x", o.OutputDirectory);
        Assert.Equal(3, o.Seed);
        Assert.Equal("cpu", o.Device);
        Assert.Equal("bf16", o.DType);
        Assert.Contains("--bogus", Assert.Throws<ArgumentException>(() => QuickstartOptions.Parse(["--bogus"])).Message);
        Assert.Contains("--seed", Assert.Throws<ArgumentException>(() => QuickstartOptions.Parse(["--seed", "x"])).Message);
        Assert.Contains("does not exist", Assert.Throws<ArgumentException>(() => QuickstartOptions.Parse(["--mags", "/nonexistent/m.jsonl"])).Message);
    }
}

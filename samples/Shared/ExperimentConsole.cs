using System.Globalization;
using MagDi.Graphs;
using MagDi.Training;
using MagDi.Training.Experiments;
using Spectre.Console;

namespace MagDi.Samples;

/// <summary>Terminal views of an experiment shared by the quickstart and <c>magdi experiment</c>: progress bars, the result table and the claims.</summary>
internal static class ExperimentConsole
{
    /// <summary>Runs <paramref name="experiment"/> under two progress bars: all runs, and the current run's training or evaluation.</summary>
    public static async Task<ExperimentReport> RunAsync(IAnsiConsole console, MagDiExperimentBuilder builder, CancellationToken cancellationToken)
    {
        ExperimentReport report = null!;
        int reused = 0, runs = 0;
        await console.Progress().AutoClear(false).HideCompleted(false)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .StartAsync(async ctx =>
            {
                ProgressTask all = ctx.AddTask("Runs", maxValue: 1);
                ProgressTask current = ctx.AddTask("Starting", maxValue: 1);
                var finished = new List<string>();
                builder.UseProgress(new InlineProgress<ExperimentProgress>(p =>
                {
                    all.MaxValue = p.Runs;
                    string run = $"{p.Row}, seed {p.Seed}";
                    switch (p.Stage)
                    {
                        case ExperimentStage.Training when p.Training is { } t:
                            current.MaxValue = t.TotalSteps;
                            current.Value = t.Step;
                            current.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                                $"{run}: training, loss {t.Metrics.GetValueOrDefault(MagDi.Losses.LossReport.Keys.Total):F3}"));
                            break;
                        case ExperimentStage.Evaluating:
                            current.MaxValue = Math.Max(1, p.TestQuestions);
                            current.Value = p.Evaluated;
                            current.Description = Markup.Escape($"{run}: evaluating");
                            break;
                        case ExperimentStage.Finished:
                            all.Value = p.Run;
                            runs = p.Runs;
                            reused += p.Reused ? 1 : 0;
                            all.Description = Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                                $"Runs ({run}: {100 * (p.Accuracy ?? 0):F1} %{(p.Reused ? ", reused" : string.Empty)})"));
                            break;
                    }
                }));
                report = await builder.Build().RunAsync(cancellationToken);
                all.Value = all.MaxValue;
                current.Value = current.MaxValue;
                current.Description = "Done";
            });
        if (reused > 0)
        {
            console.MarkupLine(Markup.Escape($"Reused {reused} of {runs} (row, seed) runs finished earlier in {report.OutputDirectory}."));
        }

        return report;
    }

    /// <summary>
    /// The result table, narrow enough for an 80-column terminal: mean accuracy ± the half-width of its 95 % interval, the
    /// seeds, and the paired differences with the best SiT and Level 1 (* when significant; the intervals are in table.md).
    /// </summary>
    public static void WriteTable(IAnsiConsole console, ExperimentReport report)
    {
        var table = new Table().Title(Markup.Escape($"Held-out zero-shot accuracy, {report.Seeds.Count} seed(s) x {report.TestQuestions} questions"))
            .AddColumn("Row")
            .AddColumn(new TableColumn(Markup.Escape("Accuracy % ± 95 % CI")).RightAligned())
            .AddColumn(new TableColumn(report.Seeds.Count <= 4 ? "Seeds %" : "Seeds % (min-max)").RightAligned());
        bool sit = report.BestSingleTeacher is not null, level1 = report.Rows.Any(r => r.Comparisons.ContainsKey("level_1"));
        if (sit) table.AddColumn(new TableColumn(Markup.Escape("Δ best SiT")).RightAligned());
        if (level1) table.AddColumn(new TableColumn(Markup.Escape("Δ Level 1")).RightAligned());
        table.AddColumn(new TableColumn("Tokens").RightAligned());
        double best = report.Rows.Max(r => r.Accuracy.Mean);
        foreach (ExperimentRowResult r in report.Rows)
        {
            string accuracy = Markup.Escape($"{Pct(r.Accuracy.Mean)} ± {Pct((r.Accuracy.High - r.Accuracy.Low) / 2)}");
            var cells = new List<string>
            {
                Markup.Escape(r.Name),
                r.Accuracy.Mean == best ? $"[bold green]{accuracy}[/]" : accuracy,
                report.Seeds.Count <= 4 ? string.Join(" ", r.PerSeed.Select(Pct)) : $"{Pct(r.PerSeed.Min())}-{Pct(r.PerSeed.Max())}",
            };
            if (sit) cells.Add(Delta(r, "best_sit"));
            if (level1) cells.Add(Delta(r, "level_1"));
            cells.Add(r.AverageGeneratedTokens.ToString("F0", CultureInfo.InvariantCulture));
            table.AddRow(cells.ToArray());
        }

        console.Write(table);
        console.MarkupLine(Markup.Escape("Δ: paired difference in points (paired bootstrap over seeds and questions); * = its 95 % interval excludes 0. Intervals and p-values: table.md."));
        if (report.Teachers is { } t)
        {
            double student = report.Rows.Where(r => r.Kind != ExperimentRowKind.NoTeacher).Select(r => r.AverageGeneratedTokens).DefaultIfEmpty(1).Average();
            console.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                $"Teachers (ReConcile, same questions): team accuracy {100 * t.Accuracy:F1} %, {t.AverageTokens:F0} tokens per question ({t.AverageTokens / Math.Max(1, student):F1}x a distilled student's).")));
        }
    }

    /// <summary>One line per claim: held or not, significant or within noise.</summary>
    public static void WriteClaims(IAnsiConsole console, ExperimentReport report)
    {
        if (report.Claims.Count == 0)
        {
            return;
        }

        console.MarkupLine("[bold]The paper's claims on this experiment[/]");
        foreach (ExperimentClaim c in report.Claims)
        {
            string mark = c.Significant ? "[green]held, significant[/]" : c.Held ? "[yellow]held, within noise[/]" : c.Comparison.Significant ? "[red]reversed, significant[/]" : "[yellow]not held, within noise[/]";
            Interval d = c.Comparison.Difference;
            console.MarkupLine($"  {Markup.Escape(c.Claim)}: {mark} " + Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                $"({100 * d.Mean:+0.0;-0.0;0.0} points, 95 % CI [{100 * d.Low:+0.0;-0.0;0.0}, {100 * d.High:+0.0;-0.0;0.0}], p = {P(c.Comparison.PValue)})")));
        }
    }

    /// <summary>Table 12 of the paper for the corpus, and how different the teachers' chains are.</summary>
    public static void WriteCorpus(IAnsiConsole console, IReadOnlyList<InteractionGraph> graphs)
    {
        MagStatistics stats = MagStatistics.Compute(graphs);
        var types = new Table().Title("[bold]MAGs by graph type (Table 12)[/]").AddColumns("Graph type", "MAGs", "Nodes");
        foreach (var t in stats.GraphTypes)
        {
            types.AddRow(t.Name, N(t.Graphs), N(t.Nodes));
        }

        types.AddRow("[bold]total[/]", N(stats.Graphs), N(stats.Nodes));
        var rounds = new Table().Title("[bold]Nodes per round[/]").AddColumns("Round", "Nodes", "Accuracy", "Agreement");
        foreach (var r in stats.Rounds)
        {
            rounds.AddRow(N(r.Round), N(r.Nodes), Pct(r.Accuracy) + " %", Pct(r.Agreement) + " %");
        }

        var agents = new Table().Title("[bold]Teachers[/]").AddColumns("Agent", "Nodes", "Accuracy", "Round 0");
        foreach (var a in stats.Agents)
        {
            double r0 = a.Rounds.FirstOrDefault(r => r.Round == 0)?.Accuracy ?? double.NaN;
            agents.AddRow(Markup.Escape(a.Agent), N(a.Nodes), Pct(a.Accuracy) + " %", Pct(r0) + " %");
        }

        console.Write(new Columns(types, rounds, agents));
        MagDiversity d = MagDiversity.Compute(graphs);
        console.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
            $"Diversity: {d.DistinctCorrectChainsPerGraph:F2} distinct correct chains per MAG (of {d.CorrectChainsPerGraph:F2} correct nodes); " +
            $"word-bigram overlap between two teachers' correct round-0 chains of a question {d.CrossTeacherOverlap:F2} " +
            $"({100 * d.IdenticalCrossTeacherShare:F1} % identical, {d.CrossTeacherPairs} pairs); " +
            $"{d.ChangedAnswers} changed answers, {100 * (double.IsNaN(d.RevisedCopyShare) ? 0 : d.RevisedCopyShare):F1} % of them a copied chain.")));
    }

    private static string Delta(ExperimentRowResult r, string key) => r.Comparisons.TryGetValue(key, out var c)
        ? Markup.Escape(string.Create(CultureInfo.InvariantCulture, $"{100 * c.Difference.Mean:+0.0;-0.0;0.0}{(c.Significant ? " *" : "  ")}"))
        : "-";

    private static string Pct(double v) => double.IsNaN(v) ? "-" : (100 * v).ToString("F1", CultureInfo.InvariantCulture);

    private static string N(int v) => v.ToString(CultureInfo.InvariantCulture);

    private static string P(double p) => p < 0.001 ? "<0.001" : p.ToString("0.000", CultureInfo.InvariantCulture);

    private sealed class InlineProgress<T>(Action<T> report) : IProgress<T>
    {
        public void Report(T value) => report(value);
    }
}

using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace MagDi.Training.Experiments;

/// <summary>Writes an <see cref="ExperimentReport"/> as <c>table.md</c> and <c>results.json</c>.</summary>
internal static class ExperimentReportWriter
{
    private static readonly JsonSerializerOptions Indented = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    /// <summary>Accuracy in percent with one decimal.</summary>
    public static string Percent(double value) => (value * 100).ToString("F1", CultureInfo.InvariantCulture);

    /// <summary>A signed difference in percentage points with one decimal.</summary>
    public static string Points(double value) => (value * 100).ToString("+0.0;-0.0;0.0", CultureInfo.InvariantCulture);

    /// <summary>"+1.2 [-0.3, +2.7] p=0.12" (a star when significant).</summary>
    public static string Difference(ExperimentComparison c) =>
        $"{Points(c.Difference.Mean)} [{Points(c.Difference.Low)}, {Points(c.Difference.High)}] p={PValue(c.PValue)}{(c.Significant ? " *" : string.Empty)}";

    public static string PValue(double p) => p < 0.001 ? "<0.001" : p.ToString("0.000", CultureInfo.InvariantCulture);

    public static string Markdown(ExperimentReport report, ExperimentSetup setup)
    {
        var sb = new StringBuilder();
        bool noTeacher = report.Rows.Any(r => r.Comparisons.ContainsKey("no_teacher"));
        bool bestSit = report.Rows.Any(r => r.Comparisons.ContainsKey("best_sit"));
        bool level1 = report.Rows.Any(r => r.Comparisons.ContainsKey("level_1"));
        bool level4 = report.Rows.Any(r => r.Comparisons.ContainsKey("level_4"));
        // Self-consistency rows: "SiT (gpt4), SC@10" against "SiT (gpt4), SC@1".
        string? fewest = report.Rows.SelectMany(r => r.Comparisons.Where(c => c.Key == "fewest_samples"))
            .Select(c => c.Value.Reference[(c.Value.Reference.LastIndexOf(", ", StringComparison.Ordinal) + 2)..]).FirstOrDefault();
        sb.Append("| Row | Trained on | Accuracy % (95 % CI) | Per seed % |");
        if (noTeacher) sb.Append(" Δ vs No teacher |");
        if (bestSit) sb.Append(CultureInfo.InvariantCulture, $" Δ vs best SiT ({report.BestSingleTeacher}) |");
        if (level1) sb.Append(" Δ vs Level 1 |");
        if (level4) sb.Append(" Δ vs Level 4 (GCN) |");
        if (fewest is not null) sb.Append(CultureInfo.InvariantCulture, $" Δ vs {fewest} (same student) |");
        sb.AppendLine(" Avg tokens | Train s |");
        sb.Append("|---|---|---:|---:|");
        if (noTeacher) sb.Append("---:|");
        if (bestSit) sb.Append("---:|");
        if (level1) sb.Append("---:|");
        if (level4) sb.Append("---:|");
        if (fewest is not null) sb.Append("---:|");
        sb.AppendLine("---:|---:|");
        foreach (ExperimentRowResult r in report.Rows)
        {
            sb.Append(CultureInfo.InvariantCulture,
                $"| {r.Name} | {r.Description} | {Percent(r.Accuracy.Mean)} [{Percent(r.Accuracy.Low)}, {Percent(r.Accuracy.High)}] | {string.Join(" / ", r.PerSeed.Select(Percent))} |");
            if (noTeacher) sb.Append(CultureInfo.InvariantCulture, $" {Cell(r, "no_teacher")} |");
            if (bestSit) sb.Append(CultureInfo.InvariantCulture, $" {Cell(r, "best_sit")} |");
            if (level1) sb.Append(CultureInfo.InvariantCulture, $" {Cell(r, "level_1")} |");
            if (level4) sb.Append(CultureInfo.InvariantCulture, $" {Cell(r, "level_4")} |");
            if (fewest is not null) sb.Append(CultureInfo.InvariantCulture, $" {Cell(r, "fewest_samples")} |");
            sb.AppendLine(CultureInfo.InvariantCulture,
                $" {r.AverageGeneratedTokens.ToString("F1", CultureInfo.InvariantCulture)} | {(r.AverageTrainingSeconds > 0 ? r.AverageTrainingSeconds.ToString("F1", CultureInfo.InvariantCulture) : "-")} |");
        }

        sb.AppendLine();
        sb.Append(CultureInfo.InvariantCulture, $"{report.TestQuestions} test questions, seeds {string.Join(", ", report.Seeds)}. ");
        sb.AppendLine("Accuracy intervals count both the training seed and the choice of test " +
            "questions as chance; Δ are paired differences in percentage points with 95 % paired-bootstrap intervals (seeds and questions resampled) " +
            "and two-sided p-values; * marks a difference whose interval excludes 0.");
        if (report.Teachers is { } t)
        {
            // One distilled student answering once (Table 2): analysis rows such as SC@10 generate k answers per question.
            double student = report.Rows.Where(r => r.Kind is not (ExperimentRowKind.NoTeacher or ExperimentRowKind.Analysis))
                .Select(r => r.AverageGeneratedTokens).DefaultIfEmpty(0).Average();
            sb.AppendLine();
            sb.Append(CultureInfo.InvariantCulture, $"Teachers (ReConcile discussion of the same {t.Questions} questions): team accuracy {Percent(t.Accuracy)} %, ");
            sb.Append(CultureInfo.InvariantCulture, $"{t.AverageTokens:F0} tokens per question over all agents and rounds");
            sb.AppendLine(student > 0 ? string.Create(CultureInfo.InvariantCulture, $" ({t.AverageTokens / student:F1}x what a distilled student generates on average).") : ".");
        }

        var diverse = report.Rows.Where(r => r.Diversity is not null).ToList();
        if (diverse.Count > 0)
        {
            // Self-consistency can only gain where the samples disagree and some are right (the paper's section 5.2).
            sb.AppendLine();
            sb.AppendLine("Answer diversity of the self-consistency rows (mean over seeds and questions, 95 % CI):");
            sb.AppendLine();
            sb.AppendLine("| Row | Samples | Distinct answers per question | Any sample correct % | Samples correct % | Vote correct % |");
            sb.AppendLine("|---|---:|---:|---:|---:|---:|");
            foreach (ExperimentRowResult r in diverse)
            {
                ExperimentDiversity d = r.Diversity!;
                sb.AppendLine(CultureInfo.InvariantCulture,
                    $"| {r.Name} | {d.Samples} | {Number(d.DistinctAnswers.Mean)} [{Number(d.DistinctAnswers.Low)}, {Number(d.DistinctAnswers.High)}] | " +
                    $"{Percent(d.AnyCorrect.Mean)} [{Percent(d.AnyCorrect.Low)}, {Percent(d.AnyCorrect.High)}] | " +
                    $"{Percent(d.SampleAccuracy.Mean)} [{Percent(d.SampleAccuracy.Low)}, {Percent(d.SampleAccuracy.High)}] | {Percent(r.Accuracy.Mean)} |");
            }
        }

        if (report.Claims.Count > 0)
        {
            sb.AppendLine();
            sb.AppendLine("Claims of the paper on this experiment:");
            sb.AppendLine();
            foreach (ExperimentClaim c in report.Claims)
            {
                sb.AppendLine(CultureInfo.InvariantCulture, $"- {Verdict(c)}");
            }
        }

        return sb.ToString();
    }

    /// <summary>"Level 1 > best SiT: held, significant (+2.1 points, 95 % CI [+0.4, +3.8], p = 0.010)".</summary>
    public static string Verdict(ExperimentClaim c)
    {
        string verdict = !c.Held ? "did not hold" : c.Significant ? "held, significant at 95 %" : "held, not significant (within noise)";
        if (!c.Held && c.Comparison.Significant)
        {
            verdict = "did not hold: significantly reversed";
        }

        Interval d = c.Comparison.Difference;
        return $"{c.Claim} ({c.Row} vs {c.Reference}): {verdict} ({Points(d.Mean)} points, 95 % CI [{Points(d.Low)}, {Points(d.High)}], p = {PValue(c.Comparison.PValue)})";
    }

    private static string Number(double value) => value.ToString("F2", CultureInfo.InvariantCulture);

    private static string Cell(ExperimentRowResult r, string key) => r.Comparisons.TryGetValue(key, out var c) ? Difference(c) : "-";

    public static string Json(ExperimentReport report, ExperimentSetup setup)
    {
        static JsonObject Comparison(ExperimentComparison c) => new()
        {
            ["reference"] = c.Reference,
            ["mean_difference"] = c.Difference.Mean,
            ["ci95"] = new JsonArray(c.Difference.Low, c.Difference.High),
            ["p_value"] = c.PValue,
            ["significant"] = c.Significant,
        };

        var rows = new JsonArray();
        foreach (ExperimentRowResult r in report.Rows)
        {
            var comparisons = new JsonObject();
            foreach (var (key, c) in r.Comparisons)
            {
                comparisons[key] = Comparison(c);
            }

            var perTask = new JsonObject();
            foreach (var (task, accuracy) in r.PerTask)
            {
                perTask[task] = accuracy;
            }

            JsonObject? diversity = r.Diversity is not { } d ? null : new JsonObject
            {
                ["samples"] = d.Samples,
                ["distinct_answers"] = d.DistinctAnswers.Mean,
                ["distinct_answers_ci95"] = new JsonArray(d.DistinctAnswers.Low, d.DistinctAnswers.High),
                ["any_sample_correct"] = d.AnyCorrect.Mean,
                ["any_sample_correct_ci95"] = new JsonArray(d.AnyCorrect.Low, d.AnyCorrect.High),
                ["sample_accuracy"] = d.SampleAccuracy.Mean,
                ["sample_accuracy_ci95"] = new JsonArray(d.SampleAccuracy.Low, d.SampleAccuracy.High),
            };
            rows.Add(new JsonObject
            {
                ["name"] = r.Name,
                ["description"] = r.Description,
                ["kind"] = r.Kind.ToString(),
                ["mean"] = r.Accuracy.Mean,
                ["ci95"] = new JsonArray(r.Accuracy.Low, r.Accuracy.High),
                ["per_seed"] = new JsonArray(r.PerSeed.Select(v => (JsonNode?)v).ToArray()),
                ["per_task"] = perTask,
                ["avg_generated_tokens"] = r.AverageGeneratedTokens,
                ["avg_training_seconds"] = r.AverageTrainingSeconds,
                ["comparisons"] = comparisons,
                ["diversity"] = diversity,
            });
        }

        var claims = new JsonArray();
        foreach (ExperimentClaim c in report.Claims)
        {
            claims.Add(new JsonObject
            {
                ["claim"] = c.Claim,
                ["row"] = c.Row,
                ["reference"] = c.Reference,
                ["held"] = c.Held,
                ["significant"] = c.Significant,
                ["comparison"] = Comparison(c.Comparison),
                ["verdict"] = Verdict(c),
            });
        }

        var root = new JsonObject
        {
            ["seeds"] = new JsonArray(report.Seeds.Select(s => (JsonNode?)s).ToArray()),
            ["test_questions"] = report.TestQuestions,
            ["base_model"] = setup.BaseDirectory,
            ["device"] = setup.Device,
            ["dtype"] = setup.DType?.ToString().ToLowerInvariant(),
            ["training_graphs"] = setup.Training.Count,
            ["best_sit"] = report.BestSingleTeacher,
            ["rows"] = rows,
            ["claims"] = claims,
            ["statistics"] = "Row intervals: mean ± t·SE with SE² = var(per-seed accuracy)/S + var(per-question score averaged over seeds)/Q, " +
                "Welch-Satterthwaite degrees of freedom. Comparisons: paired bootstrap (10000 resamples of seeds, then questions), " +
                "95 % percentile interval, two-sided p-value.",
            ["wall_seconds"] = report.Duration.TotalSeconds,
        };
        if (report.Teachers is { } t)
        {
            root["teachers"] = new JsonObject { ["questions"] = t.Questions, ["accuracy"] = t.Accuracy, ["avg_tokens"] = t.AverageTokens };
        }

        return root.ToJsonString(Indented);
    }
}

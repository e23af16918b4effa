using MagDi.Training.Experiments;
using ScottPlot;

namespace MagDi.Samples;

/// <summary>plot.png of an experiment: each row's mean accuracy with its 95 % interval as a whisker, and every seed as a dot.</summary>
internal static class ExperimentPlot
{
    public static void Save(ExperimentReport report, string path)
    {
        var plot = new Plot();
        plot.Title($"Held-out zero-shot accuracy: {report.Seeds.Count} seed(s), {report.TestQuestions} questions, 95 % intervals");
        plot.YLabel("accuracy (%)");
        var bars = report.Rows.Select((r, i) => new Bar
        {
            Position = i,
            Value = 100 * r.Accuracy.Mean,
            Error = 100 * (r.Accuracy.High - r.Accuracy.Low) / 2, // the interval is symmetric (mean ± t·SE)
            FillColor = r.Kind switch
            {
                ExperimentRowKind.NoTeacher => Colors.Gray,
                ExperimentRowKind.SingleTeacher => Colors.SteelBlue,
                ExperimentRowKind.Level => Colors.DarkOrange,
                _ => Colors.SeaGreen,
            },
        }).ToArray();
        plot.Add.Bars(bars);
        for (int i = 0; i < report.Rows.Count; i++)
        {
            // The mean above the whisker and the highest seed, where neither covers it.
            ExperimentRowResult row = report.Rows[i];
            double above = 100 * Math.Max(row.Accuracy.High, row.PerSeed.Count > 0 ? row.PerSeed.Max() : 0);
            var mean = plot.Add.Text(
                (100 * row.Accuracy.Mean).ToString("F1", System.Globalization.CultureInfo.InvariantCulture), i, above + 1);
            mean.LabelFontSize = 12;
            mean.LabelAlignment = Alignment.LowerCenter;
            var seeds = report.Rows[i].PerSeed;
            double[] xs = seeds.Select((_, k) => i - 0.15 + (0.3 * (k + 1) / (seeds.Count + 1))).ToArray();
            var markers = plot.Add.Markers(xs, seeds.Select(v => 100 * v).ToArray());
            markers.Color = Colors.Black;
            markers.MarkerSize = 5;
        }

        if (report.Teachers is { } teachers)
        {
            var line = plot.Add.HorizontalLine(100 * teachers.Accuracy);
            line.LinePattern = LinePattern.Dashed;
            line.Color = Colors.DarkRed;
            var label = plot.Add.Text(
                $"teachers (ReConcile): {100 * teachers.Accuracy:F1} %", -0.45, (100 * teachers.Accuracy) + 1);
            label.LabelFontSize = 12;
            label.LabelFontColor = Colors.DarkRed;
            label.LabelAlignment = Alignment.LowerLeft;
        }

        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, report.Rows.Count).Select(i => (double)i).ToArray(), report.Rows.Select(r => r.Name).ToArray());
        plot.Axes.Bottom.TickLabelStyle.Rotation = 20;
        plot.Axes.Bottom.TickLabelStyle.Alignment = Alignment.UpperLeft;
        plot.Axes.Bottom.MinimumSize = 80;
        double top = Math.Max(report.Rows.Max(r => Math.Max(r.Accuracy.High, r.PerSeed.Count > 0 ? r.PerSeed.Max() : 0)), report.Teachers?.Accuracy ?? 0);
        plot.Axes.SetLimitsY(0, Math.Max(10, (100 * top * 1.08) + 4));
        // Written beside the target and renamed over it, so an interrupted run never leaves half a PNG.
        using ScottPlot.Image image = plot.GetImage(1200, 560);
        MagDi.IO.AtomicFile.WriteAllBytes(path, image.GetImageBytes(ImageFormat.Png));
    }
}

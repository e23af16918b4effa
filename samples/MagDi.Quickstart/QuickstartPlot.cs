using ScottPlot;

namespace MagDi.Quickstart;

/// <summary>The quickstart's PNG: next-token loss per step for each level (left) and held-out accuracy per student (right).</summary>
internal static class QuickstartPlot
{
    public static void Save(IReadOnlyList<QuickstartRow> rows, string path)
    {
        var multiplot = new Multiplot();
        multiplot.AddPlots(2);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();

        Plot loss = multiplot.GetPlot(0);
        loss.Title("Training: next-token loss on correct chains");
        loss.XLabel("step");
        loss.YLabel("loss/nll");
        foreach (var row in rows.Where(r => r.LossHistory.Count > 0))
        {
            double[] ys = Smooth(row.LossHistory);
            double[] xs = Enumerable.Range(1, ys.Length).Select(i => (double)i).ToArray();
            var line = loss.Add.ScatterLine(xs, ys);
            line.LegendText = row.Name;
            line.LineWidth = 2;
        }

        loss.ShowLegend(Alignment.UpperRight);

        Plot accuracy = multiplot.GetPlot(1);
        accuracy.Title("Held-out zero-shot accuracy");
        accuracy.YLabel("accuracy (%)");
        var bars = rows.Select((r, i) => new Bar { Position = i, Value = 100 * r.Accuracy, Label = $"{100 * r.Accuracy:F1}" }).ToArray();
        var barPlot = accuracy.Add.Bars(bars);
        barPlot.ValueLabelStyle.FontSize = 12;
        accuracy.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            Enumerable.Range(0, rows.Count).Select(i => (double)i).ToArray(), rows.Select(r => r.Name).ToArray());
        accuracy.Axes.Margins(bottom: 0);
        accuracy.Axes.SetLimitsY(0, Math.Max(10, 100 * rows.Max(r => r.Accuracy) * 1.15));

        using var surface = SkiaSharp.SKSurface.Create(new SkiaSharp.SKImageInfo(1400, 550));
        multiplot.Render(surface);
        using SkiaSharp.SKImage snapshot = surface.Snapshot();
        using SkiaSharp.SKData png = snapshot.Encode(SkiaSharp.SKEncodedImageFormat.Png, 100);
        MagDi.IO.AtomicFile.WriteAllBytes(path, png.ToArray());
    }

    /// <summary>Moving average over 10 steps so the curves are readable.</summary>
    private static double[] Smooth(IReadOnlyList<double> values)
    {
        const int window = 10;
        var result = new double[values.Count];
        double sum = 0;
        for (int i = 0; i < values.Count; i++)
        {
            sum += values[i];
            if (i >= window)
            {
                sum -= values[i - window];
            }

            result[i] = sum / Math.Min(i + 1, window);
        }

        return result;
    }
}

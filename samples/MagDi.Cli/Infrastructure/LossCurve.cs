namespace MagDi.Cli.Infrastructure;

/// <summary>Draws the loss terms of a training history as a PNG with ScottPlot.</summary>
internal static class LossCurve
{
    /// <summary>Writes one line per loss term (loss/total, loss/nll, loss/margin, loss/node) over the steps, atomically; returns the path.</summary>
    public static string Write(IReadOnlyList<IReadOnlyDictionary<string, double>> history, string path, int width = 900, int height = 500)
    {
        var plot = new ScottPlot.Plot();
        foreach (string term in Commands.TrainCommand.PlotTerms)
        {
            var xs = new List<double>();
            var ys = new List<double>();
            for (int i = 0; i < history.Count; i++)
            {
                if (history[i].TryGetValue(term, out double v) && double.IsFinite(v))
                {
                    xs.Add(i + 1);
                    ys.Add(v);
                }
            }

            if (xs.Count > 0)
            {
                var line = plot.Add.Scatter(xs.ToArray(), ys.ToArray());
                line.LegendText = term;
            }
        }

        plot.Title("MagDi training loss");
        plot.XLabel("step");
        plot.YLabel("loss");
        plot.ShowLegend(ScottPlot.Edge.Right); // outside the data area, so no curve hides behind it
        using ScottPlot.Image image = plot.GetImage(width, height);
        MagDi.IO.AtomicFile.WriteAllBytes(path, image.GetImageBytes(ScottPlot.ImageFormat.Png));
        return path;
    }
}

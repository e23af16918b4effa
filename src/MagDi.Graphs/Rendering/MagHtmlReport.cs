using System.Globalization;
using System.Text;

namespace MagDi.Graphs;

/// <summary>A self-contained HTML report of a MAG corpus: the statistics tables and a few rendered graphs.</summary>
public static class MagHtmlReport
{
    /// <summary>Picks up to <paramref name="count"/> example graphs, one per graph type first (G0, G1, ...), then in corpus order.</summary>
    /// <param name="graphs">The corpus.</param>
    /// <param name="count">How many examples.</param>
    /// <returns>The examples.</returns>
    public static IReadOnlyList<InteractionGraph> PickExamples(IEnumerable<InteractionGraph> graphs, int count = 4)
    {
        ArgumentNullException.ThrowIfNull(graphs);
        var picked = new List<InteractionGraph>();
        var rest = new List<InteractionGraph>();
        var types = new HashSet<int>();
        foreach (var g in graphs)
        {
            if (types.Add(g.InteractionRounds) && picked.Count < count)
            {
                picked.Add(g);
            }
            else if (rest.Count < count)
            {
                rest.Add(g);
            }
        }

        picked.AddRange(rest.Take(count - picked.Count));
        return picked.OrderBy(g => g.InteractionRounds).ToArray();
    }

    /// <summary>Renders the report.</summary>
    /// <param name="statistics">The corpus statistics.</param>
    /// <param name="examples">Graphs to draw (see <see cref="PickExamples"/>).</param>
    /// <param name="title">The page title.</param>
    /// <returns>The HTML document.</returns>
    public static string Render(MagStatistics statistics, IEnumerable<InteractionGraph> examples, string title = "MAG corpus report")
    {
        ArgumentNullException.ThrowIfNull(statistics);
        ArgumentNullException.ThrowIfNull(examples);
        var c = CultureInfo.InvariantCulture;
        var s = statistics;
        var sb = new StringBuilder();
        sb.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
        sb.Append(c, $"<title>{MagSvgRenderer.Esc(title)}</title>\n");
        sb.Append("<style>body{font-family:Helvetica,Arial,sans-serif;margin:24px;color:#222}table{border-collapse:collapse;margin:8px 0 20px}th,td{border:1px solid #ccc;padding:4px 10px;text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}figure{margin:16px 0;overflow-x:auto}figcaption{color:#555;margin-bottom:6px}</style>\n");
        sb.Append("</head>\n<body>\n");
        sb.Append(c, $"<h1>{MagSvgRenderer.Esc(title)}</h1>\n");
        sb.Append(c, $"<p>{s.Graphs} graphs, {s.Nodes} nodes ({s.Correct} correct, {s.Incorrect} incorrect, {s.Invalid} invalid), {s.Edges} edges. Node accuracy {s.Accuracy:P1}. Tasks: {MagSvgRenderer.Esc(string.Join(", ", s.Tasks.Select(t => $"{t.Key} ({t.Value})")))}.</p>\n");

        sb.Append("<h2>Nodes per round</h2>\n<table id=\"rounds\"><tr><th>Round</th><th>Nodes</th><th>Correct</th><th>Incorrect</th><th>Accuracy</th><th>Graphs</th><th>Agreement</th></tr>\n");
        foreach (var r in s.Rounds)
        {
            sb.Append(c, $"<tr><td>{r.Round}</td><td>{r.Nodes}</td><td>{r.Correct}</td><td>{r.Incorrect}</td><td>{r.Accuracy:P1}</td><td>{r.Graphs}</td><td>{r.Agreement:P1}</td></tr>\n");
        }

        sb.Append("</table>\n<h2>Nodes and accuracy per agent</h2>\n<table id=\"agents\"><tr><th>Agent</th><th>Nodes</th><th>Correct</th><th>Incorrect</th><th>Accuracy</th>");
        for (var r = 0; r < s.Rounds.Count; r++)
        {
            sb.Append(c, $"<th>Round {r}</th>");
        }

        sb.Append("</tr>\n");
        foreach (var a in s.Agents)
        {
            sb.Append(c, $"<tr><td>{MagSvgRenderer.Esc(a.Agent)}</td><td>{a.Nodes}</td><td>{a.Correct}</td><td>{a.Incorrect}</td><td>{a.Accuracy:P1}</td>");
            for (var r = 0; r < s.Rounds.Count; r++)
            {
                var cell = r < a.Rounds.Count ? a.Rounds[r] : null; // indexed by round: no quadratic search
                sb.Append(cell is null || cell.Nodes == 0 ? "<td>-</td>" : string.Create(c, $"<td>{cell.Accuracy:P1} ({cell.Nodes})</td>"));
            }

            sb.Append("</tr>\n");
        }

        sb.Append("</table>\n<h2>Graph types</h2>\n<table id=\"graph-types\"><tr><th>Type</th><th>Graphs</th><th>Nodes</th></tr>\n");
        foreach (var t in s.GraphTypes)
        {
            sb.Append(c, $"<tr><td>{t.Name}</td><td>{t.Graphs}</td><td>{t.Nodes}</td></tr>\n");
        }

        sb.Append("</table>\n<h2>Example graphs</h2>\n");
        foreach (var g in examples)
        {
            sb.Append(c, $"<figure><figcaption>{MagSvgRenderer.Esc($"{g.Id}: G{g.InteractionRounds}, {g.CorrectNodes.Count()} of {g.Nodes.Count} nodes correct")}</figcaption>\n");
            var svg = MagSvgRenderer.Render(g);
            sb.Append(svg.AsSpan(svg.IndexOf("<svg", StringComparison.Ordinal)));
            sb.Append("</figure>\n");
        }

        sb.Append("</body>\n</html>\n");
        return sb.ToString();
    }
}

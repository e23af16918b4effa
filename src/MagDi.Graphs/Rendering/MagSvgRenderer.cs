using System.Globalization;
using System.Text;

namespace MagDi.Graphs;

/// <summary>Layout and content options for <see cref="MagSvgRenderer"/>.</summary>
public sealed class MagRenderOptions
{
    /// <summary>Node box width in pixels. Default 210.</summary>
    public int NodeWidth { get; set; } = 210;

    /// <summary>Node box height in pixels. Default 92.</summary>
    public int NodeHeight { get; set; } = 92;

    /// <summary>Horizontal gap between round columns. Default 90.</summary>
    public int ColumnGap { get; set; } = 90;

    /// <summary>Vertical gap between agent rows. Default 28.</summary>
    public int RowGap { get; set; } = 28;

    /// <summary>How many lines of the reasoning each node shows (0 for none). Default 3.</summary>
    public int ReasoningLines { get; set; } = 3;

    /// <summary>How many lines of the question the header shows. Default 3.</summary>
    public int QuestionLines { get; set; } = 3;
}

/// <summary>
/// Draws one MAG as SVG in the style of the paper's Figure 2: agents by row, rounds by column, green
/// correct and red incorrect nodes (grey dashed for invalid replies), edges from the graph's interaction
/// pattern, and each node's answer and confidence.
/// </summary>
/// <remarks>
/// The output is a standalone, well-formed SVG 1.1 document. Each node is a <c>&lt;g class="node"&gt;</c> with
/// <c>data-index</c>, <c>data-agent</c>, <c>data-round</c> and <c>data-correct</c> attributes and a <c>&lt;title&gt;</c>
/// tooltip holding its reasoning; each edge is a <c>&lt;path class="edge"&gt;</c> with <c>data-source</c> and <c>data-target</c>.
/// </remarks>
public static class MagSvgRenderer
{
    /// <summary>Fill colour of correct nodes.</summary>
    internal const string CorrectFill = "#c8e6c9";

    /// <summary>Fill colour of incorrect nodes.</summary>
    internal const string IncorrectFill = "#ffcdd2";

    /// <summary>Fill colour of invalid (unparseable) nodes.</summary>
    internal const string InvalidFill = "#eeeeee";

    private const string CorrectStroke = "#2e7d32";
    private const string IncorrectStroke = "#c62828";
    private const string InvalidStroke = "#757575";
    private const int LeftMargin = 110;
    private const int Margin = 20;
    private const int LineHeight = 18;

    /// <summary>Renders a graph as an SVG document.</summary>
    /// <param name="graph">The graph.</param>
    /// <param name="options">Layout options; defaults when <see langword="null"/>.</param>
    /// <returns>The SVG text.</returns>
    public static string Render(InteractionGraph graph, MagRenderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var o = options ?? new MagRenderOptions();
        var c = CultureInfo.InvariantCulture;
        var w = o.NodeWidth;
        var h = o.NodeHeight;
        var charsPerLine = Math.Max(10, (w - 16) / 7);

        var headerWidth = Math.Max(LeftMargin + (graph.RoundCount * (w + o.ColumnGap)), 640);
        var questionLines = Wrap($"Q: {graph.Question}", Math.Max(40, (headerWidth - (2 * Margin)) / 7), o.QuestionLines);
        var headerHeight = Margin + ((questionLines.Count + 2) * LineHeight) + 36;
        var width = headerWidth + Margin;
        var height = headerHeight + (graph.Agents.Count * (h + o.RowGap)) + 40;

        double X(int round) => LeftMargin + (round * (w + o.ColumnGap));
        double Y(int agent) => headerHeight + (agent * (h + o.RowGap));

        var sb = new StringBuilder();
        sb.Append(c, $"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"{width}\" height=\"{height}\" viewBox=\"0 0 {width} {height}\" font-family=\"Helvetica, Arial, sans-serif\" font-size=\"12\">\n");
        sb.Append(c, $"<title>{Esc($"MAG {graph.Id} ({graph.Task}, G{graph.InteractionRounds})")}</title>\n");
        sb.Append("<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"7\" markerHeight=\"7\" orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#546e7a\"/></marker></defs>\n");
        sb.Append(c, $"<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"#ffffff\"/>\n");

        // Header: question, gold answer, graph facts, legend.
        var y = Margin + 12;
        sb.Append("<g class=\"header\">\n");
        foreach (var line in questionLines)
        {
            sb.Append(c, $"<text x=\"{Margin}\" y=\"{y}\" font-size=\"13\">{Esc(line)}</text>\n");
            y += LineHeight;
        }

        sb.Append(c, $"<text x=\"{Margin}\" y=\"{y}\" font-weight=\"bold\">{Esc($"Gold answer: {Shorten(graph.GoldAnswer, 60)}")}</text>\n");
        y += LineHeight;
        sb.Append(c, $"<text x=\"{Margin}\" y=\"{y}\" fill=\"#555555\">{Esc($"{graph.Id} · {graph.Task} · G{graph.InteractionRounds} · {graph.Nodes.Count} nodes · {graph.Edges.Count} edges ({graph.Pattern.Name})")}</text>\n");
        var lx = width - 330;
        LegendItem(sb, lx, y - 12, CorrectFill, CorrectStroke, "correct", false);
        LegendItem(sb, lx + 100, y - 12, IncorrectFill, IncorrectStroke, "incorrect", false);
        LegendItem(sb, lx + 210, y - 12, InvalidFill, InvalidStroke, "invalid", true);
        sb.Append("</g>\n");

        // Column and row labels.
        for (var r = 0; r < graph.RoundCount; r++)
        {
            sb.Append(c, $"<text class=\"round-label\" x=\"{X(r) + (w / 2.0):0.#}\" y=\"{headerHeight - 10}\" text-anchor=\"middle\" font-weight=\"bold\">{(r == 0 ? "Round 0 (initial)" : $"Round {r}")}</text>\n");
        }

        for (var a = 0; a < graph.Agents.Count; a++)
        {
            sb.Append(c, $"<text class=\"agent-label\" x=\"{LeftMargin - 12}\" y=\"{Y(a) + (h / 2.0) + 4:0.#}\" text-anchor=\"end\" font-weight=\"bold\">{Esc(Shorten(graph.Agents[a], 14))}</text>\n");
        }

        // Edges below nodes.
        sb.Append("<g class=\"edges\" fill=\"none\" stroke=\"#546e7a\" stroke-opacity=\"0.55\" stroke-width=\"1.3\">\n");
        foreach (var (s, t) in graph.Edges.Pairs)
        {
            var (sa, sr) = graph.Shape.Nodes[s];
            var (ta, tr) = graph.Shape.Nodes[t];
            string d;
            if (tr > sr)
            {
                double x1 = X(sr) + w, y1 = Y(sa) + (h / 2.0), x2 = X(tr), y2 = Y(ta) + (h / 2.0), mx = (x1 + x2) / 2;
                d = string.Create(c, $"M {x1:0.#} {y1:0.#} C {mx:0.#} {y1:0.#}, {mx:0.#} {y2:0.#}, {x2:0.#} {y2:0.#}");
            }
            else if (tr < sr)
            {
                double x1 = X(sr), y1 = Y(sa) + (h * 0.7), x2 = X(tr) + w, y2 = Y(ta) + (h * 0.7), mx = (x1 + x2) / 2;
                d = string.Create(c, $"M {x1:0.#} {y1:0.#} C {mx:0.#} {y1 + 20:0.#}, {mx:0.#} {y2 + 20:0.#}, {x2:0.#} {y2:0.#}");
            }
            else
            {
                double x1 = X(sr) + w, y1 = Y(sa) + (h * 0.3), x2 = X(tr) + w, y2 = Y(ta) + (h * 0.7), bulge = 25 + (8 * Math.Abs(ta - sa));
                d = string.Create(c, $"M {x1:0.#} {y1:0.#} C {x1 + bulge:0.#} {y1:0.#}, {x2 + bulge:0.#} {y2:0.#}, {x2:0.#} {y2:0.#}");
            }

            sb.Append(c, $"<path class=\"edge\" data-source=\"{s}\" data-target=\"{t}\" d=\"{d}\" marker-end=\"url(#arrow)\"/>\n");
        }

        sb.Append("</g>\n<g class=\"nodes\">\n");
        for (var i = 0; i < graph.Nodes.Count; i++)
        {
            var n = graph.Nodes[i];
            var (agent, round) = graph.Shape.Nodes[i];
            double x = X(round), ny = Y(agent);
            var (fill, stroke) = !n.IsValid ? (InvalidFill, InvalidStroke) : n.IsCorrect ? (CorrectFill, CorrectStroke) : (IncorrectFill, IncorrectStroke);
            var dash = n.IsValid ? string.Empty : " stroke-dasharray=\"5 3\"";
            sb.Append(c, $"<g class=\"node\" data-index=\"{i}\" data-agent=\"{Esc(n.Agent)}\" data-round=\"{n.Round}\" data-correct=\"{(n.IsCorrect ? "true" : "false")}\" data-valid=\"{(n.IsValid ? "true" : "false")}\">\n");
            sb.Append(c, $"<title>{Esc(Shorten(n.IsValid ? n.Reasoning : n.RawText ?? string.Empty, 1500))}</title>\n");
            sb.Append(c, $"<rect x=\"{x:0.#}\" y=\"{ny:0.#}\" width=\"{w}\" height=\"{h}\" rx=\"8\" ry=\"8\" fill=\"{fill}\" stroke=\"{stroke}\" stroke-width=\"1.6\"{dash}/>\n");
            var ty = ny + 18;
            var answer = n.IsValid ? $"Answer: {Shorten(n.Answer ?? "(none)", charsPerLine - 8)}" : "Invalid reply";
            sb.Append(c, $"<text x=\"{x + 8:0.#}\" y=\"{ty:0.#}\" font-weight=\"bold\">{Esc(answer)}</text>\n");
            ty += LineHeight - 2;
            var conf = n.Confidence is { } cv ? cv.ToString("0.00", c) : "n/a";
            sb.Append(c, $"<text x=\"{x + 8:0.#}\" y=\"{ty:0.#}\" fill=\"#333333\">{Esc($"Confidence: {conf} · {(n.IsCorrect ? "correct" : "incorrect")}")}</text>\n");
            foreach (var line in Wrap(n.IsValid ? n.Reasoning : n.RawText ?? string.Empty, Math.Max(10, (w - 16) / 6), o.ReasoningLines))
            {
                ty += LineHeight - 3;
                sb.Append(c, $"<text x=\"{x + 8:0.#}\" y=\"{ty:0.#}\" fill=\"#555555\" font-size=\"11\">{Esc(line)}</text>\n");
            }

            sb.Append("</g>\n");
        }

        sb.Append("</g>\n</svg>\n");
        return sb.ToString();
    }

    private static void LegendItem(StringBuilder sb, int x, int y, string fill, string stroke, string label, bool dashed)
    {
        var c = CultureInfo.InvariantCulture;
        sb.Append(c, $"<rect class=\"legend\" x=\"{x}\" y=\"{y}\" width=\"14\" height=\"14\" rx=\"3\" fill=\"{fill}\" stroke=\"{stroke}\"{(dashed ? " stroke-dasharray=\"3 2\"" : string.Empty)}/>");
        sb.Append(c, $"<text x=\"{x + 20}\" y=\"{y + 11}\">{label}</text>\n");
    }

    /// <summary>Word-wraps text into at most <paramref name="maxLines"/> lines, adding an ellipsis when cut.</summary>
    internal static List<string> Wrap(string text, int width, int maxLines)
    {
        var lines = new List<string>();
        if (maxLines <= 0)
        {
            return lines;
        }

        var words = Clean(text).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
        var current = new StringBuilder();
        var i = 0;
        for (; i < words.Length; i++)
        {
            var word = words[i].Length > width ? words[i][..(width - 1)] + "…" : words[i];
            if (current.Length > 0 && current.Length + 1 + word.Length > width)
            {
                lines.Add(current.ToString());
                current.Clear();
                if (lines.Count == maxLines)
                {
                    break;
                }
            }

            if (current.Length > 0)
            {
                current.Append(' ');
            }

            current.Append(word);
        }

        if (lines.Count < maxLines && current.Length > 0)
        {
            lines.Add(current.ToString());
        }
        else if (i < words.Length && lines.Count > 0)
        {
            var last = lines[^1];
            lines[^1] = (last.Length + 1 > width ? last[..(width - 1)] : last) + "…";
        }

        return lines;
    }

    /// <summary>Cuts text to <paramref name="max"/> characters with an ellipsis, on one line.</summary>
    internal static string Shorten(string text, int max)
    {
        var s = Clean(text).ReplaceLineEndings(" ");
        return s.Length <= max ? s : s[..Math.Max(1, max - 1)] + "…";
    }

    /// <summary>Removes characters that XML 1.0 cannot hold (control characters, lone surrogates).</summary>
    internal static string Clean(string text)
    {
        var sb = new StringBuilder(text.Length);
        for (var i = 0; i < text.Length; i++)
        {
            var ch = text[i];
            if (char.IsHighSurrogate(ch) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                sb.Append(ch).Append(text[++i]);
            }
            else if (char.IsSurrogate(ch) || ch == '\uFFFE' || ch == '\uFFFF' || (ch < 0x20 && ch != '\n' && ch != '\r' && ch != '\t'))
            {
                sb.Append('\uFFFD');
            }
            else
            {
                sb.Append(ch);
            }
        }

        return sb.ToString();
    }

    /// <summary>Escapes text for XML content and attributes.</summary>
    internal static string Esc(string text) => Clean(text)
        .Replace("&", "&amp;", StringComparison.Ordinal)
        .Replace("<", "&lt;", StringComparison.Ordinal)
        .Replace(">", "&gt;", StringComparison.Ordinal)
        .Replace("\"", "&quot;", StringComparison.Ordinal)
        .Replace("'", "&apos;", StringComparison.Ordinal);
}

using System.ComponentModel;
using System.Globalization;
using MagDi.Cli.Infrastructure;
using MagDi.Graphs;
using MagDi.Graphs.IO;
using MagDi.Tasks;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MagDi.Cli.Commands.Mags;

/// <summary><c>magdi mags stats</c>: corpus statistics like the paper's Table 12, streamed with constant memory.</summary>
public sealed class MagsStatsCommand(CliOutput output) : AsyncCommand<MagsStatsCommand.Settings>
{
    /// <summary>Options of <c>mags stats</c>.</summary>
    public sealed class Settings : MagInputSettings
    {
        /// <summary>Print JSON instead of tables.</summary>
        [CommandOption("--json")]
        [Description("Print the statistics as JSON.")]
        public bool Json { get; set; }
    }

    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        var report = new ReadReport();
        var builder = new MagStatisticsBuilder();
        await foreach (var g in MagFile.StreamAsync(settings.Input!, settings.ToReadOptions(), report, cancellationToken))
        {
            builder.Add(g);
        }

        var stats = builder.Build();
        SkipReport.Write(report, output.Error);
        if (settings.Json)
        {
            await output.Out.WriteLineAsync(stats.ToJson());
            return ExitCodes.Success;
        }

        Print(stats, output.Console);
        return ExitCodes.Success;
    }

    /// <summary>The most per-round columns of the agents table; deeper corpora (the paper's have 4 rounds) are cut, see --json.</summary>
    internal const int MaxRoundColumns = 12;

    private static void Print(MagStatistics s, IAnsiConsole console)
    {
        var c = CultureInfo.InvariantCulture;
        console.WriteLine(Terminal.Clean(string.Create(c, $"{s.Graphs} graphs, {s.Nodes} nodes ({s.Correct} correct, {s.Incorrect} incorrect, {s.Invalid} invalid), {s.Edges} edges; tasks: {string.Join(", ", s.Tasks.Select(t => $"{t.Key} ({t.Value})"))}")));
        var rounds = new Table().Title("Nodes per round").AddColumns("Round", "Nodes", "Correct", "Incorrect", "Accuracy", "Graphs", "Agreement");
        foreach (var r in s.Rounds)
        {
            rounds.AddRow(Cells(c, r.Round, r.Nodes, r.Correct, r.Incorrect, r.Accuracy.ToString("P1", c), r.Graphs, r.Agreement.ToString("P1", c)));
        }

        int roundColumns = Math.Min(s.Rounds.Count, MaxRoundColumns);
        var agents = new Table().Title("Nodes per agent").AddColumns("Agent", "Nodes", "Correct", "Incorrect", "Accuracy");
        for (var r = 0; r < roundColumns; r++)
        {
            agents.AddColumn(string.Create(c, $"Round {r} acc."));
        }

        foreach (var a in s.Agents)
        {
            var cells = new List<object> { a.Agent, a.Nodes, a.Correct, a.Incorrect, a.Accuracy.ToString("P1", c) };
            for (var r = 0; r < roundColumns; r++)
            {
                // AgentStatistics.Rounds is indexed by round.
                var cell = r < a.Rounds.Count ? a.Rounds[r] : null;
                cells.Add(cell is null || cell.Nodes == 0 ? "-" : string.Create(c, $"{cell.Accuracy:P1} ({cell.Nodes})"));
            }

            agents.AddRow(Cells(c, [.. cells]));
        }

        var types = new Table().Title("Graph types").AddColumns("Type", "Graphs", "Nodes");
        foreach (var t in s.GraphTypes)
        {
            types.AddRow(Cells(c, t.Name, t.Graphs, t.Nodes));
        }

        console.Write(rounds);
        console.Write(agents);
        if (s.Rounds.Count > roundColumns)
        {
            console.WriteLine(string.Create(c, $"(per-agent accuracy shown for rounds 0 to {roundColumns - 1} of {s.Rounds.Count}; --json has every round)"));
        }

        console.Write(types);
    }

    // Values from the file (agent and task names) go through Terminal.Clean (no control characters) and Markup.Escape.
    private static string[] Cells(CultureInfo c, params object[] values) =>
        values.Select(v => Markup.Escape(Terminal.Clean(Convert.ToString(v, c)))).ToArray();
}

using MagDi.Cli.Commands;
using MagDi.Cli.Commands.Mags;
using MagDi.Cli.Infrastructure;
using MagDi.Graphs;
using MagDi.Tasks;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MagDi.Cli;

/// <summary>The <c>magdi</c> command-line application. Each verb is its own command class, registered in <see cref="Configure"/>.</summary>
public static class MagDiApp
{
    /// <summary>Runs the app with the given arguments, writing results to <paramref name="stdout"/> and errors to <paramref name="stderr"/>.</summary>
    /// <param name="args">The command-line arguments.</param>
    /// <param name="stdout">Where results go.</param>
    /// <param name="stderr">Where errors go.</param>
    /// <param name="cancellationToken">Cancels the command.</param>
    /// <returns>The exit code: 0 on success, 2 on bad input (see <see cref="ExitCodes"/>).</returns>
    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stdout);
        ArgumentNullException.ThrowIfNull(stderr);
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(stdout),
            Ansi = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = ReferenceEquals(stdout, Console.Out) && !Console.IsOutputRedirected ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        if (!ReferenceEquals(stdout, Console.Out) || Console.IsOutputRedirected)
        {
            console.Profile.Width = 160;
        }

        var app = new CommandApp();
        app.Configure(config =>
        {
            config.Settings.Registrar.RegisterInstance(new CliOutput(stdout, stderr, console));
            config.SetApplicationName("magdi");
            config.UseStrictParsing();
            config.ConfigureConsole(console);
            config.SetExceptionHandler((ex, _) => HandleError(ex, stderr));
            Configure(config);
        });
        return await app.RunAsync(args, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Registers every verb. New verbs (tokenize, generate, score, train, discuss) add one line here.</summary>
    /// <param name="config">The Spectre configurator.</param>
    public static void Configure(IConfigurator config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.AddBranch("mags", mags =>
        {
            mags.SetDescription("Inspect, convert and draw Multi-Agent Interaction Graphs (MAGs).");
            mags.AddCommand<MagsStatsCommand>("stats").WithDescription("Corpus statistics like the paper's Table 12.")
                .WithExample("mags", "stats", "--in", "MAG/SQA_1000.json");
            mags.AddCommand<MagsConvertCommand>("convert").WithDescription("Convert a MAG file (e.g. the released format) to MagDi JSON Lines.")
                .WithExample("mags", "convert", "--in", "MAG/GSM8K_1000.json", "--out", "gsm8k.jsonl");
            mags.AddCommand<MagsRenderCommand>("render").WithDescription("Draw one MAG as SVG (agents by row, rounds by column).")
                .WithExample("mags", "render", "--in", "gsm8k.jsonl", "--index", "0", "--out", "mag.svg");
            mags.AddCommand<MagsReportCommand>("report").WithDescription("Write an HTML report: statistics tables and a few rendered MAGs.")
                .WithExample("mags", "report", "--in", "gsm8k.jsonl", "--out", "report.html");
        });
        config.AddCommand<EvalCommand>("eval").WithDescription("Score a predictions JSON Lines file against a benchmark file.")
            .WithExample("eval", "--task", "gsm8k", "--test", "test.jsonl", "--predictions", "pred.jsonl", "--json");
    }

    private static int HandleError(Exception ex, TextWriter stderr)
    {
        switch (ex)
        {
            case MagDataException or InvalidGraphException or ArgumentException or IOException or UnauthorizedAccessException or CommandAppException:
                stderr.WriteLine($"error: {ex.Message}");
                return ExitCodes.BadInput;
            case OperationCanceledException:
                stderr.WriteLine("cancelled");
                return ExitCodes.Cancelled;
            default:
                stderr.WriteLine($"unexpected error: {ex}");
                return ExitCodes.Failure;
        }
    }
}

/// <summary>The exit codes of <c>magdi</c>.</summary>
public static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Success = 0;

    /// <summary>An unexpected failure (a bug).</summary>
    public const int Failure = 1;

    /// <summary>Bad input: arguments, files or data; the error is on stderr.</summary>
    public const int BadInput = 2;

    /// <summary>Cancelled (Ctrl-C).</summary>
    public const int Cancelled = 130;
}

using MagDi.Cli.Commands;
using MagDi.Cli.Commands.Mags;
using MagDi.Cli.Infrastructure;
using MagDi.Graphs;
using MagDi.Modeling;
using MagDi.Tasks;
using MagDi.Training;
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

        bool verbose = CliSettings.IsVerbose(args);
        if (!args.Any(a => a is "-h" or "--help" or "-?") && FindVerb(args) is { } verb
            && NumericOptions.Check(verb.Settings, args[verb.Path.Count..]) is { } problem)
        {
            stderr.WriteLine($"error: {problem}");
            return ExitCodes.BadInput;
        }

        var app = new CommandApp();
        app.Configure(config =>
        {
            config.Settings.Registrar.RegisterInstance(new CliOutput(stdout, stderr, console) { Verbose = verbose });
            config.SetApplicationName("magdi");
            config.UseStrictParsing();
            config.ConfigureConsole(console);
            config.SetExceptionHandler((ex, _) => HandleError(ex, stderr, verbose));
            Configure(config);
        });
        return await app.RunAsync(args, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Every verb: its words on the command line and its settings class (for option checks, help and tests).</summary>
    internal static IReadOnlyList<VerbInfo> Verbs { get; } =
    [
        new(["mags", "stats"], typeof(MagsStatsCommand), typeof(MagsStatsCommand.Settings)),
        new(["mags", "convert"], typeof(MagsConvertCommand), typeof(MagsConvertCommand.Settings)),
        new(["mags", "render"], typeof(MagsRenderCommand), typeof(MagsRenderCommand.Settings)),
        new(["mags", "report"], typeof(MagsReportCommand), typeof(MagsReportCommand.Settings)),
        new(["eval"], typeof(EvalCommand), typeof(EvalCommand.Settings)),
        new(["tokenize"], typeof(TokenizeCommand), typeof(TokenizeCommand.Settings)),
        new(["generate"], typeof(GenerateCommand), typeof(GenerateCommand.Settings)),
        new(["score"], typeof(ScoreCommand), typeof(ScoreCommand.Settings)),
        new(["train"], typeof(TrainCommand), typeof(TrainCommand.Settings)),
        new(["experiment"], typeof(ExperimentCommand), typeof(ExperimentCommand.Settings)),
        new(["pretrain"], typeof(PretrainCommand), typeof(PretrainCommand.Settings)),
        new(["discuss"], typeof(DiscussCommand), typeof(DiscussCommand.Settings)),
    ];

    /// <summary>The verb <paramref name="args"/> start with, or null.</summary>
    internal static VerbInfo? FindVerb(IReadOnlyList<string> args) =>
        Verbs.Where(v => v.Path.Count <= args.Count && v.Path.Select((w, i) => string.Equals(args[i], w, StringComparison.Ordinal)).All(x => x))
            .MaxBy(v => v.Path.Count);

    /// <summary>Registers every verb: <c>mags stats|convert|render|report</c>, <c>eval</c>, <c>tokenize</c>, <c>generate</c>, <c>score</c>, <c>train</c>, <c>experiment</c>, <c>pretrain</c>, <c>discuss</c>.</summary>
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
        config.AddCommand<EvalCommand>("eval").WithDescription("Accuracy on a benchmark file: of a predictions JSON Lines file, or of a student generating answers (--model).")
            .WithExample("eval", "--task", "gsm8k", "--test", "test.jsonl", "--predictions", "pred.jsonl", "--json")
            .WithExample("eval", "--model", "student", "--adapter", "run/adapter", "--task", "gsm8k", "--test", "test.jsonl", "--limit", "100", "--json");
        config.AddCommand<TokenizeCommand>("tokenize").WithDescription("Token ids of a text or of a JSON Lines file of texts.")
            .WithExample("tokenize", "--tokenizer", "student", "--text", "Hello world")
            .WithExample("tokenize", "--tokenizer", "student/tokenizer.json", "--in", "texts.jsonl", "--out", "ids.jsonl");
        config.AddCommand<GenerateCommand>("generate").WithDescription("Continue a prompt with a student (and optionally a LoRA adapter).")
            .WithExample("generate", "--model", "student", "--adapter", "run/adapter", "--prompt", "Q: 2 + 3 = ?", "--max-new-tokens", "64");
        config.AddCommand<ScoreCommand>("score").WithDescription("Log-probability of each token given its prefix (float32).")
            .WithExample("score", "--model", "student", "--text", "The answer is 5.", "--json");
        config.AddCommand<TrainCommand>("train").WithDescription("Distil MAGs into a student with LoRA; live progress, loss-curve PNG, final metrics.")
            .WithExample("train", "--model", "student", "--mags", "gsm8k.jsonl", "--level", "structure", "--out", "run", "--epochs", "10");
        config.AddCommand<ExperimentCommand>("experiment").WithDescription("The multi-seed MAGDi experiment: No teacher, SiT per teacher and Levels 1-4 from one base student; table, results.json and plot with 95 % intervals.")
            .WithExample("experiment", "--synthetic", "--out", "out/experiment", "--seeds", "5")
            .WithExample("experiment", "--model", "mistral-7b", "--mags", "MAG/GSM8K_1000.json", "--test", "gsm8k_test.jsonl", "--task", "gsm8k", "--out", "exp", "--device", "cuda", "--dtype", "bf16", "--seeds", "3");
        config.AddCommand<CompareCommand>("compare").WithDescription("Rows of two experiment output folders against each other, paired by seed and test question (the experiment's paired bootstrap).")
            .WithExample("compare", "out/quickstart-10ep", "out/quickstart", "--rows", "level-1,level-4-magdi", "--seeds", "1,2,3");
        config.AddCommand<PretrainCommand>("pretrain").WithDescription("Pretrain the synthetic experiment's base student on textbook solutions (never teacher output).")
            .WithExample("pretrain", "--synthetic", "--out", "bases");
        config.AddCommand<DiscussCommand>("discuss").WithDescription("Build a MAG corpus from multi-agent discussions (OpenAI-compatible teachers or simulated ones).")
            .WithExample("discuss", "--task", "synthetic-arithmetic", "--questions", "synthetic:20", "--out", "mags.jsonl", "--simulated")
            .WithExample("discuss", "--task", "gsm8k", "--questions", "gsm8k_train.jsonl", "--out", "mags.jsonl", "--agent", "a=http://localhost:11434/v1|llama3", "--agent", "b=http://localhost:11434/v1|qwen2");
    }

    /// <summary>
    /// The one error path of every verb: bad input, bad configuration and damaged files are exit code 2 with one paragraph
    /// on stderr (the exception's message, which names the file, element, field and reason); anything else is a bug in
    /// MagDi, exit code 1. Stack traces are printed only with <c>--verbose</c> (or <c>MAGDI_VERBOSE=1</c>).
    /// </summary>
    /// <param name="exception">What the verb threw.</param>
    /// <param name="stderr">Where the message goes.</param>
    /// <param name="verbose">Also print the stack trace.</param>
    /// <returns>The exit code.</returns>
    internal static int HandleError(Exception exception, TextWriter stderr, bool verbose)
    {
        Exception ex = Unwrap(exception);
        int code = ExitCodeOf(ex);
        switch (code)
        {
            case ExitCodes.Cancelled:
                stderr.WriteLine("cancelled");
                break;
            case ExitCodes.BadInput:
                stderr.WriteLine($"error: {Terminal.Paragraph(ex.Message)}");
                break;
            default:
                stderr.WriteLine($"error: unexpected {ex.GetType().Name}: {Terminal.Paragraph(ex.Message)}");
                stderr.WriteLine(verbose
                    ? "This is a bug in MagDi; please report it with the stack trace below."
                    : $"This is a bug in MagDi; please report it. Run again with {CliSettings.VerboseOption} (or {CliSettings.VerboseVariable}=1) for the stack trace.");
                break;
        }

        if (verbose && code != ExitCodes.Cancelled)
        {
            stderr.WriteLine(ex.ToString());
        }

        return code;
    }

    /// <summary>Which exit code an exception means (see <see cref="ExitCodes"/>).</summary>
    internal static int ExitCodeOf(Exception ex) => ex switch
    {
        OperationCanceledException => ExitCodes.Cancelled,
        ArgumentNullException => ExitCodes.Failure, // MagDi passed a null: a bug, never the user's input
        MagDataException or InvalidGraphException or TrainingDataException or NonFiniteException or TrainingDivergedException
            or ArgumentException or IOException or UnauthorizedAccessException or InvalidDataException or FormatException
            or System.Text.Json.JsonException or Microsoft.Extensions.Options.OptionsValidationException
            or MagDi.Runtime.TorchRuntimeException or CommandAppException or NotSupportedException => ExitCodes.BadInput,
        _ => ExitCodes.Failure,
    };

    private static Exception Unwrap(Exception ex)
    {
        while (true)
        {
            switch (ex)
            {
                case AggregateException { InnerExceptions.Count: 1 } aggregate:
                    ex = aggregate.InnerExceptions[0];
                    continue;
                case System.Reflection.TargetInvocationException { InnerException: { } inner }:
                    ex = inner;
                    continue;
                default:
                    return ex;
            }
        }
    }
}

/// <summary>One verb of <c>magdi</c>.</summary>
/// <param name="Path">The words that name it, e.g. <c>mags stats</c>.</param>
/// <param name="Command">The command class.</param>
/// <param name="Settings">Its settings class.</param>
internal sealed record VerbInfo(IReadOnlyList<string> Path, Type Command, Type Settings)
{
    /// <inheritdoc />
    public override string ToString() => string.Join(' ', Path);
}

/// <summary>The exit codes of <c>magdi</c>.</summary>
public static class ExitCodes
{
    /// <summary>Success.</summary>
    public const int Success = 0;

    /// <summary>An unexpected failure: a bug in MagDi, never a user's mistake.</summary>
    public const int Failure = 1;

    /// <summary>Bad input: arguments, files, data, configuration or damaged weights; one paragraph on stderr names the problem.</summary>
    public const int BadInput = 2;

    /// <summary>Cancelled (Ctrl-C).</summary>
    public const int Cancelled = 130;
}

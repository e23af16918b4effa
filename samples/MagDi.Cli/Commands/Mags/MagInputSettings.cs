using System.ComponentModel;
using MagDi.Cli.Infrastructure;
using MagDi.Graphs.IO;
using MagDi.Tasks;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MagDi.Cli.Commands.Mags;

/// <summary>Options shared by the <c>mags</c> verbs that read a MAG file.</summary>
public class MagInputSettings : CliSettings
{
    /// <summary>The MAG file.</summary>
    [CommandOption("--in <FILE>")]
    [Description("The MAG file: the released JSON array format or MagDi JSON Lines.")]
    public string? Input { get; set; }

    /// <summary>The file format.</summary>
    [CommandOption("--format <FORMAT>")]
    [Description("auto (default), magdi-release or jsonl.")]
    [DefaultValue("auto")]
    public string Format { get; set; } = "auto";

    /// <summary>The task (needed for released files whose name does not start with the task).</summary>
    [CommandOption("--task <TASK>")]
    [Description("The task, e.g. gsm8k, sqa, ecqa, arc, math. Released files are recognised by name (SQA_1000.json).")]
    public string? Task { get; set; }

    /// <summary>Skip bad records (listing them on stderr) instead of failing.</summary>
    [CommandOption("--skip-invalid")]
    [Description("Skip bad records and list them on stderr instead of stopping at the first.")]
    public bool SkipInvalid { get; set; }

    /// <summary>Remove "I agree"/"I disagree" sentences from reasoning.</summary>
    [CommandOption("--remove-agreement")]
    [Description("Remove sentences starting with \"I agree\"/\"I disagree\" from reasoning (the release's cleaning).")]
    public bool RemoveAgreement { get; set; }

    /// <inheritdoc />
    public override ValidationResult Validate()
    {
        if (string.IsNullOrWhiteSpace(Input))
        {
            return ValidationResult.Error("--in is required.");
        }

        if (ParseFormat(Format) is null)
        {
            return ValidationResult.Error($"--format must be auto, magdi-release or jsonl (got '{Terminal.Clean(Format)}').");
        }

        if (Task is not null && !ReasoningTasks.TryGet(Task, out _))
        {
            return ValidationResult.Error($"Unknown task '{Terminal.Clean(Task)}'. Known tasks: {string.Join(", ", ReasoningTasks.KnownNames)}.");
        }

        return ValidationResult.Success();
    }

    /// <summary>The reader options these settings describe.</summary>
    /// <returns>The options.</returns>
    public MagReadOptions ToReadOptions() => new()
    {
        Format = ParseFormat(Format) ?? MagFormat.Auto,
        Task = Task,
        ErrorMode = SkipInvalid ? ReadErrorMode.SkipInvalid : ReadErrorMode.FailFast,
        RemoveAgreementSentences = RemoveAgreement,
    };

    private static MagFormat? ParseFormat(string? format) => format?.ToUpperInvariant() switch
    {
        "AUTO" => MagFormat.Auto,
        "MAGDI-RELEASE" or "RELEASE" => MagFormat.MagdiRelease,
        "JSONL" => MagFormat.Jsonl,
        _ => null,
    };
}

/// <summary>Reporting helpers for skipped records.</summary>
internal static class SkipReport
{
    public static void Write(ReadReport report, TextWriter error)
    {
        if (report.Skipped.Count == 0)
        {
            return;
        }

        error.WriteLine($"warning: skipped {report.Skipped.Count} invalid record(s):");
        foreach (var e in report.Skipped)
        {
            // The reasons quote the file's text: no terminal escapes, one line each.
            error.WriteLine($"  {Terminal.Clean(e.ToString())}");
        }
    }
}

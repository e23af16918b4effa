using System.Globalization;
using MagDi.Samples;

namespace MagDi.Quickstart;

/// <summary>The base student a quickstart run distils into (both ship with the repository).</summary>
public enum QuickstartStudent
{
    /// <summary>The default: 4 layers, width 128, 0.88M parameters (<c>new SyntheticBaseModelOptions()</c>).</summary>
    Small,

    /// <summary>Three times the capacity: 6 layers, width 192, 2.7M parameters (<c>SyntheticBaseModelOptions.Medium()</c>).</summary>
    Medium,
}

/// <summary>Settings of one quickstart run (all have defaults that run offline on a CPU).</summary>
public sealed class QuickstartOptions
{
    /// <summary>Small budget (under about two minutes on two cores); used by the test.</summary>
    public bool Quick { get; set; }

    /// <summary>
    /// Folder that receives the MAGs, every run, table.md, results.json, plot.png and mag.svg; null:
    /// <c>out/quickstart</c>, or <c>out/quickstart-quick</c> with <see cref="Quick"/> (the two budgets' runs cannot
    /// share a folder: the runner refuses runs made with other settings).
    /// </summary>
    public string? OutputDirectory { get; set; }

    /// <summary>The base student; default <see cref="QuickstartStudent.Small"/>.</summary>
    public QuickstartStudent Student { get; set; }

    /// <summary>The output folder this run uses.</summary>
    public string EffectiveOutputDirectory => OutputDirectory ??
        Path.Combine("out", (Quick ? "quickstart-quick" : "quickstart") + (Student == QuickstartStudent.Medium ? "-medium" : "")
            + (KeepAgreementSentences ? "-keep-agreement" : ""));

    /// <summary>Training seeds per row; null: 3 (default budget) or 2 (--quick).</summary>
    public int? Seeds { get; set; }

    /// <summary>The first training seed; the others follow it.</summary>
    public int FirstSeed { get; set; } = 1;

    /// <summary>Intra-op CPU threads; null: 2 (or the core count when smaller), 1 with --quick.</summary>
    public int? Threads { get; set; }

    /// <summary>
    /// Train on the teachers' reasoning as written, without the release's removal of "I agree"/"I disagree" sentences
    /// (<c>--keep-agreement-sentences</c>; the ablation in docs/quickstart.md). Default false: the release's cleaning.
    /// </summary>
    public bool KeepAgreementSentences { get; set; }

    /// <summary>
    /// Adds the paper's Table 5 rows (<c>--self-consistency</c>): No teacher, every SiT and MAGDi answering with the paper's
    /// sampling, one sample and the majority of ten, and the claims about their self-consistency gains. The default rows
    /// share the folder and are reused.
    /// </summary>
    public bool SelfConsistency { get; set; }

    /// <summary>The seed count this run uses.</summary>
    public int SeedCount => Seeds ?? (Quick ? 2 : 3);

    /// <summary>Parses command-line arguments (<c>--quick --student small|medium --seeds N --first-seed S --out DIR --threads N --keep-agreement-sentences --self-consistency</c>).</summary>
    /// <exception cref="ArgumentException">An unknown option or a missing/invalid value.</exception>
    public static QuickstartOptions Parse(IReadOnlyList<string> args)
    {
        ArgumentNullException.ThrowIfNull(args);
        var o = new QuickstartOptions();
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            string Value()
            {
                if (i + 1 >= args.Count || args[i + 1].StartsWith("--", StringComparison.Ordinal))
                {
                    throw new ArgumentException($"Option {a} needs a value.");
                }

                return args[++i];
            }

            int Integer(int min, int max)
            {
                string v = Value();
                return int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) && n >= min && n <= max
                    ? n
                    : throw new ArgumentException($"{a} must be an integer from {min} to {max} (was '{v}').");
            }

            switch (a)
            {
                case "--quick": o.Quick = true; break;
                case "--out": o.OutputDirectory = Value(); break;
                case "--student":
                    string student = Value();
                    o.Student = student switch
                    {
                        "small" => QuickstartStudent.Small,
                        "medium" => QuickstartStudent.Medium,
                        _ => throw new ArgumentException(SyntheticBaseModels.UnknownStudent(student)),
                    };
                    break;
                case "--seeds": o.Seeds = Integer(1, 100); break;
                case "--first-seed": o.FirstSeed = Integer(0, 1_000_000); break;
                case "--threads": o.Threads = Integer(1, 256); break;
                case "--keep-agreement-sentences": o.KeepAgreementSentences = true; break;
                case "--self-consistency": o.SelfConsistency = true; break;
                case "-h" or "--help": throw new ArgumentException(Usage);
                default: throw new ArgumentException($"Unknown option '{a}'.\n{Usage}");
            }
        }

        return o;
    }

    /// <summary>The usage text.</summary>
    public const string Usage =
        "usage: dotnet run --project samples/MagDi.Quickstart -c Release -- [--quick] [--student small|medium] [--seeds N] [--first-seed S] [--out DIR] [--threads N] [--keep-agreement-sentences] [--self-consistency]\n" +
        "       Real MAGs and a real checkpoint: magdi experiment --model DIR --mags FILE --test FILE --task T --out DIR (docs/cli.md).";
}

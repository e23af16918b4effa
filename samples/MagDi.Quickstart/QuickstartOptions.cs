using System.Globalization;

namespace MagDi.Quickstart;

/// <summary>Settings of one quickstart run (all have defaults that run offline on a CPU).</summary>
public sealed class QuickstartOptions
{
    /// <summary>Small budget (under about two minutes on two cores); used by the test.</summary>
    public bool Quick { get; set; }

    /// <summary>Folder that receives the MAGs, table.md, results.json, plot.png, mag.svg and the training runs.</summary>
    public string OutputDirectory { get; set; } = Path.Combine("out", "quickstart");

    /// <summary>Seed of the benchmark, the discussion, the student's initial weights and the training batches.</summary>
    public int Seed { get; set; } = 7;

    /// <summary>A Hugging Face checkpoint folder (config.json, *.safetensors, tokenizer files): then LoRA fine-tuning and the folder's tokenizer.</summary>
    public string? ModelDirectory { get; set; }

    /// <summary>A MAG file (MagDi JSONL or the authors' release format) used instead of the simulated discussion.</summary>
    public string? MagsFile { get; set; }

    /// <summary>auto, cpu or cuda (cuda:N).</summary>
    public string Device { get; set; } = "auto";

    /// <summary>f32 or bf16 (f16 on CUDA); null picks f32 for the random student and bf16 for a checkpoint.</summary>
    public string? DType { get; set; }

    /// <summary>Intra-op CPU threads; null: 1 for the small random student, the TorchSharp default for a checkpoint.</summary>
    public int? Threads { get; set; }

    /// <summary>Parses command-line arguments (<c>--quick --out DIR --seed N --model DIR --mags FILE --device D --dtype T</c>).</summary>
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

            switch (a)
            {
                case "--quick": o.Quick = true; break;
                case "--out": o.OutputDirectory = Value(); break;
                case "--seed":
                    string s = Value();
                    o.Seed = int.TryParse(s, NumberStyles.Integer, CultureInfo.InvariantCulture, out int seed)
                        ? seed
                        : throw new ArgumentException($"--seed must be an integer (was '{s}').");
                    break;
                case "--threads":
                    string t = Value();
                    o.Threads = int.TryParse(t, NumberStyles.Integer, CultureInfo.InvariantCulture, out int threads) && threads > 0
                        ? threads
                        : throw new ArgumentException($"--threads must be a positive integer (was '{t}').");
                    break;
                case "--model": o.ModelDirectory = Value(); break;
                case "--mags": o.MagsFile = Value(); break;
                case "--device": o.Device = Value(); break;
                case "--dtype": o.DType = Value(); break;
                case "-h" or "--help": throw new ArgumentException(Usage);
                default: throw new ArgumentException($"Unknown option '{a}'.\n{Usage}");
            }
        }

        if (o.ModelDirectory is not null && !Directory.Exists(o.ModelDirectory))
        {
            throw new ArgumentException($"--model: the folder '{o.ModelDirectory}' does not exist.");
        }

        if (o.MagsFile is not null && !File.Exists(o.MagsFile))
        {
            throw new ArgumentException($"--mags: the file '{o.MagsFile}' does not exist.");
        }

        return o;
    }

    /// <summary>The usage text.</summary>
    public const string Usage =
        "usage: dotnet run --project samples/MagDi.Quickstart -c Release -- [--quick] [--out DIR] [--seed N]\n" +
        "       [--model HF_CHECKPOINT_DIR] [--mags MAG_FILE] [--device auto|cpu|cuda] [--dtype f32|bf16|f16] [--threads N]";
}

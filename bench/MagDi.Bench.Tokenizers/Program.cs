using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using MagDi.Testing;
using MagDi.Tokenization;

// Measures encoding and decoding throughput of each tokenizer family on a few MB of mixed text
// (English prose, numbers, code, whitespace runs, CJK, emoji), in documents of about 2 KB as training data
// would be tokenized. "cold" is the first pass over the text with a freshly loaded tokenizer (empty word cache),
// "warm" the median of the following passes. Results go to a JSON file.

string repoRoot = Machine.RepositoryRoot();
double megabytes = 4;
int repeat = 3;
string outPath = Path.Combine(repoRoot, "out", "bench", "tokenizers.json");
for (int i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--mb": megabytes = double.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--repeat": repeat = int.Parse(args[++i], CultureInfo.InvariantCulture); break;
        case "--out": outPath = args[++i]; break;
        default:
            Console.Error.WriteLine($"unknown argument {args[i]}; usage: [--mb N] [--repeat N] [--out FILE]");
            return 2;
    }
}

// The real vocabularies the tokenizer tests use, committed compressed under tests/TestData/tokenizers.
string data = TokenizerTestData.EnsureUnpacked(repoRoot, Path.Combine(AppContext.BaseDirectory, "test-tokenizers"));

string loadBefore = Machine.LoadAverage();
var documents = MixedText.Documents((int)(megabytes * 1024 * 1024), seed: 42);
long totalBytes = documents.Sum(d => (long)Encoding.UTF8.GetByteCount(d));
Console.WriteLine($"corpus: {documents.Count} documents, {totalBytes / 1048576.0:F2} MB UTF-8");

var trainedDir = Path.Combine(Path.GetTempPath(), "magdi-bench-trained-tokenizer");
var trainWatch = Stopwatch.StartNew();
var trainCorpus = MixedText.Documents(400 * 1024, seed: 7);
new ByteLevelBpeTrainer(new ByteLevelBpeTrainerOptions { VocabularySize = 4096 }).Train(trainCorpus, trainedDir);
double trainSeconds = trainWatch.Elapsed.TotalSeconds;
Console.WriteLine($"trained byte-level BPE (4096) on 400 KB in {trainSeconds:F2} s");

var families = new (string Name, string Kind, Func<ITextTokenizer> Load)[]
{
    ("mistral", "SentencePiece-style BPE, byte fallback (tokenizer.json, 32k)", () => TokenizerLoader.Load(Path.Combine(data, "mistral"))),
    ("qwen3", "byte-level BPE, Qwen regex + NFC (tokenizer.json, 151k)", () => TokenizerLoader.Load(Path.Combine(data, "qwen3"))),
    ("gpt2", "byte-level BPE, GPT-2 regex (vocab.json + merges.txt, 50k)", () => TokenizerLoader.Load(Path.Combine(data, "gpt2"))),
    ("trained-4096", "byte-level BPE trained by ByteLevelBpeTrainer (4k)", () => TokenizerLoader.Load(trainedDir)),
};

var results = new JsonArray();
Console.WriteLine($"{"family",-14} {"load s",7} {"cold MB/s",10} {"warm MB/s",10} {"decode MB/s",12} {"tokens/KB",10}");
foreach (var (name, kind, load) in families)
{
    var loadWatch = Stopwatch.StartNew();
    var tokenizer = load();
    double loadSeconds = loadWatch.Elapsed.TotalSeconds;

    long tokens = 0;
    var cold = Stopwatch.StartNew();
    var encoded = new List<IReadOnlyList<int>>(documents.Count);
    foreach (string doc in documents)
    {
        var ids = tokenizer.Encode(doc);
        tokens += ids.Count;
        encoded.Add(ids);
    }

    double coldSeconds = cold.Elapsed.TotalSeconds;
    var warmTimes = new List<double>();
    for (int r = 0; r < repeat; r++)
    {
        var warm = Stopwatch.StartNew();
        foreach (string doc in documents)
        {
            tokenizer.Encode(doc);
        }

        warmTimes.Add(warm.Elapsed.TotalSeconds);
    }

    warmTimes.Sort();
    double warmSeconds = warmTimes[warmTimes.Count / 2];
    var decodeWatch = Stopwatch.StartNew();
    foreach (var ids in encoded)
    {
        tokenizer.Decode(ids);
    }

    double decodeSeconds = decodeWatch.Elapsed.TotalSeconds;
    double mb = totalBytes / 1048576.0;
    Console.WriteLine($"{name,-14} {loadSeconds,7:F2} {mb / coldSeconds,10:F1} {mb / warmSeconds,10:F1} {mb / decodeSeconds,12:F1} {tokens * 1024.0 / totalBytes,10:F1}");
    results.Add(new JsonObject
    {
        ["family"] = name,
        ["kind"] = kind,
        ["load_seconds"] = Math.Round(loadSeconds, 3),
        ["encode_cold_mb_per_s"] = Math.Round(mb / coldSeconds, 2),
        ["encode_warm_mb_per_s"] = Math.Round(mb / warmSeconds, 2),
        ["decode_mb_per_s"] = Math.Round(mb / decodeSeconds, 2),
        ["tokens"] = tokens,
        ["tokens_per_kb"] = Math.Round(tokens * 1024.0 / totalBytes, 2),
    });
}

var report = new JsonObject
{
    ["benchmark"] = "MagDi tokenizer throughput",
    ["date_utc"] = DateTime.UtcNow.ToString("u", CultureInfo.InvariantCulture),
    ["machine"] = new JsonObject
    {
        ["cpu"] = Machine.CpuModel(),
        ["logical_cores"] = Environment.ProcessorCount,
        ["os"] = RuntimeInformation.OSDescription,
        ["runtime"] = RuntimeInformation.FrameworkDescription,
        ["load_average_before"] = loadBefore,
        ["load_average_after"] = Machine.LoadAverage(),
    },
    ["corpus_mb"] = Math.Round(totalBytes / 1048576.0, 3),
    ["documents"] = documents.Count,
    ["repeat"] = repeat,
    ["trainer_seconds_400kb_4096"] = Math.Round(trainSeconds, 3),
    ["results"] = results,
};
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
File.WriteAllText(outPath, report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine($"load average before/after: {loadBefore} / {Machine.LoadAverage()}; wrote {outPath}");
return 0;

/// <summary>Deterministic mixed text: prose, arithmetic, code, whitespace runs, CJK, emoji and accented words.</summary>
internal static class MixedText
{
    private static readonly string[] s_words =
    [
        "the", "of", "and", "to", "in", "is", "that", "for", "it", "as", "was", "with", "be", "by", "on", "not", "he", "this",
        "answer", "question", "reasoning", "agent", "graph", "round", "because", "therefore", "apples", "total", "each",
        "distillation", "multi-agent", "interaction", "student", "teacher", "consensus", "confidence", "however", "café", "naïve",
    ];

    private static readonly string[] s_cjk = ["中文字符测试", "你好世界", "日本語のテキスト", "한국어 텍스트", "数学问题的答案是"];
    private static readonly string[] s_emoji = ["😀", "👍🏽", "🚀", "❤️", "🇩🇪", "👨‍👩‍👧"];

    public static List<string> Documents(int totalChars, int seed)
    {
        var random = new Random(seed);
        var docs = new List<string>();
        int chars = 0;
        while (chars < totalChars)
        {
            var sb = new StringBuilder();
            while (sb.Length < 2048)
            {
                switch (random.Next(10))
                {
                    case < 5:
                        for (int w = random.Next(8, 25); w > 0; w--)
                        {
                            string word = s_words[random.Next(s_words.Length)];
                            sb.Append(w % 9 == 0 ? char.ToUpperInvariant(word[0]) + word[1..] : word).Append(' ');
                        }

                        sb.Length--;
                        sb.Append(". ");
                        break;
                    case 5:
                        int a = random.Next(1, 100000), b = random.Next(1, 1000);
                        sb.Append(CultureInfo.InvariantCulture, $"{a} + {b} = {a + b}. So the answer is {a + b}.\n");
                        break;
                    case 6:
                        sb.Append(CultureInfo.InvariantCulture, $"for (int i = 0; i < {random.Next(100)}; i++)\n{{\n    total += values[i] * {random.Next(10)};\n}}\n");
                        break;
                    case 7:
                        sb.Append(s_cjk[random.Next(s_cjk.Length)]).Append('。');
                        break;
                    case 8:
                        sb.Append(s_emoji[random.Next(s_emoji.Length)]).Append(' ');
                        break;
                    default:
                        sb.Append(random.Next(2) == 0 ? "\n\n" : "\t  ");
                        break;
                }
            }

            docs.Add(sb.ToString());
            chars += sb.Length;
        }

        return docs;
    }
}

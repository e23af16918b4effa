// Training-step benchmark: MagDi's trainer (level Structure, LoRA on q_proj/v_proj) against a PyTorch implementation of
// the released MAGDi recipe (bench/pytorch/magdi_release_step.py) on the same model size and the same MAG batches.
// The MAGs come from the synthetic arithmetic benchmark discussed by the simulated teachers; they are exported as token
// ids (bench data JSON) so the Python side trains on identical sequences. The two sides run interleaved (A B A B) and the
// ratio of the medians is reported.
// Usage: dotnet run --project bench/MagDi.Bench.Training -c Release -- [--rounds 3] [--dtypes f32,bf16] [--mags 16]
//        [--batch 4] [--warmup-epochs 1] [--timed-epochs 2] [--threads 2] [--python /usr/bin/python3] [--out FILE.json]
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using MagDi.Graphs;
using MagDi.Graphs.Discussion;
using MagDi.Graphs.Discussion.Simulation;
using MagDi.Losses;
using MagDi.Modeling;
using MagDi.Runtime;
using MagDi.Tasks;
using MagDi.Tasks.Synthetic;
using MagDi.Testing;
using MagDi.Tokenization;
using MagDi.Training;
using static TorchSharp.torch;

TorchRuntime.EnsureInitialized();
var inv = CultureInfo.InvariantCulture;
int rounds = int.Parse(Arg("--rounds") ?? "3", inv);
string[] dtypes = (Arg("--dtypes") ?? "f32,bf16").Split(',', StringSplitOptions.RemoveEmptyEntries);
int magCount = int.Parse(Arg("--mags") ?? "16", inv);
int batchSize = int.Parse(Arg("--batch") ?? "4", inv);
int warmupEpochs = int.Parse(Arg("--warmup-epochs") ?? "1", inv);
int timedEpochs = int.Parse(Arg("--timed-epochs") ?? "2", inv);
int threads = int.Parse(Arg("--threads") ?? "2", inv);
string python = Arg("--python") ?? "/usr/bin/python3";
string? openblas = Arg("--openblas"); // a folder with OpenBLAS's libblas.so.3 for the Python side (Debian's default is the reference BLAS)
string repo = Machine.RepositoryRoot();
string loadBefore = Machine.LoadAverage();
string script = Path.Combine(repo, "bench", "pytorch", "magdi_release_step.py");
string outPath = Arg("--out") ?? Path.Combine(repo, "bench", "MagDi.Bench.Training", "results", "training-comparison.json");
string work = Path.Combine(Path.GetTempPath(), "magdi-bench-training-" + Environment.ProcessId.ToString(inv));
Directory.CreateDirectory(work);
set_num_threads(threads);

// Model: Llama-style, ~7M parameters (vocabulary sized like a real tokenizer's relative to d so the lm_head matters).
var config = new ModelConfig
{
    ModelType = "llama",
    VocabSize = 8000,
    HiddenSize = 256,
    IntermediateSize = 688,
    NumHiddenLayers = 4,
    NumAttentionHeads = 4,
    NumKeyValueHeads = 2,
    MaxPositionEmbeddings = 1024,
    RmsNormEps = 1e-5,
    RopeTheta = 10000,
    TieWordEmbeddings = false,
    BosTokenId = CharTokenizer.Bos,
    PadTokenId = CharTokenizer.Pad,
};
config.SetEosTokenId(CharTokenizer.Eos);

// 1. MAGs: synthetic arithmetic questions discussed by the three simulated teachers (ReConcile protocol).
var questions = SyntheticBenchmark.Generate(SyntheticFamily.Arithmetic, magCount * 4, new SyntheticBenchmarkOptions { Seed = 2024, MinSteps = 2, MaxSteps = 4 })
    .Select(p => p.ToQuestion()).ToList();
var runner = new DiscussionRunner(SimulatedTeacher.CreateTeam(seed: 5, SimulatedTeacher.OracleFor(questions)));
var graphs = new List<InteractionGraph>();
foreach (Question q in questions)
{
    InteractionGraph g = (await runner.DiscussAsync(q)).Graph;
    // The release's pairs need both groups to matter; keep MAGs with a correct node (others give no pairs there).
    if (g.Nodes.Any(n => n.IsValid && n.IsCorrect))
    {
        graphs.Add(g);
    }

    if (graphs.Count == magCount)
    {
        break;
    }
}

var tokenizer = new CharTokenizer();
MagDiPromptTemplate template;
using (var templateModel = CausalLanguageModel.CreateRandom(Small(config), 1))
using (MagDiTrainer templateTrainer = MagDiTrainer.CreateBuilder().UseStudent(templateModel, tokenizer).WithTrainingGraphs(graphs).WithOutputDirectory(work).Build())
{
    template = templateTrainer.Template;
}

string dataPath = Path.Combine(work, "mags.json");
JsonObject data = Export(graphs, template, tokenizer, config);
File.WriteAllText(dataPath, data.ToJsonString());
var magStats = (JsonObject)data["stats"]!;
Console.WriteLine($"MAGs: {graphs.Count}, {magStats["nodes"]} nodes ({magStats["correct_nodes"]} correct), {magStats["pairs"]} release pairs, " +
    $"{magStats["tokens"]} node tokens; exported to {dataPath}");
Console.WriteLine($"Model: {config.ParameterCount() / 1e6:F2}M parameters; {threads} threads; batch {batchSize} MAGs/step; " +
    $"{warmupEpochs} warm-up epoch(s), {timedEpochs} timed epoch(s) per run; {rounds} interleaved rounds");

int stepsPerEpoch = (graphs.Count + batchSize - 1) / batchSize;
long epochTokens = (long)magStats["tokens"]!;
var results = new JsonObject();
foreach (string dt in dtypes)
{
    var magdiRuns = new List<JsonObject>();
    var torchRuns = new List<JsonObject>();
    for (int r = 0; r < rounds; r++)
    {
        // A: MagDi.
        JsonObject a = RunMagDi(dt, r);
        magdiRuns.Add(a);
        Console.WriteLine($"[{dt} round {r + 1}] MagDi   {(double)a["mags_per_second"]!,8:F3} MAGs/s  {(double)a["step_time_ms"]!,9:F1} ms/step");

        // B: the released recipe in PyTorch.
        JsonObject b = RunPyTorch(dt, r);
        torchRuns.Add(b);
        Console.WriteLine($"[{dt} round {r + 1}] PyTorch {(double)b["mags_per_second"]!,8:F3} MAGs/s  {(double)b["step_time_ms"]!,9:F1} ms/step");
    }

    double magdiGemm = GemmGflops(dt == "bf16" ? ScalarType.BFloat16 : ScalarType.Float32);
    double magdiMedian = Median(magdiRuns.Select(x => (double)x["mags_per_second"]!));
    double torchMedian = Median(torchRuns.Select(x => (double)x["mags_per_second"]!));
    results[dt] = new JsonObject
    {
        ["magdi"] = Summary(magdiRuns),
        ["pytorch_release"] = Summary(torchRuns),
        ["pytorch_runs_raw"] = new JsonArray([.. torchRuns.Select(x => x.DeepClone())]),
        ["ratio_of_medians"] = Math.Round(magdiMedian / torchMedian, 3),
        ["gemm_gflops"] = new JsonObject
        {
            ["magdi_torchsharp"] = Math.Round(magdiGemm, 1),
            ["pytorch_debian"] = Math.Round(Median(torchRuns.Select(x => (double)x["gemm_gflops"]!)), 1),
        },
        ["per_round_ratios"] = new JsonArray([.. magdiRuns.Zip(torchRuns, (x, y) => (JsonNode)Math.Round((double)x["mags_per_second"]! / (double)y["mags_per_second"]!, 3))]),
    };
    Console.WriteLine($"[{dt}] median MagDi {magdiMedian:F3} MAGs/s, PyTorch release {torchMedian:F3} MAGs/s: ratio {magdiMedian / torchMedian:F2}x");
}

var report = new JsonObject
{
    ["date_utc"] = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm", inv),
    ["machine"] = new JsonObject
    {
        ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
        ["nproc"] = Environment.ProcessorCount,
        ["cpu_model"] = Machine.CpuModel(),
        ["threads_each_side"] = threads,
        ["pytorch_blas"] = openblas is null ? "Debian default libblas.so.3" : "OpenBLAS from " + openblas,
        ["load_average_before"] = loadBefore,
        ["load_average_after"] = Machine.LoadAverage(),
        ["note"] = "sides interleaved A B A B, ratio of medians; the load averages tell whether other work shared the cores",
    },
    ["model"] = new JsonObject { ["parameters"] = config.ParameterCount(), ["config"] = JsonNode.Parse(JsonSerializer.Serialize(config)) },
    ["data"] = magStats.DeepClone(),
    ["protocol"] = new JsonObject
    {
        ["batch_mags"] = batchSize,
        ["steps_per_epoch"] = stepsPerEpoch,
        ["warmup_epochs"] = warmupEpochs,
        ["timed_epochs"] = timedEpochs,
        ["rounds"] = rounds,
        ["lora"] = "r 16, alpha 32, dropout 0.05, q_proj+v_proj",
        ["magdi"] = "MagDiTrainer level Structure, live node features, cyclic pairing, GCN hidden 512, 2 classes, AdamW, clip 1.0",
        ["pytorch_release"] = "per pair: forward(positive) + forward(negative); next-token loss on positives; margin ranking (0.1); GCN on frozen precomputed features, 12 padded nodes, 3 classes; AdamW, clip 1.0",
    },
    ["results"] = results,
};
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
File.WriteAllText(outPath, report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine($"Wrote {outPath}");
try
{
    Directory.Delete(work, recursive: true);
}
catch (IOException)
{
}

JsonObject RunMagDi(string dt, int round)
{
    ScalarType scalar = dt == "bf16" ? ScalarType.BFloat16 : ScalarType.Float32;
    using var model = CausalLanguageModel.CreateRandom(config, 1, dtype: scalar);
    int warmSteps = warmupEpochs * stepsPerEpoch, timedSteps = timedEpochs * stepsPerEpoch;
    using MagDiTrainer trainer = MagDiTrainer.CreateBuilder()
        .UseStudent(model, tokenizer)
        .WithTrainingGraphs(graphs)
        .WithLevel(DistillationLevel.Structure)
        .WithLora(rank: 16, alpha: 32, dropout: 0.05, "q_proj", "v_proj")
        .WithLearningRate(5e-6)
        .WithSchedule(epochs: 1000, warmupSteps: 100, maxSteps: warmSteps + timedSteps)
        .WithBatchSize(batchSize, gradientAccumulationSteps: 1)
        .WithSeed(11 + round)
        .Configure(o => o.Pairing = PairingStrategyKind.Cyclic)
        .WithOutputDirectory(Path.Combine(work, $"magdi-{dt}-{round}"))
        .Build();
    TrainingResult result = trainer.TrainAsync().GetAwaiter().GetResult();
    double[] stepMs = [.. result.History.Skip(warmSteps).Select(m => m["step_time_ms"])];
    double seconds = stepMs.Sum() / 1000;
    return new JsonObject
    {
        ["mags_per_second"] = timedEpochs * graphs.Count / seconds,
        ["tokens_per_second"] = timedEpochs * epochTokens / seconds,
        ["forwarded_tokens_per_second"] = timedEpochs * epochTokens / seconds,
        ["step_time_ms"] = stepMs.Average(),
        ["final_loss"] = result.History[^1]["loss/total"],
    };
}

JsonObject RunPyTorch(string dt, int round)
{
    string resultPath = Path.Combine(work, $"torch-{dt}-{round}.json");
    var psi = new ProcessStartInfo(python)
    {
        ArgumentList =
        {
            script, "--data", dataPath, "--dtype", dt, "--batch", batchSize.ToString(inv), "--threads", threads.ToString(inv),
            "--warmup-epochs", warmupEpochs.ToString(inv), "--timed-epochs", timedEpochs.ToString(inv),
            "--seed", (11 + round).ToString(inv), "--out", resultPath,
        },
        RedirectStandardError = true,
        RedirectStandardOutput = true,
    };
    psi.Environment["OPENBLAS_NUM_THREADS"] = threads.ToString(inv);
    psi.Environment["OMP_NUM_THREADS"] = threads.ToString(inv);
    if (openblas is not null)
    {
        psi.Environment["LD_LIBRARY_PATH"] = openblas;
    }

    using Process p = Process.Start(psi)!;
    string stdout = p.StandardOutput.ReadToEnd();
    string stderr = p.StandardError.ReadToEnd();
    p.WaitForExit();
    if (p.ExitCode != 0)
    {
        throw new InvalidOperationException($"{python} {script} failed ({p.ExitCode}):\n{stdout}\n{stderr}");
    }

    return (JsonObject)JsonNode.Parse(File.ReadAllText(resultPath))!;
}

static JsonObject Export(List<InteractionGraph> graphs, MagDiPromptTemplate template, ITextTokenizer tokenizer, ModelConfig config)
{
    var mags = new JsonArray();
    long tokens = 0, nodes = 0, correct = 0, pairs = 0;
    foreach (InteractionGraph g in graphs)
    {
        ReasoningTask task = ReasoningTasks.Get(g.Task);
        Question question = g.ToQuestion();
        var map = new Dictionary<int, int>();
        var nodeArray = new JsonArray();
        for (int i = 0; i < g.Nodes.Count; i++)
        {
            MagNode n = g.Nodes[i];
            if (!n.IsValid)
            {
                continue;
            }

            TokenizedExample ex = tokenizer.TokenizeExample(template.RenderNode(task, question, n.Reasoning, n.Answer), appendEos: true);
            map[i] = nodeArray.Count;
            nodeArray.Add(new JsonObject
            {
                ["ids"] = new JsonArray([.. ex.Ids.Select(id => (JsonNode)id)]),
                ["prompt_length"] = ex.PromptLength,
                ["correct"] = n.IsCorrect,
                ["agent"] = n.Agent,
                ["round"] = n.Round,
            });
            tokens += ex.Ids.Count;
            nodes++;
            correct += n.IsCorrect ? 1 : 0;
        }

        int pos = nodeArray.Count(x => (bool)x!["correct"]!), neg = nodeArray.Count - pos;
        pairs += pos == 0 ? 0 : Math.Max(pos, Math.Max(neg, 1));
        var edges = new JsonArray([.. g.Edges.Pairs.Where(e => map.ContainsKey(e.Source) && map.ContainsKey(e.Target))
            .Select(e => (JsonNode)new JsonArray(map[e.Source], map[e.Target]))]);
        mags.Add(new JsonObject { ["id"] = g.Id, ["nodes"] = nodeArray, ["edges"] = edges });
    }

    return new JsonObject
    {
        ["config"] = JsonNode.Parse(JsonSerializer.Serialize(config)),
        ["pad_id"] = CharTokenizer.Pad,
        ["mags"] = mags,
        ["stats"] = new JsonObject { ["mags"] = graphs.Count, ["nodes"] = nodes, ["correct_nodes"] = correct, ["pairs"] = pairs, ["tokens"] = tokens },
    };
}

double GemmGflops(ScalarType dtype)
{
    // Best GEMM throughput over the model's shapes (2048 tokens x d -> f, f -> d, d -> vocab), for context.
    double best = 0;
    foreach (var (k, n) in new[] { ((long)config.HiddenSize, (long)config.IntermediateSize), (config.IntermediateSize, config.HiddenSize), (config.HiddenSize, config.VocabSize) })
    {
        using var scope = NewDisposeScope();
        Tensor a = randn(2048, k, dtype: dtype), b = randn(k, n, dtype: dtype);
        _ = a.matmul(b);
        for (int i = 0; i < 3; i++)
        {
            var sw = Stopwatch.StartNew();
            _ = a.matmul(b);
            best = Math.Max(best, 2.0 * 2048 * k * n / sw.Elapsed.TotalSeconds / 1e9);
        }
    }

    return best;
}

static ModelConfig Small(ModelConfig c) => new()
{
    ModelType = "llama",
    VocabSize = c.VocabSize,
    HiddenSize = 32,
    IntermediateSize = 64,
    NumHiddenLayers = 1,
    NumAttentionHeads = 2,
    NumKeyValueHeads = 1,
    MaxPositionEmbeddings = c.MaxPositionEmbeddings,
    BosTokenId = c.BosTokenId,
    PadTokenId = c.PadTokenId,
};

static JsonObject Summary(List<JsonObject> runs)
{
    var o = new JsonObject();
    foreach (string key in new[] { "mags_per_second", "tokens_per_second", "forwarded_tokens_per_second", "step_time_ms" })
    {
        var values = runs.Select(x => (double)x[key]!).ToList();
        o[key + "_median"] = Math.Round(Median(values), 3);
        o[key + "_runs"] = new JsonArray([.. values.Select(v => (JsonNode)Math.Round(v, 3))]);
    }

    return o;
}

static double Median(IEnumerable<double> values)
{
    var v = values.Order().ToArray();
    return v.Length % 2 == 1 ? v[v.Length / 2] : (v[(v.Length / 2) - 1] + v[v.Length / 2]) / 2;
}

string? Arg(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

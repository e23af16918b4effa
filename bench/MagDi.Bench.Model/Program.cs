// Model benchmark: matmul peak, training throughput and MFU, generation with and without KV cache,
// checkpoint load time and peak memory, for a ~20M-parameter Llama-style model on this machine.
// Usage: dotnet run --project bench/MagDi.Bench.Model -c Release -- [--out FILE.json] [--quick]
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using MagDi.Generation;
using MagDi.Losses;
using MagDi.Modeling;
using MagDi.Runtime;
using MagDi.Testing;
using TorchSharp;
using static TorchSharp.torch;

TorchRuntime.EnsureInitialized();
string outPath = Arg("--out") ?? Path.Combine("artifacts", "bench", "model-bench.json");
bool quick = args.Contains("--quick");
string only = Arg("--only") ?? "all"; // all | matmul | training | generation | decode | load | probe | probe-lora | lengths | serving
if (Arg("--threads") is { } threads)
{
    set_num_threads(int.Parse(threads, System.Globalization.CultureInfo.InvariantCulture));
}

// As the magdi command line and the quickstart do at start-up (--malloc glibc-default leaves glibc's adaptive
// thresholds alone, for before/after comparisons of that choice).
bool keepsFreedMemory = Arg("--malloc") != "glibc-default" && MagDi.Runtime.CpuAllocator.KeepFreedMemory();

if (Arg("--load-only") is { } loadDir)
{
    // Child process: measure loading in a fresh process so peak RSS is not polluted by earlier phases.
    Console.WriteLine(JsonSerializer.Serialize(MeasureLoad(loadDir, Enum.Parse<ScalarType>(Arg("--dtype") ?? "Float32"))));
    return;
}

var config = new ModelConfig
{
    ModelType = "llama",
    VocabSize = 16000,
    HiddenSize = 384,
    IntermediateSize = 1024,
    NumHiddenLayers = 6,
    NumAttentionHeads = 6,
    NumKeyValueHeads = 2,
    MaxPositionEmbeddings = 1024,
    RmsNormEps = 1e-5,
    TieWordEmbeddings = false,
};
long parameters = config.ParameterCount();
if (only == "probe")
{
    Probe(config);
    return;
}

if (only == "probe-step")
{
    ProbeStep(config);
    return;
}

if (only == "probe-lora")
{
    ProbeLora(config);
    return;
}

if (only == "lengths")
{
    // Answer lengths for the serving benchmark: every prediction of the given predictions.jsonl files (a quickstart run's
    // evaluations) tokenized with the student's tokenizer, plus one for its EOS.
    var tokenizer = MagDi.Tokenization.TokenizerLoader.Load(Arg("--tokenizer")!);
    var lengthsOut = new List<int>();
    foreach (string file in Arg("--predictions")!.Split(','))
    {
        foreach (string line in File.ReadLines(file))
        {
            using var doc = JsonDocument.Parse(line);
            lengthsOut.Add(tokenizer.Encode(doc.RootElement.GetProperty("prediction").GetString()!).Count + 1);
        }
    }

    File.WriteAllText(outPath, JsonSerializer.Serialize(lengthsOut));
    Console.WriteLine($"{lengthsOut.Count} lengths, mean {lengthsOut.Average():F1}, max {lengthsOut.Max()} -> {outPath}");
    return;
}

if (only == "serving")
{
    // Issue 18: continuous batching and shared-prompt prefill against the static path (ServingBench.cs).
    string lengths = Arg("--lengths") ?? Path.Combine(AppContext.BaseDirectory, "quickstart-answer-lengths.json");
    int rounds = int.Parse(Arg("--rounds") ?? (quick ? "1" : "3"), System.Globalization.CultureInfo.InvariantCulture);
    JsonObject serving = ServingBench.Run(config, rounds, int.Parse(Arg("--rounds-f32") ?? rounds.ToString(System.Globalization.CultureInfo.InvariantCulture), System.Globalization.CultureInfo.InvariantCulture),
        int.Parse(Arg("--batch") ?? "16", System.Globalization.CultureInfo.InvariantCulture), lengths,
        [.. (Arg("--dtypes") ?? "bf16,f32").Split(',').Select(d => d == "f32" ? ScalarType.Float32 : ScalarType.BFloat16)],
        [.. (Arg("--ks") ?? "1,10").Split(',').Select(k => int.Parse(k, System.Globalization.CultureInfo.InvariantCulture))]);
    serving["machine"] = new JsonObject { ["cpu_count"] = Environment.ProcessorCount, ["cpu_model"] = Machine.CpuModel(), ["load_average_at_end"] = File.ReadAllText("/proc/loadavg").Trim(), ["cpu_allocator_keeps_freed_memory"] = keepsFreedMemory };
    serving["model"] = new JsonObject { ["parameters"] = parameters };
    Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
    File.WriteAllText(outPath, serving.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    Console.WriteLine($"wrote {outPath}");
    return;
}

var report = new JsonObject
{
    ["machine"] = new JsonObject
    {
        ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
        ["cpu_count"] = Environment.ProcessorCount,
        ["torch_threads"] = get_num_threads(),
        ["cpu_model"] = Machine.CpuModel(),
        ["cpu_allocator_keeps_freed_memory"] = keepsFreedMemory,
    },
    ["model"] = new JsonObject { ["parameters"] = parameters, ["config"] = JsonNode.Parse(JsonSerializer.Serialize(config)) },
};
Console.WriteLine($"Model: {parameters / 1e6:F1}M parameters; torch threads {get_num_threads()}");

// 1. Matmul peak (GFLOP/s) per dtype: best single product over a few square and model-shaped products,
//    measured before and again after the training phase (the machine is shared; the best is closest to the hardware).
var peaks = new JsonObject();
void MeasurePeaks()
{
    foreach (ScalarType dt in new[] { ScalarType.Float32, ScalarType.BFloat16 })
    {
        double best = peaks[dt.ToString()] is JsonNode old ? (double)old : 0;
        foreach (var (m, k, n) in new[] { (1024L, 1024L, 1024L), (2048L, 2048L, 2048L), (2048L, 384L, 1024L), (2048L, 1024L, 384L), (2048L, 384L, 16000L) })
        {
            best = Math.Max(best, MatmulGflops(m, k, n, dt, quick ? 3 : 8));
        }

        peaks[dt.ToString()] = Math.Round(best, 1);
        Console.WriteLine($"matmul peak {dt}: {best:F1} GFLOP/s");
    }
}

MeasurePeaks();
report["matmul_peak_gflops"] = peaks;

// 2. Training forward+backward throughput and model-FLOPs utilisation.
var training = new JsonObject();
// --cases Float32,BFloat16,BFloat16_lora_r16 picks training cases (default: all three).
string[]? trainingCases = Arg("--cases")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
foreach (var (dt, lora) in only is "all" or "training" ? new[] { (ScalarType.Float32, false), (ScalarType.BFloat16, false), (ScalarType.BFloat16, true) } : [])
{
    if (trainingCases is not null && !trainingCases.Contains(lora ? dt + "_lora_r16" : dt.ToString()))
    {
        continue;
    }

    const int Batch = 8, Seq = 256;
    using var model = CausalLanguageModel.CreateRandom(config, 1, dtype: dt);
    model.train();
    var trainable = lora
        ? MagDi.Lora.LoraAdapter.Apply(model, new MagDi.Lora.LoraOptions { Rank = 16, Alpha = 32, Dropout = 0.05 }).TrainableParameters.Cast<Tensor>().ToList()
        : model.parameters().Cast<Tensor>().ToList();
    var optimizer = optim.AdamW(trainable.Select(p => (TorchSharp.Modules.Parameter)p), lr: 1e-4);
    using var gen = new Generator(5, CPU);
    // Seq + 1 tokens in, Seq targets: position t predicts token t + 1. The loss is the library's (the trainer's path):
    // hidden states out, the head applied to the target positions, float32 cross-entropy in cache-sized blocks.
    using Tensor ids = randint(0, config.VocabSize, [Batch, Seq + 1], dtype: ScalarType.Int64, generator: gen);
    double Step(bool withOptimizer)
    {
        using var scope = NewDisposeScope();
        var sw = Stopwatch.StartNew();
        Tensor hidden = model.call(new CausalLMInput(ids, OutputHiddenStates: true, LogitsToKeep: 0)).LastHiddenState!;
        Tensor loss = NextTokenLoss.Compute(hidden, ids, model.ComputeLogits).Loss;
        loss.backward();
        if (withOptimizer)
        {
            optimizer.step();
        }

        optimizer.zero_grad();
        return sw.Elapsed.TotalSeconds;
    }

    Step(false);
    Step(false);
    int steps = quick ? 3 : 8;
    // Load-independent diagnostics next to the wall time: process CPU seconds and minor page faults per timed step
    // (a fresh process maps and zeroes new pages for its large tensors until glibc's mmap threshold adapts).
    long faults0 = MinorFaults();
    TimeSpan cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
    var times = Enumerable.Range(0, steps).Select(_ => Step(false)).OrderBy(t => t).ToArray();
    double cpuPerStep = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds / steps;
    double faultsPerStep = (double)(MinorFaults() - faults0) / steps;
    double median = times[times.Length / 2];
    double best = times[0];
    double tokensPerSecond = Batch * Seq / best;
    // Model FLOPs per token (PaLM appendix B): 6 N (matmul params incl. lm_head, excl. embedding lookup) + 12 L T d (attention scores).
    long matmulParams = parameters - ((long)config.VocabSize * config.HiddenSize);
    // With frozen base weights (LoRA) the backward skips weight gradients: 4 N + 8 L T d (adapter FLOPs are negligible).
    double flopsPerToken = lora
        ? (4.0 * matmulParams) + (8.0 * config.NumHiddenLayers * Seq * config.HiddenSize)
        : (6.0 * matmulParams) + (12.0 * config.NumHiddenLayers * Seq * config.HiddenSize);
    double achieved = tokensPerSecond * flopsPerToken / 1e9;
    string key = lora ? dt + "_lora_r16" : dt.ToString();
    training[key] = new JsonObject
    {
        ["batch"] = Batch,
        ["seq_len"] = Seq,
        ["step_seconds_best"] = Math.Round(best, 4),
        ["step_seconds_median"] = Math.Round(median, 4),
        ["tokens_per_second_median"] = Math.Round(Batch * Seq / median, 1),
        ["tokens_per_second"] = Math.Round(tokensPerSecond, 1),
        ["model_gflops_per_second"] = Math.Round(achieved, 1),
        ["dtype"] = dt.ToString(),
        ["cpu_seconds_per_step"] = Math.Round(cpuPerStep, 4),
        ["minor_faults_per_step"] = Math.Round(faultsPerStep, 1),
    };
    Console.WriteLine($"train {key}: {tokensPerSecond:F0} tok/s, {achieved:F1} GFLOP/s, {cpuPerStep:F3} CPU s/step, {faultsPerStep:F0} minor faults/step");
}

if (training.Count > 0)
{
    MeasurePeaks();
    foreach (var (key, node) in training)
    {
        double mfu = (double)node!["model_gflops_per_second"]! / (double)peaks[(string)node["dtype"]!]!;
        node["mfu_vs_matmul_peak"] = Math.Round(mfu, 3);
        Console.WriteLine($"train {key}: MFU {mfu:P1} of the measured matmul peak");
    }
}

report["training_fwd_bwd"] = training;

// 3. Generation: 256 new tokens, greedy, with and without the KV cache; batch 1 and batch 8 (MagDiEvaluator's default
//    batch) after 16-token prompts, and batch 1 after a 128-token prompt (a MAGDi test prompt with a GSM8K-length
//    question is ~80-130 tokens). Without the cache every step recomputes the whole sequence; both modes compute
//    logits only for the last position (TextGenerator asks for LogitsToKeep = 1).
foreach (var (batchSize, promptLength) in only == "decode" ? new[] { (1, 16), (1, 128) } : new[] { (1, 16), (8, 16), (1, 128) })
{
    var generation = new JsonObject();
    foreach (ScalarType dt in only is "all" or "generation" or "decode" ? new[] { ScalarType.Float32, ScalarType.BFloat16 } : [])
    {
        using var model = CausalLanguageModel.CreateRandom(config, 2, dtype: dt);
        var generator = new TextGenerator(model);
        int[][] prompts = [.. Enumerable.Range(0, batchSize).Select(b => Enumerable.Range(0, promptLength).Select(i => 100 + i + (7 * b)).ToArray())];
        var entry = new JsonObject();
        // Best of 3 runs per mode, the modes interleaved so that a change in machine load touches both. The third mode
        // decodes with the cache but with MagDi's CPU decoding kernels switched off (libtorch ops only), to show their share.
        // --only decode measures the cached batch-1 decoding path alone (three runs even with --quick), where the CPU
        // decoding kernels run: a before/after check of them that fits in a few minutes on a loaded machine.
        bool decodeOnly = only == "decode";
        string[] modes = decodeOnly ? ["kv_cache"] : ["kv_cache", "no_cache", "kv_cache_libtorch_only"];
        var runs = modes.ToDictionary(m => m, _ => new List<double>());
        GenerationResult Run(string mode, int tokens)
        {
            AppContext.SetSwitch("MagDi.DisableCpuKernels", mode == "kv_cache_libtorch_only");
            try
            {
                return generator.Generate(prompts, new GenerationOptions { MaxNewTokens = tokens, EosTokenIds = [], UseCache = mode != "no_cache" });
            }
            finally
            {
                AppContext.SetSwitch("MagDi.DisableCpuKernels", false);
            }
        }

        foreach (string mode in modes)
        {
            Run(mode, 4);
        }

        for (int run = 0; run < (quick && !decodeOnly ? 1 : 3); run++)
        {
            foreach (string mode in modes)
            {
                GenerationResult result = Run(mode, quick ? 64 : 256);
                double tps = result.GeneratedTokenCount / result.Elapsed.TotalSeconds;
                runs[mode].Add(Math.Round(tps, 1));
                Console.WriteLine($"generate {dt} batch={batchSize} prompt={promptLength} {mode}: {result.GeneratedTokenCount} tokens in {result.Elapsed.TotalSeconds:F2}s = {tps:F1} tok/s");
            }
        }

        foreach (string mode in modes)
        {
            entry[$"{mode}_tokens_per_second"] = runs[mode].Max();
            entry[$"{mode}_runs"] = new JsonArray([.. runs[mode].Select(v => JsonValue.Create(v))]);
        }

        entry["new_tokens"] = quick ? 64 : 256;
        entry["prompt_tokens"] = promptLength;
        if (!decodeOnly)
        {
            entry["speedup"] = Math.Round(runs["kv_cache"].Max() / runs["no_cache"].Max(), 2);
            entry["speedup_libtorch_only"] = Math.Round(runs["kv_cache_libtorch_only"].Max() / runs["no_cache"].Max(), 2);
        }
        generation[dt.ToString()] = entry;
    }

    report[promptLength == 16 ? $"generation_batch{batchSize}" : $"generation_batch{batchSize}_prompt{promptLength}"] = generation;
}

// 4. Checkpoint loading in a fresh child process (time and peak RSS above the post-initialisation baseline).
string dir = Path.Combine(Path.GetTempPath(), "magdi-bench-ckpt-" + Environment.ProcessId);
using (var model = CausalLanguageModel.CreateRandom(config, 3))
{
    model.SavePretrained(Path.Combine(dir, "f32"), ScalarType.Float32);
    model.SavePretrained(Path.Combine(dir, "bf16"), ScalarType.BFloat16);
}

var loading = new JsonObject();
foreach (var (name, target) in only is not ("all" or "load") ? [] : new[] { ("f32_to_f32", ScalarType.Float32), ("bf16_to_bf16", ScalarType.BFloat16), ("bf16_to_f32", ScalarType.Float32) })
{
    string source = Path.Combine(dir, name.StartsWith("f32", StringComparison.Ordinal) ? "f32" : "bf16");
    var psi = new ProcessStartInfo(Environment.ProcessPath!, [.. ChildArgs(), "--load-only", source, "--dtype", target.ToString()]) { RedirectStandardOutput = true };
    using var child = Process.Start(psi)!;
    string output = child.StandardOutput.ReadToEnd();
    child.WaitForExit();
    JsonNode result = JsonNode.Parse(output.Trim().Split('\n')[^1])!;
    loading[name] = result;
    Console.WriteLine($"load {name}: {result}");
}

report["checkpoint_load"] = loading;
Directory.Delete(dir, recursive: true);
Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(outPath))!);
File.WriteAllText(outPath, report.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
Console.WriteLine($"wrote {outPath}");

string? Arg(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

static string[] ChildArgs()
{
    // When started as "dotnet MagDi.Bench.Model.dll", pass the dll path again.
    string[] cmd = Environment.GetCommandLineArgs();
    return Environment.ProcessPath!.EndsWith("dotnet", StringComparison.Ordinal) ? [cmd[0]] : [];
}

static void Probe(ModelConfig config)
{
    foreach (ScalarType dt in new[] { ScalarType.Float32, ScalarType.BFloat16 })
    {
        using var model = CausalLanguageModel.CreateRandom(config, 1, dtype: dt);
        model.train();
        if (Environment.GetEnvironmentVariable("PROBE_FREEZE_EMBED") == "1")
        {
            model.EmbeddingWeight.requires_grad = false;
        }

        using Tensor ids = randint(0, config.VocabSize, [8, 257], dtype: ScalarType.Int64);
        for (int rep = 0; rep < 4; rep++)
        {
            using var scope = NewDisposeScope();
            var sw = Stopwatch.StartNew();
            Tensor hidden = model.call(new CausalLMInput(ids, OutputHiddenStates: true, LogitsToKeep: 0)).LastHiddenState!;
            double fwd = sw.Elapsed.TotalSeconds;
            sw.Restart();
            Tensor loss = NextTokenLoss.Compute(hidden, ids, model.ComputeLogits).Loss;   // head + cross-entropy
            double ce = sw.Elapsed.TotalSeconds;
            sw.Restart();
            loss.backward();
            double bwd = sw.Elapsed.TotalSeconds;
            model.zero_grad();
            Console.WriteLine($"{dt} layers fwd {fwd:F3}s head+loss fwd {ce:F3}s bwd {bwd:F3}s");
        }

        foreach (bool causal in new[] { true, false })
        {
            for (int rep = 0; rep < 3; rep++)
            {
                using var scope = NewDisposeScope();
                Tensor q = randn(8, 6, 256, 64).to_type(dt).requires_grad_(true);
                Tensor k = randn(8, 6, 256, 64).to_type(dt).requires_grad_(true);
                Tensor v = randn(8, 6, 256, 64).to_type(dt).requires_grad_(true);
                Tensor? mask = causal ? null : ones(256, 256, ScalarType.Bool).tril();
                var sw = Stopwatch.StartNew();
                Tensor y = nn.functional.scaled_dot_product_attention(q, k, v, mask, 0, causal);
                double f = sw.Elapsed.TotalSeconds;
                sw.Restart();
                y.sum().backward();
                Console.WriteLine($"{dt} sdpa causal={causal} fwd {f * 1000:F1} ms bwd {sw.Elapsed.TotalMilliseconds:F1} ms (x6 layers)");
            }
        }

        for (int rep = 0; rep < 3; rep++)
        {
            using var scope = NewDisposeScope();
            Tensor x = randn(2048, 384).to_type(dt).requires_grad_(true);
            Tensor w = ones(384).to_type(dt).requires_grad_(true);
            var sw = Stopwatch.StartNew();
            Tensor x32 = x.to_type(ScalarType.Float32);
            Tensor yy = w * (x32 * rsqrt(x32.pow(2).mean([-1], keepdim: true) + 1e-5)).to_type(dt);
            double f = sw.Elapsed.TotalSeconds;
            sw.Restart();
            yy.sum().backward();
            Console.WriteLine($"{dt} rmsnorm fwd {f * 1000:F2} ms bwd {sw.Elapsed.TotalMilliseconds:F2} ms (x13)");
        }

        foreach (var (name, f) in new (string, Func<Tensor, Tensor, Tensor>)[] { ("NN", (a, b) => a.matmul(b)), ("TN", (a, b) => a.t().matmul(b)), ("NT", (a, b) => a.matmul(b.t())) })
        {
            using var a = randn(2048, 2048).to_type(dt);
            using var b = randn(2048, 2048).to_type(dt);
            f(a, b).Dispose();
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < 4; i++)
            {
                f(a, b).Dispose();
            }

            Console.WriteLine($"{dt} matmul {name}: {2.0 * 2048 * 2048 * 2048 * 4 / sw.Elapsed.TotalSeconds / 1e9:F0} GFLOP/s");
        }
    }
}

// Diagnostics: the forward time of one decoding step (one new token per row, LogitsToKeep 1, attention mask over the
// cache) by rows and attended cache length (25 steps after a prefill of that length), and of a prefill by prompts, bf16:
// the cost model behind the serving benchmark's bounds.
static void ProbeStep(ModelConfig config)
{
    using var model = CausalLanguageModel.CreateRandom(config, 2, dtype: ScalarType.BFloat16);
    // As generation runs it: evaluation mode, no autograd. (With autograd on, the parameters' requires_grad keeps the CPU
    // decoding kernels off, and one- and two-row steps cost twice what they cost when generating.)
    model.eval();
    using var noGrad = no_grad();
    foreach (int length in new[] { 128, 256, 384 })
    {
        foreach (int rows in new[] { 1, 2, 3, 4, 8, 10, 16 })
        {
            using var cache = KvCache.Create(model, rows, length + 26);
            using (var warm = NewDisposeScope())
            {
                model.call(new CausalLMInput(randint(3, config.VocabSize, [rows, length], dtype: ScalarType.Int64), null, cache, LogitsToKeep: 1));
            }

            var times = new List<double>();
            for (int rep = 0; rep < 25; rep++)
            {
                using var scope = NewDisposeScope();
                Tensor ids = randint(3, config.VocabSize, [rows, 1], dtype: ScalarType.Int64);
                Tensor mask = ones([rows, length + rep + 1], dtype: ScalarType.Int64);
                var sw = Stopwatch.StartNew();
                model.call(new CausalLMInput(ids, mask, cache, LogitsToKeep: 1));
                times.Add(sw.Elapsed.TotalMilliseconds);
            }

            times.Sort();
            Console.WriteLine($"step rows={rows,2} attended={length + 1}-{length + 25}: median {times[times.Count / 2]:F2} ms, min {times[0]:F2} ms");
        }
    }

    // The rotary table against cos/sin computed in each forward (what explicit PositionIds still take), alternated step by
    // step in this process: a float32 sin/cos of 128+ elements goes to MKL's threaded vector maths, which woke libtorch's
    // OpenMP team in every two-row step and left its threads spinning against the CPU kernels' workers.
    foreach (int rows in new[] { 1, 2, 3, 16 })
    {
        const int Length = 256, Steps = 80;
        using var cache = KvCache.Create(model, rows, Length + Steps + 1);
        using (var warm = NewDisposeScope())
        {
            model.call(new CausalLMInput(randint(3, config.VocabSize, [rows, Length], dtype: ScalarType.Int64), null, cache, LogitsToKeep: 1));
        }

        var table = new List<double>();
        var computed = new List<double>();
        for (int rep = 0; rep < Steps; rep++)
        {
            using var scope = NewDisposeScope();
            Tensor ids = randint(3, config.VocabSize, [rows, 1], dtype: ScalarType.Int64);
            Tensor mask = ones([rows, Length + rep + 1], dtype: ScalarType.Int64);
            Tensor? positions = rep % 2 == 1 ? full([rows, 1], Length + rep, dtype: ScalarType.Int64) : null;
            var sw = Stopwatch.StartNew();
            model.call(new CausalLMInput(ids, mask, cache, PositionIds: positions, LogitsToKeep: 1));
            (positions is null ? table : computed).Add(sw.Elapsed.TotalMilliseconds);
        }

        table.Sort();
        computed.Sort();
        Console.WriteLine($"rotary rows={rows,2} attended={Length + 1}-{Length + Steps}: table median {table[table.Count / 2]:F2} ms, per-forward cos/sin median {computed[computed.Count / 2]:F2} ms");
    }

    // Prefill of prompts of 128 tokens, as the continuous path groups them (a few at a time) and the static path does (16).
    foreach (int prompts in new[] { 1, 4, 16 })
    {
        var times = new List<double>();
        for (int rep = 0; rep < 6; rep++)
        {
            using var scope = NewDisposeScope();
            using var cache = KvCache.Create(model, prompts, 129);
            Tensor ids = randint(3, config.VocabSize, [prompts, 128], dtype: ScalarType.Int64);
            var sw = Stopwatch.StartNew();
            model.call(new CausalLMInput(ids, null, cache, LogitsToKeep: 1));
            times.Add(sw.Elapsed.TotalMilliseconds);
        }

        times.Sort();
        Console.WriteLine($"prefill prompts={prompts,2} length=128: median {times[times.Count / 2]:F1} ms ({times[times.Count / 2] / prompts:F1} ms per prompt), min {times[0]:F1} ms");
    }
}

// The bf16 + LoRA r16 step split into its parts, and the LoRA branch of one projection alone (diagnostics).
static void ProbeLora(ModelConfig config)
{
    using var model = CausalLanguageModel.CreateRandom(config, 1, dtype: ScalarType.BFloat16);
    model.train();
    var adapter = MagDi.Lora.LoraAdapter.Apply(model, new MagDi.Lora.LoraOptions { Rank = 16, Alpha = 32, Dropout = 0.05 });
    if (Environment.GetEnvironmentVariable("PROBE_MICRO") == "1")
    {
        Micro();
        return;
    }

    using Tensor ids = randint(0, config.VocabSize, [8, 257], dtype: ScalarType.Int64);
    // Alternates the default path with the one an AppContext switch turns off (PROBE_SWITCH; default
    // MagDi.DisableCpuTrainingKernels: the C# bf16 cross-entropy and the fused LoRA dropout; MagDi.DisableFusedBackward
    // turns off every fused training node), and prints the best of each next to every step.
    var best = new Dictionary<bool, double[]> { [false] = [99, 99, 99, 99, 99], [true] = [99, 99, 99, 99, 99] };
    int reps = int.Parse(Environment.GetEnvironmentVariable("PROBE_REPS") ?? "6", System.Globalization.CultureInfo.InvariantCulture);
    string probeSwitch = Environment.GetEnvironmentVariable("PROBE_SWITCH") ?? "MagDi.DisableCpuTrainingKernels";
    Console.WriteLine($"'unfused' = {probeSwitch} set");
    for (int rep = 0; rep < 2 * reps; rep++)
    {
        bool unfused = rep % 2 == 1;
        AppContext.SetSwitch(probeSwitch, unfused);
        using var scope = NewDisposeScope();
        var sw = Stopwatch.StartNew();
        TimeSpan cpu0 = Process.GetCurrentProcess().TotalProcessorTime;
        Tensor hidden = model.call(new CausalLMInput(ids, OutputHiddenStates: true, LogitsToKeep: 0)).LastHiddenState!;
        double fwd = sw.Elapsed.TotalSeconds;
        sw.Restart();
        Tensor loss = NextTokenLoss.Compute(hidden, ids, model.ComputeLogits).Loss;
        double ce = sw.Elapsed.TotalSeconds;
        sw.Restart();
        loss.backward();
        double bwd = sw.Elapsed.TotalSeconds;
        double cpu = (Process.GetCurrentProcess().TotalProcessorTime - cpu0).TotalSeconds;
        model.zero_grad();
        double[] b = best[unfused];
        (b[0], b[1], b[2], b[3], b[4]) = (Math.Min(b[0], fwd), Math.Min(b[1], ce), Math.Min(b[2], bwd), Math.Min(b[3], fwd + ce + bwd), Math.Min(b[4], cpu));
        Console.WriteLine($"bf16+lora {(unfused ? "unfused" : "fused  ")} layers fwd {fwd:F3}s head+loss fwd {ce:F3}s bwd {bwd:F3}s total {fwd + ce + bwd:F3}s process CPU {cpu:F3}s");
    }

    AppContext.SetSwitch(probeSwitch, false);
    foreach (var (unfused, b) in best)
    {
        Console.WriteLine($"best {(unfused ? "unfused" : "fused  ")}: layers fwd {b[0]:F3}s head+loss fwd {b[1]:F3}s bwd {b[2]:F3}s total {b[3]:F3}s process CPU {b[4]:F3}s");
    }

    // One q_proj with and without its adapter: forward + backward to the input and the adapter weights.
    var layer = adapter.Layers[0].Layer;
    foreach (string mode in new[] { "base only", "lora" })
    {
        for (int rep = 0; rep < 4; rep++)
        {
            using var scope = NewDisposeScope();
            Tensor x = randn(8, 257, 384).to_type(ScalarType.BFloat16).requires_grad_(true);
            var sw = Stopwatch.StartNew();
            Tensor y = mode == "lora" ? layer.call(x) : nn.functional.linear(x, layer.Weight);
            double f = sw.Elapsed.TotalSeconds;
            Tensor g = ones_like(y);
            sw.Restart();
            y.backward([g]);
            Console.WriteLine($"q_proj {mode}: fwd {f * 1000:F2} ms bwd {sw.Elapsed.TotalMilliseconds:F2} ms (x12 per step)");
            layer.zero_grad();
        }
    }
}

static void Micro()
{
    var bf = ScalarType.BFloat16;
    // Best of 15 forward and backward passes of f from fresh leaves that require grad (one per input), printed under label.
    void TimeForwardBackward(string label, Func<Tensor[], Tensor> f, params Tensor[] inputs)
    {
        double bf1 = double.MaxValue, bb = double.MaxValue;
        for (int rep = 0; rep < 15; rep++)
        {
            using var scope = NewDisposeScope();
            Tensor[] leaves = [.. inputs.Select(t => t.detach().requires_grad_(true))];
            var sw = Stopwatch.StartNew();
            Tensor y = f(leaves);
            double fw = sw.Elapsed.TotalSeconds;
            Tensor g = ones_like(y);
            sw.Restart();
            y.backward([g]);
            bb = Math.Min(bb, sw.Elapsed.TotalSeconds);
            bf1 = Math.Min(bf1, fw);
        }

        Console.WriteLine($"{label}: fwd {bf1 * 1000:F2} ms bwd {bb * 1000:F2} ms");
    }

    void Time(string name, Func<Tensor, Tensor> f, Tensor xin) => TimeForwardBackward($"micro {name}", x => f(x[0]), xin);

    using Tensor x = randn(8, 257, 384).to_type(bf);
    using Tensor w = randn(384, 384).to_type(bf) * 0.05;
    using Tensor w1 = randn(1024, 384).to_type(bf) * 0.05;
    using Tensor nw = ones(384).to_type(bf);
    // PROBE_GEMM=1: the step's matrix products at 1 and 2 threads (how well each splits over the team).
    if (Environment.GetEnvironmentVariable("PROBE_GEMM") == "1")
    {
        long m = int.Parse(Environment.GetEnvironmentVariable("PROBE_M") ?? "2056", System.Globalization.CultureInfo.InvariantCulture);
        foreach (var (name, k, n) in new[] { ("q/o 384x384", 384L, 384L), ("k/v 384->128", 384L, 128L), ("k/v bwd 128->384", 128L, 384L), ("gate/up 384->1024", 384L, 1024L), ("down 1024->384", 1024L, 384L), ("lora A 384->16", 384L, 16L), ("lora B 16->384", 16L, 384L), ("lora B 16->128", 16L, 128L) })
        {
            using Tensor a = randn(m, k).to_type(bf), b = randn(n, k).to_type(bf);
            double[] best = [0, 0];
            for (int round = 0; round < 3; round++)
            {
                foreach (int t in new[] { 1, 2 })
                {
                    set_num_threads(t);
                    double bt = double.MaxValue;
                    for (int rep = 0; rep < 30; rep++)
                    {
                        var sw = Stopwatch.StartNew();
                        using Tensor y = nn.functional.linear(a, b);
                        bt = Math.Min(bt, sw.Elapsed.TotalMilliseconds);
                    }

                    best[t - 1] = round == 0 ? bt : Math.Min(best[t - 1], bt);
                }
            }

            Console.WriteLine($"gemm M={m} {name}: 1 thread {best[0]:F3} ms, 2 threads {best[1]:F3} ms, speed-up {best[0] / best[1]:F2}, GFLOP/s at 2 {2.0 * m * k * n / best[1] / 1e6:F0}");
        }

        set_num_threads(2);
        return;
    }

    // PROBE_BRANCH=1: one projection's LoRA branch (x [2056,384] bf16, r 16) in pieces, forward + backward to x, A and B.
    if (Environment.GetEnvironmentVariable("PROBE_BRANCH") == "1")
    {
        using Tensor xb = randn(2056, 384).to_type(bf);
        using Tensor wb = (randn(384, 384) * 0.05).to_type(bf);
        using Tensor keep = (rand(2056, 384) > 0.05).to_type(bf);
        using Tensor a0 = randn(16, 384) * 0.05;
        using Tensor b0 = randn(384, 16) * 0.05;
        for (int round = 0; round < 2; round++)
        {
            TimeForwardBackward("branch base only", t => nn.functional.linear(t[0], wb), xb);
            TimeForwardBackward("branch base + lora, no dropout", t => nn.functional.linear(t[0], wb) + t[0].matmul(t[1].to_type(bf).t()).matmul(t[2].to_type(bf).t()), xb, a0, b0);
            TimeForwardBackward("branch base + lora, x*keep (today)", t => nn.functional.linear(t[0], wb) + (t[0] * keep).matmul(t[1].to_type(bf).t()).matmul(t[2].to_type(bf).t()), xb, a0, b0);
            TimeForwardBackward("branch base + lora, addmm", t => nn.functional.linear(t[0], wb).addmm((t[0] * keep).matmul(t[1].to_type(bf).t()), t[2].to_type(bf).t()), xb, a0, b0);
            TimeForwardBackward("branch x*keep only", t => t[0] * keep, xb);
            TimeForwardBackward("branch x@A^T only", t => t[0].matmul(t[1].to_type(bf).t()), xb, a0);
            TimeForwardBackward("branch z@B^T only", t => t[0].matmul(t[1].to_type(bf).t()), xb.narrow(1, 0, 16).contiguous(), b0);
            TimeForwardBackward("branch y + d only", t => t[0] + t[1], xb, xb);
        }

        return;
    }

    // PROBE_HEAD=2: the loss of one head block (bf16 logits [512, 16000]), C# kernel against libtorch's float32 blocks, alternated.
    if (Environment.GetEnvironmentVariable("PROBE_HEAD") == "2")
    {
        using Tensor block = (randn(513, 16000) * 3).to_type(bf);
        using Tensor blockLabels = randint(0, 16000, [1, 513], dtype: ScalarType.Int64);
        for (int round = 0; round < 3; round++)
        {
            foreach (bool old in new[] { false, true })
            {
                AppContext.SetSwitch("MagDi.DisableCpuTrainingKernels", old);
                Time($"loss of [512,16000] bf16 logits, {(old ? "libtorch f32 blocks" : "C# bf16 kernel    ")}", t => MagDi.Losses.NextTokenLoss.Compute(t.unsqueeze(0), blockLabels).Loss, block);
            }
        }

        AppContext.SetSwitch("MagDi.DisableCpuTrainingKernels", false);
        return;
    }

    // PROBE_HEAD=1: the output head [2048,384] x [16000,384]ᵀ whole and in row blocks, and the loss (docs/performance.md, LoRA section).
    if (Environment.GetEnvironmentVariable("PROBE_HEAD") == "1")
    {
        using Tensor hid0 = randn(2048, 384).to_type(bf);
        using Tensor head0 = (randn(16000, 384) * 0.02).to_type(bf);
        using Tensor headT = head0.t().contiguous();
        using Tensor lab = randint(0, 16000, [2048], dtype: ScalarType.Int64);
        Time("head F.linear [16000,384]", t => nn.functional.linear(t, head0), hid0);
        Time("head F.linear x4 blocks of 512 (cat)", t => cat(t.split(512).Select(c => nn.functional.linear(c, head0)).ToList(), 0), hid0);
        Time("head F.linear x4 blocks of 512 (sum of outputs, no cat)", t => stack(t.split(512).Select(c => nn.functional.linear(c, head0).sum()).ToList()), hid0);
        Time("head F.linear x16 blocks of 128 (sum)", t => stack(t.split(128).Select(c => nn.functional.linear(c, head0).sum()).ToList()), hid0);
        Time("head F.linear x32 blocks of 64 (sum)", t => stack(t.split(64).Select(c => nn.functional.linear(c, head0).sum()).ToList()), hid0);
        Time("head matmul W^T view", t => t.matmul(head0.t()), hid0);
        Time("head matmul W^T contiguous", t => t.matmul(headT), hid0);
        Time("head chunked CE (F.linear + logsumexp blocks)", t => MagDi.Losses.NextTokenLoss.Compute(nn.functional.linear(t, head0).unsqueeze(0), cat([zeros(1, ScalarType.Int64), lab]).narrow(0, 0, 2048).unsqueeze(0)).Loss, hid0);
        using Tensor logits0 = nn.functional.linear(hid0, head0);
        Time("logsumexp f32 [2048,16000]", t => t.to_type(ScalarType.Float32).logsumexp(-1), logits0);
        return;
    }

    // PROBE_ATTN=2: one layer's bf16 attention (forward + backward from q, k, v) in the variants weighed for the eager kernel.
    if (Environment.GetEnvironmentVariable("PROBE_ATTN") == "2")
    {
        using Tensor q0 = randn(8, 6, 257, 64).to_type(bf);
        using Tensor k0 = randn(8, 2, 257, 64).to_type(bf);
        using Tensor v0 = randn(8, 2, 257, 64).to_type(bf);
        using Tensor causal = ones(257, 257, ScalarType.Bool).tril().unsqueeze(0).unsqueeze(0);
        using Tensor notCausal = causal.logical_not();
        Tensor Rep(Tensor x) => x.unsqueeze(2).expand(8, 2, 3, 257, 64).reshape(8, 6, 257, 64);
        void TimeAttn(string name, Func<Tensor, Tensor, Tensor, Tensor> f) =>
            TimeForwardBackward($"attn {name}", x => f(x[0], x[1], x[2]), q0, k0, v0);

        TimeAttn("HF eager (before)", (q, k, v) => nn.functional.softmax(q.matmul(Rep(k).transpose(-1, -2)).mul(0.125).masked_fill(causal.logical_not(), double.NegativeInfinity), -1, ScalarType.Float32).to(bf).matmul(Rep(v)));
        TimeAttn("matmuls only (floor)", (q, k, v) => q.matmul(Rep(k).transpose(-1, -2)).matmul(Rep(v)));
        TimeAttn("sdpa causal", (q, k, v) => nn.functional.scaled_dot_product_attention(q, Rep(k), Rep(v), null, 0, true));
        TimeAttn("eager q*s, fill_ nograd, f32 softmax", (q, k, v) =>
        {
            Tensor s = q.mul(0.125).matmul(Rep(k).transpose(-1, -2));
            using (no_grad()) { s.masked_fill_(notCausal, double.NegativeInfinity); }
            return nn.functional.softmax(s, -1, ScalarType.Float32).to(bf).matmul(Rep(v));
        });
        TimeAttn("eager q*s, fill_ nograd, bf16 softmax", (q, k, v) =>
        {
            Tensor s = q.mul(0.125).matmul(Rep(k).transpose(-1, -2));
            using (no_grad()) { s.masked_fill_(notCausal, double.NegativeInfinity); }
            return nn.functional.softmax(s, -1).matmul(Rep(v));
        });
        TimeAttn("eager grouped q*s, fill_ nograd, bf16 softmax", (q, k, v) =>
        {
            Tensor s = q.mul(0.125).reshape(8, 2, 3 * 257, 64).matmul(k.transpose(-1, -2));       // [B,KvH,G*T,S]
            using (no_grad()) { s.view(8, 2, 3, 257, 257).masked_fill_(notCausal.unsqueeze(0), double.NegativeInfinity); }
            return nn.functional.softmax(s, -1).matmul(v).view(8, 6, 257, 64);
        });
        TimeAttn("eager s*mul, masked_fill, bf16 softmax", (q, k, v) =>
        {
            Tensor s = q.matmul(Rep(k).transpose(-1, -2)).mul(0.125);
            return nn.functional.softmax(s.masked_fill(notCausal, double.NegativeInfinity), -1).matmul(Rep(v));
        });
        return;
    }

    if (Environment.GetEnvironmentVariable("PROBE_ATTN") == "1")
    {
        using Tensor qq = randn(8, 6, 257, 64).to_type(bf);
        using Tensor mm = ones(257, 257, ScalarType.Bool).tril().unsqueeze(0).unsqueeze(0);
        using Tensor sc = qq.matmul(qq.transpose(-1, -2));
        using Tensor nm = mm.logical_not();
        Time("softmax: mul, masked_fill, f32 softmax, to bf16 (today)", t => nn.functional.softmax(t.mul(0.125).masked_fill(nm, double.NegativeInfinity), -1, ScalarType.Float32).to(bf), sc);
        Time("softmax: masked_fill, f32 softmax, to bf16 (no mul)", t => nn.functional.softmax(t.masked_fill(nm, double.NegativeInfinity), -1, ScalarType.Float32).to(bf), sc);
        Time("softmax: masked_fill, bf16 softmax", t => nn.functional.softmax(t.masked_fill(nm, double.NegativeInfinity), -1), sc);
        Time("softmax: bf16 softmax only", t => nn.functional.softmax(t, -1), sc);
        Time("softmax: f32 softmax only", t => nn.functional.softmax(t, -1, ScalarType.Float32), sc);
        Time("masked_fill only", t => t.masked_fill(nm, double.NegativeInfinity), sc);
        Time("to f32 only", t => t.to_type(ScalarType.Float32), sc);
        return;
    }

    Time("linear 384x384", t => nn.functional.linear(t, w), x);
    Time("linear 384->1024", t => nn.functional.linear(t, w1), x);
    Time("rmsnorm", t => { Tensor x32 = t.to_type(ScalarType.Float32); return nw * (x32 * rsqrt(x32.pow(2).mean([-1], keepdim: true) + 1e-5)).to_type(bf); }, x);
    using Tensor a16 = randn(16, 384).to_type(bf);
    using Tensor b16 = randn(384, 16).to_type(bf);
    using Tensor z16 = randn(2056, 16).to_type(bf);
    using Tensor a32 = randn(16, 384);
    using Tensor z32 = randn(2056, 16);
    using Tensor x32 = randn(2056, 384);
    using Tensor x2 = x.reshape(-1, 384);
    Time("x@A^T bf16 (A^T view)", t => t.matmul(a16.t()), x2);
    Time("x@A^T bf16 (A^T contiguous)", t => t.matmul(a16.t().contiguous()), x2);
    Time("x@A^T f32", t => t.matmul(a32.t()), x32);
    Time("z@B^T bf16", t => t.matmul(b16.t()), z16);
    Time("z@B^T f32", t => t.matmul(randn(384, 16).t()), z32);
    Time("gA: z^T@x bf16", t => t.t().matmul(x2), z16);
    Time("gA: z^T@x f32", t => t.t().matmul(x32), z32);
    Time("x*mask bf16", t => t * x, x);
    using Tensor q = randn(8, 6, 257, 64).to_type(bf);
    using Tensor h = randn(8, 257, 1024).to_type(bf);
    Time("silu*up", t => nn.functional.silu(t) * h, h);
    using Tensor cos = randn(8, 1, 257, 64).to_type(bf);
    Time("rope", t => { long half = 32; Tensor x1 = t.narrow(-1, 0, half), x2 = t.narrow(-1, half, half); return (t * cos) + (cat([-x2, x1], -1) * cos); }, q);
    using Tensor mask = ones(257, 257, ScalarType.Bool).tril().unsqueeze(0).unsqueeze(0);
    using Tensor scores0 = q.matmul(q.transpose(-1, -2));
    Time("eager attn", t => { Tensor s = t.matmul(q.transpose(-1, -2)).mul(0.125); Tensor p = nn.functional.softmax(s.masked_fill(mask.logical_not(), double.NegativeInfinity), -1, ScalarType.Float32); return p.to(bf).matmul(q); }, q);
    Time("attn qk", t => t.matmul(q.transpose(-1, -2)), q);
    Time("attn masked softmax", t => nn.functional.softmax(t.mul(0.125).masked_fill(mask.logical_not(), double.NegativeInfinity), -1, ScalarType.Float32).to(bf), scores0);
    Time("attn pv", t => t.matmul(q), scores0);
    using Tensor notMask = mask.logical_not();
    Time("softmax: masked_fill, f32 softmax, to bf16 (no mul)", t => nn.functional.softmax(t.masked_fill(notMask, double.NegativeInfinity), -1, ScalarType.Float32).to(bf), scores0);
    Time("softmax: masked_fill, bf16 softmax", t => nn.functional.softmax(t.masked_fill(notMask, double.NegativeInfinity), -1), scores0);
    Time("softmax: bf16 softmax only", t => nn.functional.softmax(t, -1), scores0);
    Time("softmax: f32 softmax only", t => nn.functional.softmax(t, -1, ScalarType.Float32), scores0);
    Time("masked_fill only", t => t.masked_fill(notMask, double.NegativeInfinity), scores0);
    using Tensor kv = randn(8, 2, 257, 64).to_type(bf);
    Time("repeat kv", t => t.unsqueeze(2).expand(8, 2, 3, 257, 64).reshape(8, 6, 257, 64), kv);
    using Tensor logits = randn(2048, 16000).to_type(bf);
    using Tensor labels = randint(0, 16000, [2048], dtype: ScalarType.Int64);
    Time("ce f32 [2048,16000]", t => nn.functional.cross_entropy(t.to_type(ScalarType.Float32), labels), logits);
    using Tensor hid = randn(2048, 384).to_type(bf);
    using Tensor head = randn(16000, 384).to_type(bf);
    Time("head 2048x384x16000", t => nn.functional.linear(t, head), hid);
    Time("transpose-reshape", t => t.transpose(1, 2).reshape(8, 257, 384), q);
}

static double MatmulGflops(long m, long k, long n, ScalarType dt, int reps)
{
    using var a = randn([m, k]).to_type(dt);
    using var b = randn([k, n]).to_type(dt);
    for (int i = 0; i < 2; i++)
    {
        using var warm = a.matmul(b);
    }

    // Best single repetition: the machine is shared, and the fastest run is the closest to what the hardware does.
    double best = double.MaxValue;
    for (int i = 0; i < reps; i++)
    {
        var sw = Stopwatch.StartNew();
        using var c = a.matmul(b);
        best = Math.Min(best, sw.Elapsed.TotalSeconds);
    }

    return 2.0 * m * k * n / best / 1e9;
}

static JsonObject MeasureLoad(string dir, ScalarType dtype)
{
    // Warm libtorch up (thread pools, allocator, kernels) with a tiny model so the baseline excludes one-off costs.
    using (var tiny = CausalLanguageModel.CreateRandom(new ModelConfig { VocabSize = 64, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 1, NumAttentionHeads = 2, MaxPositionEmbeddings = 16 }, 0, dtype: dtype))
    using (var warmIds = zeros([1, 4], ScalarType.Int64))
    using (no_grad())
    {
        tiny.call(new CausalLMInput(warmIds)).Logits.Dispose();
    }

    long baseline = Rss("VmRSS");
    TryResetPeak();
    var sw = Stopwatch.StartNew();
    using var model = CausalLanguageModel.FromPretrained(dir, new ModelLoadOptions { DType = dtype });
    double seconds = sw.Elapsed.TotalSeconds;
    long peak = Rss("VmHWM");
    long modelBytes = model.parameters().Sum(p => p.numel() * p.ElementSize);
    return new JsonObject
    {
        ["seconds"] = Math.Round(seconds, 3),
        ["model_bytes"] = modelBytes,
        ["peak_rss_increase_bytes"] = peak - baseline,
        ["peak_over_model_size"] = Math.Round((double)(peak - baseline) / modelBytes, 2),
        ["checkpoint_bytes"] = new FileInfo(Path.Combine(dir, "model.safetensors")).Length,
    };
}

// Minor page faults of this process so far (/proc/self/stat field 10), or 0 where /proc is absent.
static long MinorFaults()
{
    try
    {
        string stat = File.ReadAllText("/proc/self/stat");
        string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
        return long.Parse(fields[7], System.Globalization.CultureInfo.InvariantCulture); // field 10 = index 7 after "pid (comm) "
    }
    catch (IOException)
    {
        return 0;
    }
}

static long Rss(string field)
{
    foreach (string line in File.ReadLines("/proc/self/status"))
    {
        if (line.StartsWith(field + ":", StringComparison.Ordinal))
        {
            return long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]) * 1024;
        }
    }

    return 0;
}

static void TryResetPeak()
{
    try
    {
        File.WriteAllText("/proc/self/clear_refs", "5");
    }
    catch (IOException)
    {
    }
    catch (UnauthorizedAccessException)
    {
    }
}

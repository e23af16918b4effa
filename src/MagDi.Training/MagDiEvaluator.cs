using System.Diagnostics;
using System.Text.Json;
using MagDi.Generation;
using MagDi.IO;
using MagDi.Modeling;
using MagDi.Runtime;
using MagDi.Tasks;
using MagDi.Tokenization;

namespace MagDi.Training;

/// <summary>How the student decodes at test time.</summary>
public enum DecodingStrategy
{
    /// <summary>Greedy decoding (deterministic).</summary>
    Greedy,

    /// <summary>The paper's evaluation sampling: temperature 0.7, top-p 0.9, top-k 50.</summary>
    Paper,
}

/// <summary>Settings of <see cref="MagDiEvaluator"/>.</summary>
public sealed class EvaluationOptions
{
    /// <summary>Greedy (default) or the paper's sampling.</summary>
    public DecodingStrategy Decoding { get; set; } = DecodingStrategy.Greedy;

    /// <summary>Most tokens generated per answer. Default 300 (paper; use 700 for MATH).</summary>
    public int MaxNewTokens { get; set; } = 300;

    /// <summary>Samples per question for self-consistency (majority vote over extracted answers); 1 turns it off. Default 1.</summary>
    public int Samples { get; set; } = 1;

    /// <summary>Questions generated together (left-padded batch). Default 8.</summary>
    public int BatchSize { get; set; } = 8;

    /// <summary>Seed of sampling. Default 0.</summary>
    public long Seed { get; set; }

    /// <summary>Evaluate only the first N questions; null for all.</summary>
    public int? Limit { get; set; }

    /// <summary>Prompt format (<c>auto</c>, mistral, llama2-chat, chatml, plain); must match what the student was trained with.</summary>
    public string PromptFormat { get; set; } = "auto";

    /// <summary>
    /// A task prefix put before the question, for students trained on prefixed tasks: <c>[label]</c>
    /// (<see cref="Losses.StepByStepLoss.LabelPrefix"/>) for a DSS-MT student, which answers without a rationale. Default
    /// null (no prefix).
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? TaskPrefix { get; set; }

    internal void Validate()
    {
        var problems = new List<string>();
        if (MaxNewTokens < 1) problems.Add($"MaxNewTokens must be at least 1 (got {MaxNewTokens}).");
        if (Samples < 1) problems.Add($"Samples must be at least 1 (got {Samples}).");
        if (Samples > 1 && Decoding == DecodingStrategy.Greedy) problems.Add("Self-consistency (Samples > 1) needs sampling: set Decoding = Paper.");
        if (BatchSize < 1) problems.Add($"BatchSize must be at least 1 (got {BatchSize}).");
        if (Limit is < 1) problems.Add($"Limit must be at least 1 when set (got {Limit}).");
        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid evaluation options: " + string.Join(" ", problems));
        }
    }
}

/// <summary>One evaluated question.</summary>
/// <param name="Id">Question id.</param>
/// <param name="Gold">Gold answer.</param>
/// <param name="Output">The student's generated text (the first sample with self-consistency).</param>
/// <param name="Answer">The extracted (voted) answer, or null when none could be extracted.</param>
/// <param name="IsCorrect">Whether the answer matches the gold answer under the task's rules.</param>
/// <param name="GeneratedTokens">Tokens generated for this question (all samples).</param>
/// <param name="Votes">Votes per answer with self-consistency; null otherwise.</param>
public sealed record EvaluatedQuestion(string Id, string Gold, string Output, string? Answer, bool IsCorrect, int GeneratedTokens, IReadOnlyDictionary<string, int>? Votes);

/// <summary>Accuracy of a student on a set of questions.</summary>
/// <param name="Task">Task name.</param>
/// <param name="Count">Questions evaluated.</param>
/// <param name="Correct">Questions answered correctly.</param>
/// <param name="AverageGeneratedTokens">Mean tokens generated per question (per sample).</param>
/// <param name="Duration">Wall time.</param>
/// <param name="Questions">Every question's outcome, in input order.</param>
public sealed record EvaluationResult(string Task, int Count, int Correct, double AverageGeneratedTokens, TimeSpan Duration, IReadOnlyList<EvaluatedQuestion> Questions)
{
    /// <summary>Fraction answered correctly (0 when nothing was evaluated).</summary>
    public double Accuracy => Count == 0 ? 0 : (double)Correct / Count;
}

/// <summary>
/// Zero-shot evaluation of a student, as at MAGDi's test time: the student sees only the question (the same prompt as in
/// training up to <c>### Answer:</c>), generates alone, and the task's answer logic scores the extracted answer.
/// </summary>
public sealed class MagDiEvaluator
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };
    private readonly CausalLanguageModel _model;
    private readonly ITextTokenizer _tokenizer;
    private readonly EvaluationOptions _options;
    private readonly MagDiPromptTemplate _template;

    /// <summary>Creates an evaluator for a student (with or without an applied adapter).</summary>
    /// <exception cref="ArgumentException">The options are invalid.</exception>
    public MagDiEvaluator(CausalLanguageModel model, ITextTokenizer tokenizer, EvaluationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        _options = options ?? new EvaluationOptions();
        _options.Validate();
        _model = model;
        _tokenizer = tokenizer;
        _template = new MagDiPromptTemplate(MagDiTrainer.ResolvePromptFormat(_options.PromptFormat, tokenizer));
    }

    /// <summary>Generates an answer for every question and scores it.</summary>
    /// <param name="questions">Questions of one task, with gold answers.</param>
    /// <param name="progress">Receives the number of questions done after each batch.</param>
    /// <param name="cancellationToken">Stops between batches.</param>
    /// <exception cref="ArgumentException">The questions mix tasks or name an unknown task.</exception>
    /// <exception cref="NonFiniteException">The student's logits hold NaN or infinite values (for example damaged weights); the message names the questions, the step and the non-finite weights.</exception>
    public Task<EvaluationResult> EvaluateAsync(IEnumerable<Question> questions, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(questions);
        List<Question> list = [.. questions];
        if (_options.Limit is int limit)
        {
            list = [.. list.Take(limit)];
        }

        return Task.Factory.StartNew(() => Evaluate(list, progress, cancellationToken), cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    /// <summary>
    /// Writes <c>predictions.jsonl</c> (readable by <see cref="Scoring"/>) and <c>metrics.json</c> into
    /// <paramref name="directory"/>, each atomically (<see cref="AtomicFile"/>), after removing temporary files a killed
    /// run left there.
    /// </summary>
    public static async Task WriteAsync(EvaluationResult result, string directory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(result);
        Directory.CreateDirectory(directory);
        AtomicFile.DeleteLeftovers(directory, "predictions.jsonl");
        AtomicFile.DeleteLeftovers(directory, "metrics.json");
        await Scoring.WritePredictionsAsync(
            Path.Combine(directory, "predictions.jsonl"),
            result.Questions.Select(q => new Prediction(q.Id, q.Output, q.Answer)),
            cancellationToken).ConfigureAwait(false);
        var metrics = new Dictionary<string, object>
        {
            ["task"] = result.Task,
            ["count"] = result.Count,
            ["correct"] = result.Correct,
            ["accuracy"] = result.Accuracy,
            ["average_generated_tokens"] = result.AverageGeneratedTokens,
            ["duration_seconds"] = result.Duration.TotalSeconds,
        };
        await AtomicFile.WriteAllTextAsync(
            Path.Combine(directory, "metrics.json"),
            JsonSerializer.Serialize(metrics, Indented),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Decodes generated ids; ids past the tokenizer's vocabulary (checkpoints often pad the embedding matrix) have no text
    /// and are skipped rather than failing the whole evaluation.
    /// </summary>
    private string Decode(IReadOnlyList<int> ids) =>
        _tokenizer.Decode(ids.Where(id => id < _tokenizer.VocabularySize), skipSpecialTokens: true);

    private EvaluationResult Evaluate(List<Question> questions, IProgress<int>? progress, CancellationToken cancellationToken)
    {
        TorchRuntime.EnsureInitialized();
        if (questions.Count == 0)
        {
            return new EvaluationResult("none", 0, 0, 0, TimeSpan.Zero, []);
        }

        var taskNames = questions.Select(q => q.Task).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        if (taskNames.Count > 1)
        {
            throw new ArgumentException($"Evaluate one task at a time; the questions mix {string.Join(", ", taskNames)}.", nameof(questions));
        }

        ReasoningTask task = ReasoningTasks.Get(taskNames[0]);
        var stopwatch = Stopwatch.StartNew();
        bool wasTraining = _model.training;
        _model.eval();
        var generator = new TextGenerator(_model);
        var eos = new List<int>();
        if (_tokenizer.Special.EosId is int e) eos.Add(e);
        eos.AddRange(_model.Config.EosTokenIds.Where(id => !eos.Contains(id)));
        var results = new List<EvaluatedQuestion>(questions.Count);
        long generated = 0;
        int k = _options.Samples;
        int questionsPerBatch = Math.Max(1, _options.BatchSize / k);
        try
        {
            foreach (Question[] chunk in questions.Chunk(questionsPerBatch))
            {
                cancellationToken.ThrowIfCancellationRequested();
                var prompts = new List<IReadOnlyList<int>>(chunk.Length * k);
                foreach (Question q in chunk)
                {
                    string prompt = _template.RenderPrompt(task, q, _options.TaskPrefix);
                    IReadOnlyList<int> ids = _tokenizer.TokenizeExample(new RenderedExample(prompt, string.Empty), appendEos: false).Ids;
                    for (int s = 0; s < k; s++)
                    {
                        prompts.Add(ids);
                    }
                }

                var generation = new GenerationOptions
                {
                    MaxNewTokens = _options.MaxNewTokens,
                    EosTokenIds = eos,
                    PadTokenId = _tokenizer.Special.PadId ?? eos.FirstOrDefault(),
                    Seed = _options.Seed + results.Count,
                };
                if (_options.Decoding == DecodingStrategy.Paper)
                {
                    generation.Temperature = 0.7;
                    generation.TopP = 0.9;
                    generation.TopK = 50;
                }

                GenerationResult output;
                try
                {
                    output = generator.Generate(prompts, generation, cancellationToken);
                }
                catch (NonFiniteException nonFinite)
                {
                    // Never a silent 0 %: name the questions whose answers could not be generated.
                    throw new NonFiniteException(
                        $"Evaluating question(s) {string.Join(", ", chunk.Select(q => $"'{q.Id}'"))}: {nonFinite.Message}", nonFinite)
                    {
                        TensorName = nonFinite.TensorName,
                        Step = nonFinite.Step,
                        NonFiniteWeights = nonFinite.NonFiniteWeights,
                    };
                }

                generated += output.GeneratedTokenCount;
                for (int i = 0; i < chunk.Length; i++)
                {
                    var texts = Enumerable.Range(0, k).Select(s => Decode(output.Tokens[(i * k) + s])).ToList();
                    var answers = texts.Select(task.ExtractAnswer).ToList();
                    string? answer = k == 1 ? answers[0] : task.MajorityVote(answers);
                    IReadOnlyDictionary<string, int>? votes = k == 1
                        ? null
                        : answers.Where(a => a is not null).GroupBy(a => task.Normalize(a) ?? a!).ToDictionary(g => g.Key, g => g.Count());
                    int tokens = Enumerable.Range(0, k).Sum(s => output.Tokens[(i * k) + s].Count);
                    results.Add(new EvaluatedQuestion(chunk[i].Id, chunk[i].GoldAnswer, texts[0], answer, task.IsCorrect(answer, chunk[i].GoldAnswer), tokens, votes));
                }

                progress?.Report(results.Count);
            }
        }
        finally
        {
            if (wasTraining)
            {
                _model.train();
            }
        }

        int correct = results.Count(r => r.IsCorrect);
        return new EvaluationResult(task.Name, results.Count, correct, (double)generated / (results.Count * k), stopwatch.Elapsed, results);
    }
}

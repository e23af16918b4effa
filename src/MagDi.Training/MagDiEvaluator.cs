using System.Diagnostics;
using System.Text.Json;
using MagDi.Generation;
using MagDi.IO;
using MagDi.Modeling;
using MagDi.Runtime;
using MagDi.Tasks;
using MagDi.Tokenization;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Options;

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
    /// <summary>The configuration section these options bind to by default: <c>MagDi:Evaluation</c>.</summary>
    public const string SectionName = "MagDi:Evaluation";

    /// <summary>Greedy (default) or the paper's sampling.</summary>
    public DecodingStrategy Decoding { get; set; } = DecodingStrategy.Greedy;

    /// <summary>Most tokens generated per answer. Default 300 (paper; use 700 for MATH).</summary>
    public int MaxNewTokens { get; set; } = 300;

    /// <summary>Samples per question for self-consistency (majority vote over extracted answers); 1 turns it off. Default 1.</summary>
    public int Samples { get; set; } = 1;

    /// <summary>
    /// Sequences decoded together (at least <see cref="Samples"/>): a local student keeps this many in flight with
    /// continuous batching (a finished sequence's slot goes to the next waiting one; a question's samples share one
    /// prefill of its prompt); a served student gets this many concurrent requests. Default 8.
    /// </summary>
    public int BatchSize { get; set; } = 8;

    /// <summary>Seed of sampling. Default 0.</summary>
    public long Seed { get; set; }

    /// <summary>Evaluate only the first N questions; null for all.</summary>
    public int? Limit { get; set; }

    /// <summary>Prompt format (default <see cref="PromptFormatKind.Auto"/>); must match what the student was trained with.</summary>
    public PromptFormatKind PromptFormat { get; set; } = PromptFormatKind.Auto;

    /// <summary>
    /// A task prefix put before the question, for students trained on prefixed tasks: <c>[label]</c>
    /// (<see cref="Losses.StepByStepLoss.LabelPrefix"/>) for a DSS-MT student, which answers without a rationale. Default
    /// null (no prefix).
    /// </summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull)]
    public string? TaskPrefix { get; set; }

    /// <summary>Throws one <see cref="OptionsValidationException"/> listing every problem, if any.</summary>
    /// <exception cref="OptionsValidationException">One or more settings are invalid; <see cref="OptionsValidationException.Failures"/> lists them all.</exception>
    public void Validate()
    {
        IReadOnlyList<string> problems = GetProblems();
        if (problems.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(EvaluationOptions), problems);
        }
    }

    /// <summary>Every problem of the settings (empty when valid).</summary>
    internal IReadOnlyList<string> GetProblems()
    {
        var problems = new List<string>();
        if (MaxNewTokens < 1) problems.Add($"MaxNewTokens must be at least 1 (got {MaxNewTokens}).");
        if (Samples < 1) problems.Add($"Samples must be at least 1 (got {Samples}).");
        if (Samples > 1 && Decoding == DecodingStrategy.Greedy) problems.Add("Self-consistency (Samples > 1) needs sampling: set Decoding = Paper.");
        if (BatchSize < 1) problems.Add($"BatchSize must be at least 1 (got {BatchSize}).");
        if (Limit is < 1) problems.Add($"Limit must be at least 1 when set (got {Limit}).");
        if (!Enum.IsDefined(Decoding)) problems.Add($"Decoding '{Decoding}' is not known; use {string.Join(", ", Enum.GetNames<DecodingStrategy>())}.");
        if (!Enum.IsDefined(PromptFormat)) problems.Add($"PromptFormat '{PromptFormat}' is not known; use {string.Join(", ", Enum.GetNames<PromptFormatKind>())}.");
        return problems;
    }
}

/// <summary>One evaluated question.</summary>
public sealed class EvaluatedQuestion
{
    internal EvaluatedQuestion(string id, string gold, string output, string? answer, bool isCorrect, int generatedTokens, IReadOnlyDictionary<string, int>? votes)
    {
        Id = id;
        Gold = gold;
        Output = output;
        Answer = answer;
        IsCorrect = isCorrect;
        GeneratedTokens = generatedTokens;
        Votes = votes;
    }

    /// <summary>Question id.</summary>
    public string Id { get; }

    /// <summary>Gold answer.</summary>
    public string Gold { get; }

    /// <summary>The student's generated text (the first sample with self-consistency).</summary>
    public string Output { get; }

    /// <summary>The extracted (voted) answer, or null when none could be extracted.</summary>
    public string? Answer { get; }

    /// <summary>Whether the answer matches the gold answer under the task's rules.</summary>
    public bool IsCorrect { get; }

    /// <summary>Tokens generated for this question (all samples).</summary>
    public int GeneratedTokens { get; }

    /// <summary>Votes per answer with self-consistency; null otherwise.</summary>
    public IReadOnlyDictionary<string, int>? Votes { get; }

    /// <summary>
    /// With self-consistency, every sample's generated text, in sample order (the first is <see cref="Output"/>); null with
    /// one sample. <see cref="MagDiEvaluator.WriteAsync"/> writes them to <c>samples.jsonl</c>.
    /// </summary>
    public IReadOnlyList<string>? SampleOutputs { get; internal init; }

    /// <summary>
    /// With self-consistency, the answer extracted from each sample, in sample order (null where none could be
    /// extracted): the votes before they are counted, from which answer diversity is measured; null with one sample.
    /// </summary>
    public IReadOnlyList<string?>? SampleAnswers { get; internal init; }

    /// <summary>Why no answer was generated (for example a prompt plus MaxNewTokens longer than the model's context), or null; such a question counts as wrong.</summary>
    public string? Error { get; internal init; }
}

/// <summary>Accuracy of a student on a set of questions.</summary>
public sealed class EvaluationResult
{
    internal EvaluationResult(string task, int count, int correct, double averageGeneratedTokens, TimeSpan duration, IReadOnlyList<EvaluatedQuestion> questions)
    {
        Task = task;
        Count = count;
        Correct = correct;
        AverageGeneratedTokens = averageGeneratedTokens;
        Duration = duration;
        Questions = questions;
    }

    /// <summary>Task name.</summary>
    public string Task { get; }

    /// <summary>Questions evaluated.</summary>
    public int Count { get; }

    /// <summary>Questions answered correctly.</summary>
    public int Correct { get; }

    /// <summary>Mean tokens generated per question (per sample).</summary>
    public double AverageGeneratedTokens { get; }

    /// <summary>Wall time.</summary>
    public TimeSpan Duration { get; }

    /// <summary>Every question's outcome, in input order.</summary>
    public IReadOnlyList<EvaluatedQuestion> Questions { get; }

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
    private readonly EvaluationOptions _options;
    private readonly MagDiPromptTemplate _template;
    private readonly IStudentCompleter _student;

    /// <summary>Creates an evaluator for a student (with or without an applied adapter).</summary>
    /// <exception cref="OptionsValidationException">The options are invalid (every failure listed).</exception>
    public MagDiEvaluator(CausalLanguageModel model, ITextTokenizer tokenizer, EvaluationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        _options = options ?? new EvaluationOptions();
        _options.Validate();
        _template = new MagDiPromptTemplate(_options.PromptFormat.Resolve(tokenizer));
        _student = new LocalStudentCompleter(model, tokenizer, _options);
    }

    /// <summary>
    /// Creates an evaluator for a student served elsewhere (vLLM, TGI, Ollama or any OpenAI-compatible server through
    /// an <see cref="IChatClient"/>): each sample is one chat request whose user message is the test-time prompt; the
    /// engine applies the model's own chat template, so <see cref="EvaluationOptions.PromptFormat"/> <c>auto</c> means
    /// <c>plain</c> here. Answer extraction, voting, outputs and files are the same as for a local student; token counts
    /// come from the responses' usage. <see cref="EvaluationOptions.BatchSize"/> requests are in flight at once.
    /// </summary>
    /// <param name="student">The served student; the caller owns it.</param>
    /// <param name="options">Evaluation settings.</param>
    /// <exception cref="OptionsValidationException">The options are invalid (every failure listed).</exception>
    public MagDiEvaluator(IChatClient student, EvaluationOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(student);
        _options = options ?? new EvaluationOptions();
        _options.Validate();
        _template = new MagDiPromptTemplate(_options.PromptFormat == PromptFormatKind.Auto
            ? PromptFormat.Plain
            : _options.PromptFormat.Resolve(tokenizer: null));
        _student = new ChatStudentCompleter(student, _options);
    }

    /// <summary>Generates an answer for every question and scores it.</summary>
    /// <param name="questions">Questions of one task, with gold answers.</param>
    /// <param name="progress">Receives the number of questions done each time one is done.</param>
    /// <param name="cancellationToken">Stops between decoding steps (or requests, for a served student).</param>
    /// <exception cref="ArgumentException">The questions mix tasks or name an unknown task.</exception>
    /// <exception cref="NonFiniteException">The student's logits hold NaN or infinite values (for example damaged weights); the message names the question, the step and the non-finite weights.</exception>
    /// <exception cref="IOException">A served student's endpoint failed; the message names the question and the endpoint's error.</exception>
    public Task<EvaluationResult> EvaluateAsync(IEnumerable<Question> questions, IProgress<int>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(questions);
        List<Question> list = [.. questions];
        if (_options.Limit is int limit)
        {
            list = [.. list.Take(limit)];
        }

        return EvaluateCoreAsync(list, progress, cancellationToken);
    }

    /// <summary>
    /// Writes <c>predictions.jsonl</c> (readable by <see cref="Scoring"/>) and <c>metrics.json</c> into
    /// <paramref name="directory"/>, and with self-consistency <c>samples.jsonl</c> (one line per question: <c>id</c>, and
    /// <c>outputs</c> and <c>answers</c> with one entry per sample, in sample order; an answer is null where none could be
    /// extracted), each atomically (<see cref="AtomicFile"/>), after removing temporary files a killed run left there. With
    /// a single sample no <c>samples.jsonl</c> is written, and one an earlier evaluation left in the folder stays as it was
    /// (MagDi deletes nothing it did not create in this run).
    /// </summary>
    public static async Task WriteAsync(EvaluationResult result, string directory, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(result);
        Directory.CreateDirectory(directory);
        AtomicFile.DeleteLeftovers(directory, "predictions.jsonl");
        AtomicFile.DeleteLeftovers(directory, "metrics.json");
        AtomicFile.DeleteLeftovers(directory, "samples.jsonl");
        await Scoring.WritePredictionsAsync(
            Path.Combine(directory, "predictions.jsonl"),
            result.Questions.Select(q => new Prediction(q.Id, q.Output, q.Answer)),
            cancellationToken).ConfigureAwait(false);
        if (result.Questions.Any(q => q.SampleOutputs is not null))
        {
            await AtomicFile.WriteAsync(Path.Combine(directory, "samples.jsonl"), async (stream, ct) =>
            {
                byte[] newline = "\n"u8.ToArray();
                foreach (EvaluatedQuestion q in result.Questions)
                {
                    var writer = new Utf8JsonWriter(stream, new JsonWriterOptions { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping });
                    await using (writer.ConfigureAwait(false))
                    {
                        writer.WriteStartObject();
                        writer.WriteString("id", q.Id);
                        writer.WriteStartArray("outputs");
                        foreach (string output in q.SampleOutputs ?? [])
                        {
                            writer.WriteStringValue(output);
                        }

                        writer.WriteEndArray();
                        writer.WriteStartArray("answers");
                        foreach (string? answer in q.SampleAnswers ?? [])
                        {
                            writer.WriteStringValue(answer);                         // null: JSON null
                        }

                        writer.WriteEndArray();
                        writer.WriteEndObject();
                    }

                    await stream.WriteAsync(newline, ct).ConfigureAwait(false);
                }
            }, cancellationToken).ConfigureAwait(false);
        }

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

    private async Task<EvaluationResult> EvaluateCoreAsync(List<Question> questions, IProgress<int>? progress, CancellationToken cancellationToken)
    {
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
        // Question ids name the requests (and seed their samplers); repeated ids get their position as a prefix.
        bool unique = questions.Select(q => q.Id).Distinct(StringComparer.Ordinal).Count() == questions.Count;
        var prompts = questions.Select((q, i) => new StudentPrompt(unique ? q.Id : $"{i}:{q.Id}", _template.RenderPrompt(task, q, _options.TaskPrefix))).ToList();
        int k = _options.Samples;
        IReadOnlyList<StudentCompletions> completions = await _student.CompleteAsync(prompts, k, progress, cancellationToken).ConfigureAwait(false);

        var results = new List<EvaluatedQuestion>(questions.Count);
        long generated = 0;
        for (int i = 0; i < questions.Count; i++)
        {
            StudentCompletions c = completions[i];
            generated += c.ProducedTokens;
            if (c.Error is { } error)
            {
                results.Add(new EvaluatedQuestion(questions[i].Id, questions[i].GoldAnswer, string.Empty, null, false, 0, null) { Error = error });
                continue;
            }

            var answers = c.Texts.Select(task.ExtractAnswer).ToList();
            string? answer = k == 1 ? answers[0] : task.MajorityVote(answers);
            IReadOnlyDictionary<string, int>? votes = k == 1
                ? null
                : answers.Where(a => a is not null).GroupBy(a => task.Normalize(a) ?? a!).ToDictionary(g => g.Key, g => g.Count());
            results.Add(new EvaluatedQuestion(questions[i].Id, questions[i].GoldAnswer, c.Texts[0], answer, task.IsCorrect(answer, questions[i].GoldAnswer), c.OutputTokens, votes)
            {
                SampleOutputs = k == 1 ? null : c.Texts,
                SampleAnswers = k == 1 ? null : answers,
            });
        }

        int correct = results.Count(r => r.IsCorrect);
        return new EvaluationResult(task.Name, results.Count, correct, (double)generated / (results.Count * k), stopwatch.Elapsed, results);
    }
}

using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using MagDi.Tasks;
using MagDi.Tasks.Synthetic;
using Microsoft.Extensions.AI;

namespace MagDi.Graphs.Discussion;

/// <summary>
/// A deterministic stand-in for a teacher LLM that speaks the ReConcile protocol, so discussions, tests and
/// quickstarts run offline.
/// </summary>
/// <remarks>
/// It reads the question after the last <c>Question:</c> of the round's prompt. Synthetic-benchmark questions
/// it solves through <see cref="SyntheticBenchmark.Parse"/>, correctly or with the slips of its
/// <see cref="SimulatedTeacherProfile.TypicalMistakes"/>; other questions it answers from an oracle (question text to
/// gold answer), with a plausible wrong answer when it errs. In later rounds it reads its own previous reply from
/// the conversation and the groups ("There are N agents think the answer is X.") from the prompt, and changes
/// its mind according to <see cref="SimulatedTeacherProfile.Stubbornness"/>. Replies depend only on the seed,
/// the profile and the conversation, so the same discussion always produces the same MAG. Usage counts words.
/// </remarks>
public sealed partial class SimulatedTeacher : IChatClient
{
    private const string ReviewedPrefix = "I reviewed the solutions of the other agents and agree with them. ";
    private const string RecheckedPrefix = "I checked the steps again and agree with the other agents. ";
    private readonly IReadOnlyDictionary<string, string> _oracle;
    private readonly int _seed;

    /// <summary>Creates a simulated teacher.</summary>
    /// <param name="profile">Its skills.</param>
    /// <param name="seed">Varies its choices; the same seed gives the same replies.</param>
    /// <param name="oracle">Gold answers by question text for questions outside the synthetic benchmark (see <see cref="OracleFor"/>).</param>
    /// <exception cref="ArgumentException">The profile is invalid.</exception>
    public SimulatedTeacher(SimulatedTeacherProfile profile, int seed = 0, IReadOnlyDictionary<string, string>? oracle = null)
    {
        ArgumentNullException.ThrowIfNull(profile);
        var problems = profile.Problems().ToList();
        if (problems.Count > 0)
        {
            throw new ArgumentException($"Invalid simulated teacher profile '{profile.Name}': {string.Join("; ", problems)}.", nameof(profile));
        }

        Profile = profile;
        _seed = seed;
        _oracle = oracle ?? new Dictionary<string, string>();
    }

    /// <summary>The teacher's skills.</summary>
    public SimulatedTeacherProfile Profile { get; }

    /// <summary>An oracle for <paramref name="questions"/> as the task formats them (text plus answer choices) to their gold answers.</summary>
    /// <param name="questions">The questions.</param>
    /// <returns>The oracle.</returns>
    public static IReadOnlyDictionary<string, string> OracleFor(IEnumerable<Question> questions)
    {
        ArgumentNullException.ThrowIfNull(questions);
        SyntheticTasks.EnsureRegistered();
        var oracle = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var q in questions)
        {
            string text = ReasoningTasks.TryGet(q.Task, out var task) ? task.FormatQuestion(q) : q.Text;
            oracle[text.Trim()] = q.GoldAnswer;
        }

        return oracle;
    }

    /// <summary>The three default teachers (<see cref="SimulatedTeacherProfile.Defaults"/>) as discussion agents.</summary>
    /// <param name="seed">The seed shared by the team.</param>
    /// <param name="oracle">Gold answers for questions outside the synthetic benchmark.</param>
    /// <returns>The agents <c>gpt4</c>, <c>claude</c> and <c>bard</c>.</returns>
    public static IReadOnlyList<DiscussionAgent> CreateTeam(int seed = 0, IReadOnlyDictionary<string, string>? oracle = null) =>
        SimulatedTeacherProfile.Defaults.Select(p => new DiscussionAgent(p.Name, new SimulatedTeacher(p, seed, oracle))).ToList();

    /// <inheritdoc />
    public Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(messages);
        cancellationToken.ThrowIfCancellationRequested();
        var list = messages.ToList();
        string text = Reply(list);
        long input = list.Sum(m => (long)CountWords(m.Text));
        long output = CountWords(text);
        var response = new ChatResponse(new ChatMessage(ChatRole.Assistant, text))
        {
            ModelId = Profile.Name,
            FinishReason = ChatFinishReason.Stop,
            Usage = new UsageDetails { InputTokenCount = input, OutputTokenCount = output, TotalTokenCount = input + output },
        };
        return Task.FromResult(response);
    }

    /// <inheritdoc />
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var response = await GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        foreach (var update in response.ToChatResponseUpdates())
        {
            yield return update;
        }
    }

    /// <inheritdoc />
    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        return serviceKey is null && serviceType.IsInstanceOfType(this) ? this : null;
    }

    /// <inheritdoc />
    public void Dispose()
    {
        // Nothing to release.
    }

    /// <summary>The reply to a conversation: a pure function of the seed, the profile and the messages.</summary>
    internal string Reply(IReadOnlyList<ChatMessage> messages)
    {
        int promptIndex = -1;
        for (int i = messages.Count - 1; i >= 0; i--)
        {
            if (messages[i].Role == ChatRole.User && messages[i].Text.Contains("Question:", StringComparison.Ordinal))
            {
                promptIndex = i;
                break;
            }
        }

        if (promptIndex < 0)
        {
            return "I could not find a question to answer.";
        }

        string prompt = messages[promptIndex].Text;
        string section = QuestionSection(prompt);
        int round = messages.Take(promptIndex + 1).Count(m => m.Role == ChatRole.User && m.Text.Contains("Question:", StringComparison.Ordinal)) - 1;
        var problem = SyntheticBenchmark.Parse(section);
        string? gold = problem?.GoldAnswer ?? OracleAnswer(section);

        var solution = Solve(section, problem, gold);
        var previous = messages.Take(promptIndex).LastOrDefault(m => m.Role == ChatRole.Assistant && ReadReply(m.Text) is not null);
        if (previous is not null && ReadReply(previous.Text) is { } prev)
        {
            solution = Discuss(section, round, problem, gold, prev, ReadGroups(prompt));
        }

        var rng = Rng("format", section, round.ToString(CultureInfo.InvariantCulture), messages.Count.ToString(CultureInfo.InvariantCulture));
        return FormatNoisy(solution, rng);
    }

    private Solution Solve(string section, SyntheticProblem? problem, string? gold)
    {
        var rng = Rng("solve", section);
        bool right = rng.NextDouble() < Profile.Accuracy;
        if (problem is not null)
        {
            var (reasoning, answer) = right ? (problem.GoldReasoning, problem.GoldAnswer) : Slip(problem, rng);
            return new Solution(reasoning, answer, Confidence(answer == problem.GoldAnswer, rng));
        }

        if (gold is null)
        {
            return new Solution("I do not know enough about this question to answer it with certainty.", "unknown", 0.2);
        }

        string chosen = right ? gold : PlausibleWrong(gold, section, rng);
        return new Solution(
            $"Let me think step by step. I recall the relevant facts and reason from them to a conclusion. So the answer is {chosen}.",
            chosen,
            Confidence(chosen == gold, rng));
    }

    private Solution Discuss(string section, int round, SyntheticProblem? problem, string? gold, Solution prev, List<(int Count, string Answer, string? Explanation)> groups)
    {
        var rng = Rng("discuss", section, round.ToString(CultureInfo.InvariantCulture));
        if (groups.Count == 0)
        {
            return prev;
        }

        int own = groups.Where(g => Same(g.Answer, prev.Answer)).Sum(g => g.Count);
        int most = groups.Max(g => g.Count);
        var best = groups.Where(g => g.Count == most).ToList();
        if (best.Count == 1 && !Same(best[0].Answer, prev.Answer) && most > own)
        {
            var majority = best[0];
            double p = 1 - Profile.Stubbornness;
            if (gold is not null && Same(majority.Answer, gold))
            {
                p = 1 - (Profile.Stubbornness * 0.5);
            }
            else if (gold is not null && Same(prev.Answer, gold))
            {
                p *= 0.5;
            }

            if (rng.NextDouble() < p)
            {
                return Adopt(majority.Answer, majority.Explanation, problem, gold, rng);
            }
        }
        else if (gold is not null && !Same(prev.Answer, gold) && groups.FirstOrDefault(g => Same(g.Answer, gold)) is { Answer: not null } right
            && rng.NextDouble() < Profile.Accuracy * (1 - Profile.Stubbornness) * 0.5)
        {
            // A minority has the right answer and a re-check confirms it.
            return Adopt(right.Answer, right.Explanation, problem, gold, rng);
        }

        bool unanimous = groups.Count == 1 && Same(groups[0].Answer, prev.Answer);
        return prev with { Confidence = unanimous ? Math.Min(1.0, Math.Round(prev.Confidence + 0.05, 2)) : prev.Confidence };
    }

    private Solution Adopt(string answer, string? explanation, SyntheticProblem? problem, string? gold, Random rng)
    {
        bool correct = gold is not null && Same(answer, gold);
        string reasoning = correct && problem is not null
            ? RecheckedPrefix + problem.GoldReasoning
            : ReviewedPrefix + StripPrefixes(explanation ?? $"Their reasoning leads to {answer}.");
        return new Solution(reasoning, answer, Confidence(correct, rng));
    }

    private (string Reasoning, string Answer) Slip(SyntheticProblem problem, Random rng)
    {
        // Half of the slips are the question's "trap", shared by every teacher that has that kind of slip,
        // so wrong answers sometimes agree (as with real models) and a wrong majority can form.
        var trap = SharedRng("trap", problem.Text);
        var trapMistake = (TeacherMistake)trap.Next(4);
        if (rng.NextDouble() < 0.5 && Profile.TypicalMistakes.Contains(trapMistake))
        {
            rng = trap;
        }

        var mistake = rng == trap ? trapMistake : Profile.TypicalMistakes[rng.Next(Profile.TypicalMistakes.Count)];
        if (mistake == TeacherMistake.SkippedStep && problem.Steps.Count < 2)
        {
            mistake = TeacherMistake.OffByOne;
        }

        int k = rng.Next(problem.Steps.Count);
        var steps = new List<(ArithmeticStep Step, int? WrongResult)>();
        int value = problem.Start;
        for (int i = 0; i < problem.Steps.Count; i++)
        {
            var step = problem.Steps[i];
            if (i == k && mistake == TeacherMistake.SkippedStep)
            {
                continue;
            }

            int right = step.Apply(value);
            int? wrong = i != k ? null : mistake switch
            {
                TeacherMistake.OffByOne => right + (rng.Next(2) == 0 ? 1 : -1),
                TeacherMistake.OffByTen => right + (right >= 10 && rng.Next(2) == 0 ? -10 : 10),
                TeacherMistake.WrongOperation => step.Operator switch
                {
                    '+' => value - step.Operand,
                    '-' => value + step.Operand,
                    _ => value + step.Operand,
                },
                _ => null,
            };
            steps.Add((step, wrong));
            value = wrong ?? right;
        }

        return (SyntheticBenchmark.Explain(problem, steps), SyntheticBenchmark.AnswerFor(problem, value));
    }

    private double Confidence(bool correct, Random rng)
    {
        double mean = correct ? Profile.ConfidenceWhenCorrect : Profile.ConfidenceWhenWrong;
        double c = Math.Clamp(mean + (((rng.NextDouble() * 2) - 1) * Profile.ConfidenceSpread), 0.05, 1.0);
        return c > 0.98 ? 1.0 : Math.Round(c, 2);
    }

    private static string PlausibleWrong(string gold, string section, Random rng)
    {
        string g = gold.Trim();
        string lower = g.ToLowerInvariant();
        if (lower is "yes" or "true")
        {
            return "no";
        }

        if (lower is "no" or "false")
        {
            return "yes";
        }

        if (double.TryParse(g, NumberStyles.Float, CultureInfo.InvariantCulture, out double n))
        {
            double delta = rng.Next(3) switch { 0 => 1, 1 => -1, _ => Math.Max(2, Math.Round(Math.Abs(n) * 0.5)) };
            return (n + delta).ToString(CultureInfo.InvariantCulture);
        }

        var labels = ChoiceLabel().Matches(section).Select(m => m.Groups["l"].Value).Where(l => !string.Equals(l, g, StringComparison.OrdinalIgnoreCase)).ToList();
        if (labels.Count > 0)
        {
            return labels[rng.Next(labels.Count)];
        }

        if (g.Length == 1 && char.IsAsciiLetterUpper(g[0]))
        {
            string other = "ABCDE".Replace(g, string.Empty, StringComparison.Ordinal);
            return other[rng.Next(other.Length)].ToString();
        }

        return "none of the above";
    }

    private string? OracleAnswer(string section)
    {
        if (_oracle.TryGetValue(section.Trim(), out string? gold))
        {
            return gold;
        }

        string? bestKey = null;
        foreach (string key in _oracle.Keys)
        {
            if (key.Length > (bestKey?.Length ?? 0) && section.Contains(key, StringComparison.Ordinal))
            {
                bestKey = key;
            }
        }

        return bestKey is null ? null : _oracle[bestKey];
    }

    private static string QuestionSection(string prompt)
    {
        int at = prompt.LastIndexOf("Question:", StringComparison.Ordinal) + "Question:".Length;
        string rest = prompt[at..];
        int end = rest.IndexOf("\n\n", StringComparison.Ordinal);
        return (end >= 0 ? rest[..end] : rest).Trim();
    }

    private static List<(int Count, string Answer, string? Explanation)> ReadGroups(string prompt)
    {
        var groups = new List<(int, string, string?)>();
        var headers = GroupHeader().Matches(prompt);
        for (int i = 0; i < headers.Count; i++)
        {
            int from = headers[i].Index + headers[i].Length;
            int to = i + 1 < headers.Count ? headers[i + 1].Index : prompt.Length;
            var first = Explanation().Match(prompt[from..to]);
            groups.Add((
                int.Parse(headers[i].Groups["n"].Value, CultureInfo.InvariantCulture),
                headers[i].Groups["a"].Value.Trim(),
                first.Success ? first.Groups["r"].Value.Trim() : null));
        }

        return groups;
    }

    private static Solution? ReadReply(string text)
    {
        var obj = LenientJson.FindObject(text, o => o.ContainsKey("answer") && o.ContainsKey("reasoning"));
        if (obj is null)
        {
            return null;
        }

        string? answer = obj["answer"] switch { string s => s, LenientJson.Number n => n.Text, _ => null };
        if (answer is null || obj["reasoning"] is not string reasoning)
        {
            return null;
        }

        object? c = obj.GetValueOrDefault("confidence_level");
        string cText = c switch { LenientJson.Number n => n.Text, string s => s, _ => "0.5" };
        double confidence = double.TryParse(cText, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) ? v : 0.5;
        return new Solution(reasoning, answer, confidence);
    }

    private static string Format(Solution s)
    {
        string json = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["reasoning"] = s.Reasoning,
            ["answer"] = s.Answer,
            ["confidence_level"] = s.Confidence,
        });
        return json;
    }

    private string FormatNoisy(Solution s, Random rng)
    {
        double roll = rng.NextDouble();
        if (roll < Profile.MalformedRate)
        {
            return $"I believe the answer is {s.Answer}, but let me explain: {s.Reasoning}";
        }

        string json = Format(s);
        if (roll >= Profile.MalformedRate + Profile.FormatNoiseRate)
        {
            return json;
        }

        string conf = s.Confidence.ToString(CultureInfo.InvariantCulture);
        return rng.Next(5) switch
        {
            0 => "```json\n" + json + "\n```",
            1 => $"{{'reasoning': '{s.Reasoning}', 'answer': '{s.Answer}', 'confidence_level': {conf}}}",
            2 => json + "\n\nI double-checked each step above before answering.",
            3 => "Here is my answer:\n" + json,
            _ => JsonSerializer.Serialize(new Dictionary<string, object>
            {
                ["reasoning"] = s.Reasoning,
                ["answer"] = s.Answer,
                ["confidence_level"] = conf,
            }),
        };
    }

    private Random Rng(params string[] parts) => SharedRng([Profile.Name, .. parts]);

    private Random SharedRng(params string[] parts)
    {
        ulong h = 14695981039346656037UL;
        foreach (string part in parts.Prepend(_seed.ToString(CultureInfo.InvariantCulture)))
        {
            foreach (char ch in part)
            {
                h = (h ^ ch) * 1099511628211UL;
            }

            h = (h ^ 0x1F) * 1099511628211UL;
        }

        return new Random((int)(h ^ (h >> 32)));
    }

    private static bool Same(string a, string b) => string.Equals(a.Trim(), b.Trim(), StringComparison.OrdinalIgnoreCase);

    private static string StripPrefixes(string reasoning)
    {
        string r = reasoning;
        bool changed = true;
        while (changed)
        {
            changed = false;
            foreach (string prefix in new[] { ReviewedPrefix, RecheckedPrefix })
            {
                if (r.StartsWith(prefix, StringComparison.Ordinal))
                {
                    r = r[prefix.Length..];
                    changed = true;
                }
            }
        }

        return r;
    }

    private static int CountWords(string? text) =>
        string.IsNullOrEmpty(text) ? 0 : text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;

    [GeneratedRegex(@"There (?:are|is) (?<n>\d+) agents? thinks? the answer is (?<a>[^\n]+?)\.[ \t]*(?:\r?\n|$)")]
    private static partial Regex GroupHeader();

    [GeneratedRegex(@"One agent solution: (?<r>[^\n]*?) \(confidence: [^\n)]*\)")]
    private static partial Regex Explanation();

    [GeneratedRegex(@"^\((?<l>[A-Z0-9])\) ", RegexOptions.Multiline)]
    private static partial Regex ChoiceLabel();

    private sealed record Solution(string Reasoning, string Answer, double Confidence);
}

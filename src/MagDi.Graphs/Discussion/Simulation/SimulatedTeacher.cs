using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using MagDi.Tasks;
using MagDi.Tasks.Synthetic;
using Microsoft.Extensions.AI;

namespace MagDi.Graphs.Discussion.Simulation;

/// <summary>
/// A test double for demos and tests: a deterministic stand-in for a teacher LLM that speaks the ReConcile protocol,
/// so discussions, tests and the quickstart run offline. It is not a model of real LLMs and its MAGs say nothing about
/// what real teachers would produce; use real chat clients for real corpora.
/// </summary>
/// <remarks>
/// It reads the question after the last <c>Question:</c> of the round's prompt. Synthetic-benchmark questions
/// (<see cref="SyntheticBenchmark"/>) it solves from the structure it reads off their text, correctly or with one of its
/// <see cref="SimulatedTeacherProfile.Mistakes"/>, and writes the solution in its <see cref="SimulatedTeacherProfile.Style"/>;
/// other questions it answers from an oracle (question text to gold answer), with a plausible wrong answer when it errs.
/// In later rounds it reads the groups ("There are N agents think the answer is X.") from the prompt and changes its mind
/// according to <see cref="SimulatedTeacherProfile.Stubbornness"/>: a changed answer is derived again in its own style and
/// names the step the others contradicted; a kept answer is restated with a check or a rebuttal. Replies depend only on
/// the seed, the profile and the conversation, so the same discussion always produces the same MAG. Usage counts words.
/// </remarks>
public sealed partial class SimulatedTeacher : IChatClient
{
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
    /// <remarks>
    /// The teacher replays the discussion from its first prompt: its round-0 solution, then its decision in every later round
    /// given the groups that round's prompt shows. So its state never depends on parsing its own earlier replies.
    /// </remarks>
    internal string Reply(IReadOnlyList<ChatMessage> messages)
    {
        var rounds = new List<string>();
        foreach (ChatMessage m in messages)
        {
            if (m.Role == ChatRole.User && m.Text.Contains("Question:", StringComparison.Ordinal))
            {
                rounds.Add(m.Text);
            }
        }

        if (rounds.Count == 0)
        {
            return "I could not find a question to answer.";
        }

        string section = QuestionSection(rounds[^1]);
        var problem = ProblemStructure.Parse(section);
        string? gold = problem?.GoldAnswer ?? OracleAnswer(section);
        Turn turn = Solve(section, problem, gold);
        for (int round = 1; round < rounds.Count; round++)
        {
            turn = Discuss(section, round, problem, gold, turn, ReadGroups(rounds[round]));
        }

        var rng = Rng("format", section, (rounds.Count - 1).ToString(CultureInfo.InvariantCulture), messages.Count.ToString(CultureInfo.InvariantCulture));
        return FormatNoisy(turn, rng);
    }

    private Turn Solve(string section, ProblemStructure? problem, string? gold)
    {
        var rng = Rng("solve", section);
        bool right = !Errs(section, rng);
        if (problem is not null)
        {
            SyntheticDerivation d = right ? SyntheticDerivation.Correct(problem) : Mistaken(problem, rng);
            string reasoning = TeacherWriter.Solve(Profile.Style, d, Rng("write", section, "0"));
            return new Turn(d, reasoning, d.Answer, Confidence(d.IsCorrect, rng));
        }

        if (gold is null)
        {
            return new Turn(null, "I do not know enough about this question to answer it with certainty.", "unknown", 0.2);
        }

        string chosen = right ? gold : PlausibleWrong(gold, section, rng);
        return new Turn(
            null,
            $"Let me think step by step. I recall the relevant facts and reason from them to a conclusion. So the answer is {chosen}.",
            chosen,
            Confidence(chosen == gold, rng));
    }

    /// <summary>
    /// Whether the teacher errs on this question in round 0: a Gaussian copula of the question's difficulty (shared by every
    /// teacher of the team) and the teacher's own draw, so the marginal error rate is exactly 1 - Accuracy while teachers tend
    /// to fail on the same questions (<see cref="SimulatedTeacherProfile.ErrorCorrelation"/>).
    /// </summary>
    private bool Errs(string section, Random own)
    {
        double rho = Profile.ErrorCorrelation;
        double z = (Math.Sqrt(rho) * StandardNormal(SharedRng("difficulty", section))) + (Math.Sqrt(1 - rho) * StandardNormal(own));
        return NormalCdf(z) > Profile.Accuracy;
    }

    /// <summary>
    /// A wrong solution: half the time the question's "trap" (a mistake kind and step shared by the team, taken when this
    /// teacher makes that kind of mistake at all), so wrong answers sometimes agree as with real models; otherwise one of
    /// the teacher's own mistakes, drawn by its rates.
    /// </summary>
    private SyntheticDerivation Mistaken(ProblemStructure problem, Random rng)
    {
        var trap = SharedRng("trap", problem.Text);
        var kinds = Enum.GetValues<ReasoningMistake>();
        ReasoningMistake trapKind = kinds[trap.Next(kinds.Length)];
        if (rng.NextDouble() < 0.5 && Profile.Mistakes.GetValueOrDefault(trapKind) > 0)
        {
            return SyntheticDerivation.WithMistake(problem, trapKind, trap);
        }

        double total = Profile.Mistakes.Values.Where(w => w > 0).Sum();
        double pick = rng.NextDouble() * total;
        ReasoningMistake kind = Profile.Mistakes.First(kv => kv.Value > 0).Key;
        foreach (var (k, w) in Profile.Mistakes.Where(kv => kv.Value > 0).OrderBy(kv => kv.Key))
        {
            kind = k;
            pick -= w;
            if (pick < 0)
            {
                break;
            }
        }

        return SyntheticDerivation.WithMistake(problem, kind, rng);
    }

    private Turn Discuss(string section, int round, ProblemStructure? problem, string? gold, Turn prev, List<(int Count, string Answer, string? Explanation)> groups)
    {
        string r = round.ToString(CultureInfo.InvariantCulture);
        var rng = Rng("discuss", section, r);
        if (groups.Count == 0)
        {
            return prev;
        }

        string? adopt = null;
        int own = groups.Where(g => Same(g.Answer, prev.Answer)).Sum(g => g.Count);
        int most = groups.Max(g => g.Count);
        var best = groups.Where(g => g.Count == most).ToList();
        if (best.Count == 1 && !Same(best[0].Answer, prev.Answer) && most > own)
        {
            // Persuasion: a majority moves the teacher, a correct one more easily (its explanation checks out).
            double p = 1 - Profile.Stubbornness;
            if (gold is not null && Same(best[0].Answer, gold))
            {
                p = 1 - (Profile.Stubbornness * 0.5);
            }
            else if (gold is not null && Same(prev.Answer, gold))
            {
                p *= 0.5;
            }

            if (rng.NextDouble() < p)
            {
                adopt = best[0].Answer;
            }
        }
        else if (gold is not null && !Same(prev.Answer, gold) && groups.Any(g => Same(g.Answer, gold))
            && rng.NextDouble() < Profile.Accuracy * (1 - Profile.Stubbornness) * 0.5)
        {
            // A minority has the right answer and a re-check confirms it.
            adopt = groups.First(g => Same(g.Answer, gold)).Answer;
        }

        Random write = Rng("write", section, r);
        var others = groups.Select(g => g.Answer).ToList();
        if (adopt is not null)
        {
            bool correct = gold is not null && Same(adopt, gold);
            if (problem is not null && prev.Derivation is { } before)
            {
                if (SyntheticDerivation.Reaching(problem, adopt, rng) is { } after)
                {
                    return new Turn(after, TeacherWriter.Revise(Profile.Style, before, after, write), after.Answer, Confidence(after.IsCorrect, rng));
                }
            }
            else if (problem is null)
            {
                return new Turn(
                    null,
                    $"Having compared the other agents' reasoning with mine, I now think the answer is {adopt}: their argument accounts for the facts I had overlooked.",
                    adopt,
                    Confidence(correct, rng));
            }
        }

        bool unanimous = groups.Count == 1 && Same(groups[0].Answer, prev.Answer);
        double confidence = unanimous ? Math.Min(1.0, Math.Round(prev.Confidence + 0.05, 2)) : prev.Confidence;
        string reasoning = prev.Derivation is { } d
            ? TeacherWriter.Restate(Profile.Style, d, others, write)
            : prev.Reasoning;
        return prev with { Reasoning = reasoning, Confidence = confidence };
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

    private static string Format(Turn s)
    {
        string json = JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["reasoning"] = s.Reasoning,
            ["answer"] = s.Answer,
            ["confidence_level"] = s.Confidence,
        });
        return json;
    }

    private string FormatNoisy(Turn s, Random rng)
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

    private static int CountWords(string? text) =>
        string.IsNullOrEmpty(text) ? 0 : text.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries).Length;

    [GeneratedRegex(@"There (?:are|is) (?<n>\d+) agents? thinks? the answer is (?<a>[^\n]+?)\.[ \t]*(?:\r?\n|$)")]
    private static partial Regex GroupHeader();

    [GeneratedRegex(@"One agent solution: (?<r>[^\n]*?) \(confidence: [^\n)]*\)")]
    private static partial Regex Explanation();

    [GeneratedRegex(@"^\((?<l>[A-Z0-9])\) ", RegexOptions.Multiline)]
    private static partial Regex ChoiceLabel();

    /// <summary>A standard normal draw (Box-Muller).</summary>
    private static double StandardNormal(Random rng)
    {
        double u1 = 1.0 - rng.NextDouble(); // (0, 1]
        double u2 = rng.NextDouble();
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary>The standard normal CDF, through erf (Abramowitz and Stegun 7.1.26, absolute error below 1.5e-7).</summary>
    internal static double NormalCdf(double z)
    {
        double x = Math.Abs(z) / Math.Sqrt(2.0);
        double t = 1.0 / (1.0 + (0.3275911 * x));
        double poly = ((((((((1.061405429 * t) - 1.453152027) * t) + 1.421413741) * t) - 0.284496736) * t) + 0.254829592) * t;
        double y = 1.0 - (poly * Math.Exp(-x * x));
        return z >= 0 ? 0.5 * (1.0 + y) : 0.5 * (1.0 - y);
    }

    /// <summary>A teacher's state after a round: the numbers behind its solution (synthetic problems), its text, answer and confidence.</summary>
    private sealed record Turn(SyntheticDerivation? Derivation, string Reasoning, string Answer, double Confidence);
}

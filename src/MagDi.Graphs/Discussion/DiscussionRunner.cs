using MagDi.Tasks;
using MagDi.Tasks.Synthetic;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace MagDi.Graphs.Discussion;

/// <summary>
/// Runs ReConcile-style discussions among teacher agents and turns each into a MAG: round 0 answers with
/// reasoning and confidence, then discussion rounds over the grouped answers until consensus or
/// <see cref="DiscussionOptions.MaxRounds"/>, with the confidence-weighted team vote.
/// </summary>
/// <remarks>
/// The runner calls each agent's <see cref="IChatClient"/> as given: retries, timeouts, rate limits, caching, logging and
/// telemetry belong in the client's pipeline (<see cref="ChatClientBuilder"/> with
/// <see cref="MagDiChatClientBuilderExtensions.UseMagDiResilience(ChatClientBuilder, ChatResilienceOptions?, Microsoft.Extensions.Logging.ILoggerFactory?, TimeProvider?)"/>,
/// <c>UseDistributedCache</c>, <c>UseLogging</c>, <c>UseOpenTelemetry</c>). Runners made by <see cref="IDiscussionRunnerFactory"/>
/// (dependency injection) add <see cref="ResilientChatClient"/> to every client that has none. Replies that cannot be
/// parsed are re-asked up to <see cref="DiscussionOptions.MaxReasks"/> times and then kept as invalid nodes.
/// <see cref="RunAsync"/> writes a corpus resumably. Thread-safe: one runner may serve several runs. The runner does not
/// dispose the clients: whoever created them does.
/// </remarks>
public sealed class DiscussionRunner
{
    private readonly DiscussionAgent[] _agents;
    private readonly ILogger _logger;

    /// <summary>Creates a runner.</summary>
    /// <param name="agents">The teachers, at least one, with distinct names. Their order orders the nodes of each round.</param>
    /// <param name="options">Settings (validated here); <see langword="null"/> for the defaults.</param>
    /// <param name="logger">Receives re-asks, invalid nodes, failed questions and run summaries.</param>
    /// <exception cref="ArgumentException">No agents, an agent without a name or client, or two agents share a name.</exception>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">The options are invalid; the message lists every problem.</exception>
    public DiscussionRunner(
        IEnumerable<DiscussionAgent> agents,
        DiscussionOptions? options = null,
        ILogger<DiscussionRunner>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(agents);
        Options = options ?? new DiscussionOptions();
        Options.Validate();
        _agents = agents.ToArray();
        Agents = _agents;
        var problems = new List<string>();
        if (Agents.Count == 0)
        {
            problems.Add("at least one agent is required");
        }

        for (int i = 0; i < Agents.Count; i++)
        {
            var a = Agents[i];
            if (a is null || string.IsNullOrWhiteSpace(a.Name) || a.Client is null)
            {
                problems.Add($"agents[{i}] needs a name and a client");
            }
            else if (Agents.Take(i).Any(b => b is not null && string.Equals(b.Name, a.Name, StringComparison.Ordinal)))
            {
                problems.Add($"agents[{i}]: the name '{a.Name}' is used twice");
            }
        }

        if (problems.Count > 0)
        {
            throw new ArgumentException("Invalid discussion agents: " + string.Join("; ", problems) + ".", nameof(agents));
        }

        _logger = (ILogger?)logger ?? NullLogger.Instance;
    }

    /// <summary>The teachers.</summary>
    public IReadOnlyList<DiscussionAgent> Agents { get; }

    /// <summary>The settings.</summary>
    public DiscussionOptions Options { get; }

    /// <summary>Discusses one question and returns its MAG and team answer.</summary>
    /// <param name="question">The question; its <see cref="Question.Task"/> names the task whose answer logic is used.</param>
    /// <param name="cancellationToken">Cancels the discussion.</param>
    /// <returns>The result.</returns>
    /// <exception cref="ArgumentException">The question's task is unknown.</exception>
    public async Task<DiscussionResult> DiscussAsync(Question question, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(question);
        var task = ResolveTask(question.Task);
        var prompts = Options.Prompts;
        var histories = _agents.Select(_ => new List<ChatMessage> { new(ChatRole.System, prompts.System) }).ToArray();
        var usage = new TokenUsage[_agents.Length];
        var rounds = new List<Turn[]>();
        int reasks = 0;
        bool consensus = false;
        var demonstrations = Options.Demonstrations.ToArray();
        for (int round = 0; round <= Options.MaxRounds; round++)
        {
            string prompt = round == 0
                ? prompts.FormatInitial(question, task, demonstrations)
                : prompts.FormatDiscussion(question, task, Group(rounds[^1]));
            int r = round;
            var turns = await Task.WhenAll(_agents.Select((c, i) => AskAsync(c, histories[i], prompt, question, task, r, cancellationToken))).ConfigureAwait(false);
            for (int i = 0; i < turns.Length; i++)
            {
                usage[i] += turns[i].Usage;
                reasks += turns[i].Reasks;
            }

            rounds.Add(turns);
            if (turns.All(t => t.Reply is not null) && turns.Select(t => t.Reply!.Answer).Distinct(StringComparer.Ordinal).Count() == 1)
            {
                consensus = true;
                break;
            }
        }

        var builder = InteractionGraph.CreateBuilder().ForQuestion(question).WithTask(task).WithPattern(Options.Pattern);
        foreach (var c in _agents)
        {
            builder.AddAgent(c.Name);
        }

        for (int round = 0; round < rounds.Count; round++)
        {
            for (int i = 0; i < _agents.Length; i++)
            {
                var t = rounds[round][i];
                if (t.Reply is { } reply)
                {
                    builder.AddNode(_agents[i].Name, round, reply.Reasoning, reply.Answer, reply.Confidence);
                }
                else
                {
                    builder.AddNode(new MagNode(_agents[i].Name, round, string.Empty, null, 0.0, false) { IsValid = false, RawText = t.RawText });
                }
            }
        }

        var graph = builder.Build();
        string? team = ConfidenceVote.TeamAnswer(rounds[^1]
            .Select((t, i) => (t, i))
            .Where(x => x.t.Reply is not null)
            .Select(x => new AgentVote(_agents[x.i].Name, x.t.Reply!.Answer, x.t.Reply.Confidence)));
        var agentUsage = _agents.Select((c, i) => (c.Name, usage[i])).ToDictionary(x => x.Name, x => x.Item2, StringComparer.Ordinal);
        return new DiscussionResult(graph, team, team is not null && task.IsCorrect(team, question.GoldAnswer), consensus, agentUsage, reasks);
    }

    /// <summary>
    /// Discusses every question not yet in <paramref name="outputPath"/> and appends each finished MAG to it
    /// (one JSON line, flushed to disk), with a usage entry in the usage log next to it.
    /// </summary>
    /// <param name="questions">The questions; ids must be unique.</param>
    /// <param name="outputPath">The MAG corpus (JSON lines). Created if missing; if it exists, questions already in it are skipped.</param>
    /// <param name="progress">Receives a report after each question.</param>
    /// <param name="cancellationToken">Stops the run; finished MAGs are already on disk, questions in flight are lost and redone by the next run.</param>
    /// <returns>What the run did.</returns>
    /// <exception cref="ArgumentException">Duplicate question ids, or a question's task is unknown.</exception>
    /// <exception cref="InvalidDataException">The existing output has a malformed line (other than an unfinished last line).</exception>
    /// <exception cref="OperationCanceledException">The run was cancelled.</exception>
    public async Task<DiscussionRunSummary> RunAsync(
        IEnumerable<Question> questions,
        string outputPath,
        IProgress<DiscussionProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(questions);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputPath);
        var all = questions.ToList();
        var duplicates = all.GroupBy(q => q.Id, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        if (duplicates.Count > 0)
        {
            throw new ArgumentException($"Question ids must be unique; repeated: {string.Join(", ", duplicates.Take(10))}.", nameof(questions));
        }

        foreach (string taskName in all.Select(q => q.Task).Distinct(StringComparer.Ordinal))
        {
            ResolveTask(taskName);
        }

        using var corpus = await DiscussionCorpus.OpenAsync(outputPath, _logger, cancellationToken).ConfigureAwait(false);
        var todo = all.Where(q => !corpus.Contains(q.Id)).ToList();
        int skipped = all.Count - todo.Count;
        if (skipped > 0)
        {
            DiscussionLog.Resuming(_logger, outputPath, skipped);
        }

        int written = 0, teamCorrect = 0;
        var failed = new List<string>();
        var graphTypes = new SortedDictionary<int, int>();
        var gate = new SemaphoreSlim(1, 1);
        using (gate)
        {
            await Parallel.ForEachAsync(
                todo,
                new ParallelOptions { MaxDegreeOfParallelism = Options.MaxConcurrentQuestions, CancellationToken = cancellationToken },
                async (question, ct) =>
                {
                    DiscussionResult? result = null;
                    Exception? error = null;
                    try
                    {
                        result = await DiscussAsync(question, ct).ConfigureAwait(false);
                    }
                    catch (Exception ex) when (!ct.IsCancellationRequested && ex is not OperationCanceledException)
                    {
                        error = ex;
                    }
                    catch (OperationCanceledException ex) when (!ct.IsCancellationRequested)
                    {
                        error = ex;
                    }

                    // Writing is not cancellable: a finished MAG always reaches the disk whole.
                    await gate.WaitAsync(CancellationToken.None).ConfigureAwait(false);
                    try
                    {
                        if (result is not null)
                        {
                            corpus.Append(result);
                            written++;
                            teamCorrect += result.TeamCorrect ? 1 : 0;
                            graphTypes[result.Graph.InteractionRounds] = graphTypes.GetValueOrDefault(result.Graph.InteractionRounds) + 1;
                            DiscussionLog.QuestionDone(_logger, question.Id, result.Graph.InteractionRounds, result.TeamAnswer ?? "(none)",
                                result.TeamCorrect ? "correct" : "incorrect", result.TotalUsage.TotalTokens);
                        }
                        else
                        {
                            failed.Add(question.Id);
                            DiscussionLog.QuestionFailed(_logger, error!, question.Id);
                        }

                        progress?.Report(new DiscussionProgress(question.Id, written, skipped, failed.Count, all.Count, result, corpus.RunningTotal, corpus.RunningTotalByAgent));
                    }
                    finally
                    {
                        gate.Release();
                    }
                }).ConfigureAwait(false);
        }

        DiscussionLog.RunFinished(_logger, written, skipped, failed.Count, corpus.RunningTotal.TotalTokens);
        return new DiscussionRunSummary(outputPath, corpus.UsagePath, written, skipped, failed, graphTypes, teamCorrect, corpus.RunningTotal, corpus.RunningTotalByAgent);
    }

    private static ReasoningTask ResolveTask(string name)
    {
        SyntheticTasks.EnsureRegistered();
        return ReasoningTasks.Get(name);
    }

    private static List<AnswerGroup> Group(Turn[] previous) =>
        previous
            .Where(t => t.Reply is not null)
            .Select((t, i) => (t.Reply!, i))
            .GroupBy(x => x.Item1.Answer, StringComparer.Ordinal)
            .OrderByDescending(g => g.Count()).ThenBy(g => g.Min(x => x.i))
            .Select(g => new AnswerGroup(g.Key, g.Select(x => (x.Item1.Reasoning, x.Item1.Confidence)).ToList()))
            .ToList();

    private async Task<Turn> AskAsync(DiscussionAgent agent, List<ChatMessage> history, string prompt, Question question, ReasoningTask task, int round, CancellationToken ct)
    {
        var messages = new List<ChatMessage>(history) { new(ChatRole.User, prompt) };
        var usage = default(TokenUsage);
        string raw = string.Empty;
        for (int attempt = 0; ; attempt++)
        {
            // A copy of the agent's options per call: a client may change the options it is given.
            var response = await agent.Client.GetResponseAsync(messages, agent.Options?.Clone(), ct).ConfigureAwait(false);
            usage += TokenUsage.FromDetails(response.Usage);
            raw = response.Text;
            var parsed = DiscussionReplyParser.Parse(raw, task);
            if (parsed.Reply is { } reply)
            {
                history.Add(new ChatMessage(ChatRole.User, prompt));
                history.Add(new ChatMessage(ChatRole.Assistant, raw));
                return new Turn(reply, raw, usage, attempt);
            }

            if (attempt >= Options.MaxReasks)
            {
                DiscussionLog.InvalidNode(_logger, agent.Name, question.Id, round, Options.MaxReasks);
                history.Add(new ChatMessage(ChatRole.User, prompt));
                history.Add(new ChatMessage(ChatRole.Assistant, raw));
                return new Turn(null, Truncate(raw, DiscussionReplyParser.MaxReplyLength), usage, attempt);
            }

            DiscussionLog.Reasking(_logger, agent.Name, question.Id, round, parsed.Error!, attempt + 1, Options.MaxReasks);
            messages.Add(new ChatMessage(ChatRole.Assistant, raw));
            messages.Add(new ChatMessage(ChatRole.User, Options.Prompts.FormatReask(parsed.Error!, task)));
        }
    }

    /// <summary>Keeps the raw text of an invalid node within the readers' limit (without splitting a surrogate pair).</summary>
    private static string Truncate(string text, int max)
    {
        if (text.Length <= max)
        {
            return text;
        }

        int cut = char.IsHighSurrogate(text[max - 1]) ? max - 1 : max;
        return text[..cut];
    }

    private sealed record Turn(AgentReply? Reply, string RawText, TokenUsage Usage, int Reasks);
}

using System.Globalization;
using MagDi.Tasks;

namespace MagDi.Graphs;

/// <summary>
/// Builds an <see cref="InteractionGraph"/> in code. Every <c>With…</c>/<c>Add…</c> method returns the
/// builder; <see cref="Build"/> validates everything and throws one <see cref="InvalidGraphException"/>
/// listing all problems.
/// </summary>
/// <example>
/// <code>
/// var graph = InteractionGraph.CreateBuilder()
///     .ForQuestion(new Question("q1", "gsm8k", "What is 6 * 7?", "42"))
///     .AddNode("claude", 0, "6 * 7 = 42.", "42", 0.9)
///     .AddNode("gpt4", 0, "6 * 7 = 48.", "48", 0.6)
///     .AddNode("claude", 1, "Still 42.", "42", 0.95)
///     .AddNode("gpt4", 1, "I was wrong, 42.", "42", 0.9)
///     .Build();
/// </code>
/// </example>
public sealed class InteractionGraphBuilder
{
    private readonly List<string> _agents = [];
    private readonly List<NodeSpec> _nodes = [];
    private readonly List<AnswerChoice> _choices = [];
    private readonly List<GraphProblem> _earlyProblems = [];
    private string? _id;
    private string? _taskName;
    private ReasoningTask? _task;
    private string? _question;
    private string? _gold;
    private InteractionPattern _pattern = InteractionPattern.ReConcile;

    internal InteractionGraphBuilder()
    {
    }

    /// <summary>Sets the question id.</summary>
    /// <param name="id">The id.</param>
    /// <returns>This builder.</returns>
    public InteractionGraphBuilder WithId(string id)
    {
        _id = id;
        return this;
    }

    /// <summary>Sets the task by name or alias; it must be registered in <see cref="ReasoningTasks"/>.</summary>
    /// <param name="task">The task name, for example <c>gsm8k</c> or <c>SQA</c>.</param>
    /// <returns>This builder.</returns>
    public InteractionGraphBuilder WithTask(string task)
    {
        _taskName = task;
        _task = null;
        return this;
    }

    /// <summary>Sets the task directly (it need not be registered).</summary>
    /// <param name="task">The task.</param>
    /// <returns>This builder.</returns>
    public InteractionGraphBuilder WithTask(ReasoningTask task)
    {
        ArgumentNullException.ThrowIfNull(task);
        _task = task;
        _taskName = task.Name;
        return this;
    }

    /// <summary>Sets the question text and, optionally, its answer choices.</summary>
    /// <param name="text">The question text.</param>
    /// <param name="choices">The answer choices, if the task has them.</param>
    /// <returns>This builder.</returns>
    public InteractionGraphBuilder WithQuestion(string text, IEnumerable<AnswerChoice>? choices = null)
    {
        _question = text;
        _choices.Clear();
        if (choices is not null)
        {
            _choices.AddRange(choices);
        }

        return this;
    }

    /// <summary>Sets the gold answer.</summary>
    /// <param name="goldAnswer">The gold answer.</param>
    /// <returns>This builder.</returns>
    public InteractionGraphBuilder WithGoldAnswer(string goldAnswer)
    {
        _gold = goldAnswer;
        return this;
    }

    /// <summary>Sets id, task, question text, choices and gold answer from a question.</summary>
    /// <param name="question">The question.</param>
    /// <returns>This builder.</returns>
    public InteractionGraphBuilder ForQuestion(Question question)
    {
        ArgumentNullException.ThrowIfNull(question);
        return WithId(question.Id).WithTask(question.Task).WithQuestion(question.Text, question.Choices).WithGoldAnswer(question.GoldAnswer);
    }

    /// <summary>Sets the interaction pattern that produces the edges (default <see cref="InteractionPattern.ReConcile"/>).</summary>
    /// <param name="pattern">The pattern.</param>
    /// <returns>This builder.</returns>
    public InteractionGraphBuilder WithPattern(InteractionPattern pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        _pattern = pattern;
        return this;
    }

    /// <summary>Declares an agent. Agents order the nodes within a round; agents first seen in <c>AddNode</c> are appended in order of appearance.</summary>
    /// <param name="agent">The agent name.</param>
    /// <returns>This builder.</returns>
    public InteractionGraphBuilder AddAgent(string agent)
    {
        if (string.IsNullOrWhiteSpace(agent))
        {
            _earlyProblems.Add(new GraphProblem($"agents[{_agents.Count}]", "agent name is empty"));
        }
        else if (_agents.Contains(agent, StringComparer.Ordinal))
        {
            _earlyProblems.Add(new GraphProblem($"agents[{_agents.Count}]", $"agent '{agent}' is declared twice"));
        }
        else
        {
            _agents.Add(agent);
        }

        return this;
    }

    /// <summary>Adds what <paramref name="agent"/> said in <paramref name="round"/>.</summary>
    /// <param name="agent">The agent name.</param>
    /// <param name="round">The round, from 0.</param>
    /// <param name="reasoning">The reasoning chain.</param>
    /// <param name="answer">The answer, or <see langword="null"/> if none was given.</param>
    /// <param name="confidence">The confidence in [0,1], if given.</param>
    /// <param name="isCorrect">The correctness label; when <see langword="null"/> it is computed with the task's <see cref="ReasoningTask.IsCorrect"/> against the gold answer.</param>
    /// <returns>This builder.</returns>
    public InteractionGraphBuilder AddNode(string agent, int round, string reasoning, string? answer, double? confidence = null, bool? isCorrect = null)
    {
        _nodes.Add(new NodeSpec(agent, round, reasoning, answer, confidence, isCorrect, true, null));
        return this;
    }

    /// <summary>Adds a node exactly as given, including its correctness label, validity and raw text.</summary>
    /// <param name="node">The node.</param>
    /// <returns>This builder.</returns>
    public InteractionGraphBuilder AddNode(MagNode node)
    {
        ArgumentNullException.ThrowIfNull(node);
        _nodes.Add(new NodeSpec(node.Agent, node.Round, node.Reasoning, node.Answer, node.Confidence, node.IsCorrect, node.IsValid, node.RawText));
        return this;
    }

    /// <summary>Adds a node for a reply that could not be parsed: invalid, incorrect, no answer, raw text kept.</summary>
    /// <param name="agent">The agent name.</param>
    /// <param name="round">The round.</param>
    /// <param name="rawText">The agent's raw reply.</param>
    /// <returns>This builder.</returns>
    public InteractionGraphBuilder AddInvalidNode(string agent, int round, string rawText)
    {
        _nodes.Add(new NodeSpec(agent, round, string.Empty, null, null, false, false, rawText));
        return this;
    }

    /// <summary>Validates everything and creates the graph.</summary>
    /// <returns>The graph.</returns>
    /// <exception cref="InvalidGraphException">Anything is missing or inconsistent; the exception lists every problem.</exception>
    public InteractionGraph Build()
    {
        var problems = new List<GraphProblem>(_earlyProblems);
        if (string.IsNullOrWhiteSpace(_id))
        {
            problems.Add(new GraphProblem("id", "is required"));
        }

        var task = _task;
        if (task is null)
        {
            if (string.IsNullOrWhiteSpace(_taskName))
            {
                problems.Add(new GraphProblem("task", "is required"));
            }
            else if (!ReasoningTasks.TryGet(_taskName, out task))
            {
                problems.Add(new GraphProblem("task", $"unknown task '{_taskName}' (known: {string.Join(", ", ReasoningTasks.KnownNames)})"));
            }
        }

        if (string.IsNullOrWhiteSpace(_question))
        {
            problems.Add(new GraphProblem("question", "is required"));
        }

        if (_gold is null)
        {
            problems.Add(new GraphProblem("gold_answer", "is required"));
        }

        for (var c = 0; c < _choices.Count; c++)
        {
            if (_choices[c] is null || string.IsNullOrWhiteSpace(_choices[c].Label))
            {
                problems.Add(new GraphProblem($"choices[{c}].label", "is required"));
            }
        }

        if (_nodes.Count == 0)
        {
            problems.Add(new GraphProblem("nodes", "the graph is empty (no agent spoke)"));
        }

        var agents = new List<string>(_agents);
        var seen = new Dictionary<(string, int), int>();
        for (var i = 0; i < _nodes.Count; i++)
        {
            var n = _nodes[i];
            var where = $"nodes[{i}]";
            if (string.IsNullOrWhiteSpace(n.Agent))
            {
                problems.Add(new GraphProblem($"{where}.agent", "agent name is empty"));
                continue;
            }

            where = $"{n.Agent}_output_{n.Round.ToString(CultureInfo.InvariantCulture)}";
            if (!agents.Contains(n.Agent, StringComparer.Ordinal))
            {
                agents.Add(n.Agent);
            }

            if (n.Round < 0)
            {
                problems.Add(new GraphProblem($"{where}.round", $"round {n.Round} is negative"));
            }

            if (n.Reasoning is null)
            {
                problems.Add(new GraphProblem($"{where}.reasoning", "is required"));
            }

            if (n.Confidence is { } conf && !(conf >= 0 && conf <= 1))
            {
                problems.Add(new GraphProblem($"{where}.confidence_level", $"confidence {conf.ToString(CultureInfo.InvariantCulture)} is outside [0, 1]"));
            }

            if (!seen.TryAdd((n.Agent, n.Round), i))
            {
                problems.Add(new GraphProblem(where, $"agent '{n.Agent}' has more than one node in round {n.Round}"));
            }
        }

        if (seen.Count > 0)
        {
            var rounds = seen.Keys.Select(k => k.Item2).Where(r => r >= 0).Distinct().Order().ToArray();
            var present = rounds.ToHashSet();
            for (var i = 0; i < rounds.Length; i++)
            {
                if (rounds[i] != i)
                {
                    problems.Add(new GraphProblem($"round {i}", $"round gap: no agent spoke in round {i} but round {rounds[^1]} exists"));
                    break;
                }
            }

            foreach (var (agent, round) in seen.Keys.Where(k => k.Item2 > 0).OrderBy(k => k.Item2))
            {
                if (!seen.ContainsKey((agent, round - 1)) && present.Contains(round - 1))
                {
                    problems.Add(new GraphProblem($"{agent}_output_{round}", $"round gap: agent '{agent}' speaks in round {round} but not in round {round - 1}"));
                }
            }
        }

        GraphShape? shape = null;
        EdgeIndex? edges = null;
        MagNode[] nodes = [];
        if (problems.Count == 0)
        {
            var ordered = _nodes
                .Select(n => (Spec: n, Agent: agents.IndexOf(n.Agent)))
                .OrderBy(x => x.Spec.Round).ThenBy(x => x.Agent)
                .ToArray();
            nodes = ordered.Select(x => ToNode(x.Spec, task!, _gold!)).ToArray();
            shape = new GraphShape(agents.Count, ordered.Select(x => (x.Agent, x.Spec.Round)));
            edges = CreateEdges(_pattern, shape, out var edgeProblem);
            if (edgeProblem is not null)
            {
                problems.Add(edgeProblem);
            }
        }

        if (problems.Count > 0)
        {
            throw new InvalidGraphException(problems);
        }

        return new InteractionGraph(_id!, task!.Name, _question!, Array.AsReadOnly(_choices.ToArray()), _gold!, agents.ToArray(), nodes, _pattern, shape!, edges!);
    }

    internal static EdgeIndex? CreateEdges(InteractionPattern pattern, GraphShape shape, out GraphProblem? problem)
    {
        problem = null;
        try
        {
            var edges = pattern.CreateEdges(shape);
            edges.Validate(shape.NodeCount);
            return edges;
        }
        catch (InvalidOperationException ex)
        {
            problem = new GraphProblem("edges", $"pattern '{pattern.Name}' produced invalid edges: {ex.Message}");
            return null;
        }
    }

    private static MagNode ToNode(NodeSpec n, ReasoningTask task, string gold)
    {
        var correct = n.IsCorrect ?? (n.IsValid && n.Answer is not null && task.IsCorrect(n.Answer, gold));
        return new MagNode(n.Agent, n.Round, n.Reasoning, n.Answer, n.Confidence, correct && n.IsValid)
        {
            IsValid = n.IsValid,
            RawText = n.RawText,
        };
    }

    private sealed record NodeSpec(string Agent, int Round, string Reasoning, string? Answer, double? Confidence, bool? IsCorrect, bool IsValid, string? RawText);
}

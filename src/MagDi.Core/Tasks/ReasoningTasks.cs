using System.Diagnostics.CodeAnalysis;

namespace MagDi.Tasks;

/// <summary>
/// The registry of reasoning tasks, looked up by name or alias, case-insensitively.
/// </summary>
/// <remarks>
/// Built-in tasks (name: aliases): <c>strategyqa</c>: <c>sqa</c>; <c>boolq</c>; <c>commonsenseqa</c>: <c>ecqa</c>, <c>csqa</c>;
/// <c>arc</c>: <c>arc-challenge</c>, <c>arc_challenge</c>; <c>aqua</c>: <c>aqua-rat</c>, <c>aqua_rat</c>; <c>gsm8k</c>; <c>svamp</c>; <c>math</c>.
/// The names of the released MAG files (<c>SQA</c>, <c>ECQA</c>, <c>ARC</c>, <c>GSM8K</c>, <c>MATH</c>) resolve directly.
/// The registry is thread-safe.
/// </remarks>
public static class ReasoningTasks
{
    private static readonly Lock Gate = new();
    private static readonly Dictionary<string, ReasoningTask> ByName = new(StringComparer.OrdinalIgnoreCase);
    private static readonly List<ReasoningTask> Ordered = [];

    static ReasoningTasks()
    {
        foreach (var task in new ReasoningTask[] { StrategyQA, BoolQ, CommonsenseQA, Arc, AquA, Gsm8k, Svamp, Math, Synthetic.SyntheticTasks.Arithmetic, Synthetic.SyntheticTasks.Comparison })
        {
            Register(task);
        }
    }

    /// <summary>StrategyQA: implicit multi-hop yes/no questions (alias <c>sqa</c>).</summary>
    public static YesNoTask StrategyQA { get; } = new("strategyqa", ["sqa"]);

    /// <summary>BoolQ: yes/no questions about a passage.</summary>
    public static YesNoTask BoolQ { get; } = new("boolq");

    /// <summary>CommonsenseQA, five options A..E (aliases <c>ecqa</c>, <c>csqa</c>).</summary>
    public static MultipleChoiceTask CommonsenseQA { get; } = new("commonsenseqa", ["ecqa", "csqa"]);

    /// <summary>ARC-Challenge science questions, options labelled A..E or 1..5.</summary>
    public static MultipleChoiceTask Arc { get; } = new("arc", ["arc-challenge", "arc_challenge"]);

    /// <summary>AQuA-RAT algebra word problems with options A..E.</summary>
    public static MultipleChoiceTask AquA { get; } = new("aqua", ["aqua-rat", "aqua_rat"]);

    /// <summary>GSM8K grade-school math word problems with numeric answers.</summary>
    public static NumericTask Gsm8k { get; } = new("gsm8k");

    /// <summary>SVAMP arithmetic word problems with numeric answers.</summary>
    public static NumericTask Svamp { get; } = new("svamp");

    /// <summary>MATH competition problems with LaTeX answers.</summary>
    public static MathTask Math { get; } = new("math");

    /// <summary>The registered tasks, built-ins first, in registration order.</summary>
    public static IReadOnlyList<ReasoningTask> All
    {
        get
        {
            lock (Gate)
            {
                return Ordered.ToArray();
            }
        }
    }

    /// <summary>Every registered name and alias, sorted.</summary>
    public static IReadOnlyList<string> KnownNames
    {
        get
        {
            lock (Gate)
            {
                return ByName.Keys.Order(StringComparer.OrdinalIgnoreCase).ToArray();
            }
        }
    }

    /// <summary>Finds a task by name or alias, ignoring case.</summary>
    /// <param name="name">The task name, for example <c>gsm8k</c>, <c>SQA</c> or <c>ecqa</c>.</param>
    /// <returns>The task.</returns>
    /// <exception cref="ArgumentException">No task has that name; the message lists the known names.</exception>
    public static ReasoningTask Get(string name)
    {
        if (TryGet(name, out var task))
        {
            return task;
        }

        throw new ArgumentException($"Unknown task '{name}'. Known tasks: {string.Join(", ", KnownNames)}.", nameof(name));
    }

    /// <summary>Finds a task by name or alias, ignoring case.</summary>
    /// <param name="name">The task name.</param>
    /// <param name="task">The task when found.</param>
    /// <returns><see langword="true"/> when a task has that name.</returns>
    public static bool TryGet(string? name, [NotNullWhen(true)] out ReasoningTask? task)
    {
        task = null;
        if (string.IsNullOrWhiteSpace(name))
        {
            return false;
        }

        lock (Gate)
        {
            return ByName.TryGetValue(name.Trim(), out task);
        }
    }

    /// <summary>Adds a task under its name and aliases.</summary>
    /// <param name="task">The task.</param>
    /// <exception cref="InvalidOperationException">Another task already uses the name or one of the aliases.</exception>
    public static void Register(ReasoningTask task)
    {
        ArgumentNullException.ThrowIfNull(task);
        lock (Gate)
        {
            var names = task.Aliases.Prepend(task.Name).ToArray();
            foreach (var n in names)
            {
                if (ByName.TryGetValue(n, out var existing) && !ReferenceEquals(existing, task))
                {
                    throw new InvalidOperationException($"A task named '{n}' is already registered ({existing.Name}).");
                }
            }

            foreach (var n in names)
            {
                ByName[n] = task;
            }

            if (!Ordered.Contains(task))
            {
                Ordered.Add(task);
            }
        }
    }
}

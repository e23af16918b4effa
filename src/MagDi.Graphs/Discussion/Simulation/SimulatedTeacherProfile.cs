using MagDi.Tasks.Synthetic;

namespace MagDi.Graphs.Discussion.Simulation;

/// <summary>How a simulated teacher writes its solutions of synthetic problems.</summary>
public enum TeacherStyle
{
    /// <summary>Short labelled equations, one per event, in the question's order ("After buying 5: 12 + 5 = 17.").</summary>
    Equations,

    /// <summary>
    /// Verbose prose in the question's order, each operation an equation in the sentence ("First, Ann buys 5 more, so the
    /// total becomes 12 + 5 = 17."), or the same facts as hyphen bullets.
    /// </summary>
    Narrative,

    /// <summary>
    /// Gains and losses summed first, then combined; doublings split the work into segments ("Gains: 5 + 8 = 13."). No
    /// default profile writes this way: the ReConcile transcripts' agents all compute in the question's order. It stays as a
    /// teacher whose form of computation differs from the others'.
    /// </summary>
    Grouped,

    /// <summary>
    /// One sentence per event that states it and the equation it gives, framed by a plan and a "Therefore" ("Ann buys 5,
    /// so Ann has 12 + 5 = 17 pens."), or a numbered list of facts with their reasons ("2. After buying 5, Ann has 17 pens
    /// because 12 + 5 = 17.").
    /// </summary>
    Explained,
}

/// <summary>
/// The skills and habits of a <see cref="SimulatedTeacher"/> (a test double for demos and tests, not a model of real LLMs): how often it is right, how it writes, which mistakes it makes,
/// how its confidence relates to being right, how readily it changes its mind, and how messy its replies are.
/// </summary>
/// <remarks>
/// The defaults (<see cref="Defaults"/>) are three teachers that differ the way GPT-4, Claude 2 and Bard differ in the
/// ReConcile transcripts the paper distils: different accuracy, wording and layout (all three compute in the question's
/// order and write equations, as the agents in those transcripts do), different characteristic mistakes, and confidence
/// that is informative but overconfident to different degrees.
/// </remarks>
public sealed record SimulatedTeacherProfile
{
    /// <summary>The teacher's name (also the model id it reports).</summary>
    public required string Name { get; init; }

    /// <summary>Probability of a correct round-0 answer. Default 0.8.</summary>
    public double Accuracy { get; init; } = 0.8;

    /// <summary>How it writes solutions of synthetic problems. Default <see cref="TeacherStyle.Equations"/>.</summary>
    public TeacherStyle Style { get; init; } = TeacherStyle.Equations;

    /// <summary>
    /// The mistakes it makes when it is wrong, with their relative rates (weights need not sum to 1). Default: every kind
    /// equally often.
    /// </summary>
    public IReadOnlyDictionary<ReasoningMistake, double> Mistakes { get; init; } =
        Enum.GetValues<ReasoningMistake>().ToDictionary(m => m, _ => 1.0);

    /// <summary>
    /// How strongly its errors follow a question's shared difficulty, in [0, 1): 0 makes its errors independent of the other
    /// teachers', larger values make teachers fail together on the same questions, as LLMs do. Default 0.4.
    /// </summary>
    public double ErrorCorrelation { get; init; } = 0.4;

    /// <summary>Mean confidence it reports when right. Default 0.92.</summary>
    public double ConfidenceWhenCorrect { get; init; } = 0.92;

    /// <summary>Mean confidence it reports when wrong (close to <see cref="ConfidenceWhenCorrect"/> = overconfident). Default 0.75.</summary>
    public double ConfidenceWhenWrong { get; init; } = 0.75;

    /// <summary>Spread of reported confidences around the means. Default 0.06.</summary>
    public double ConfidenceSpread { get; init; } = 0.06;

    /// <summary>
    /// How readily it keeps its answer when the previous round's majority disagrees: 0 always follows the
    /// majority, 1 never changes its mind. Default 0.4.
    /// </summary>
    public double Stubbornness { get; init; } = 0.4;

    /// <summary>Share of replies wrapped in code fences, single-quoted, or with prose around the JSON. Default 0.15.</summary>
    public double FormatNoiseRate { get; init; } = 0.15;

    /// <summary>Share of replies that are not JSON at all (which a runner must re-ask). Default 0.02.</summary>
    public double MalformedRate { get; init; } = 0.02;

    /// <summary>
    /// The strongest teacher, after GPT-4: concise labelled equations, rare arithmetic slips and skipped steps, well
    /// calibrated and fairly stubborn (accuracy 0.88).
    /// </summary>
    public static SimulatedTeacherProfile Strong(string name = "gpt4") => new()
    {
        Name = name,
        Accuracy = 0.88,
        Style = TeacherStyle.Equations,
        Mistakes = new Dictionary<ReasoningMistake, double>
        {
            [ReasoningMistake.OffByOne] = 0.5,
            [ReasoningMistake.SkippedStep] = 0.3,
            [ReasoningMistake.MisreadQuantity] = 0.2,
        },
        ConfidenceWhenCorrect = 0.95,
        ConfidenceWhenWrong = 0.72,
        ConfidenceSpread = 0.05,
        Stubbornness = 0.6,
        FormatNoiseRate = 0.1,
        MalformedRate = 0.01,
    };

    /// <summary>
    /// A good teacher after Claude 2: verbose prose or bullets, misreads quantities and confuses operations, somewhat overconfident and
    /// open to persuasion (accuracy 0.82).
    /// </summary>
    public static SimulatedTeacherProfile Average(string name = "claude") => new()
    {
        Name = name,
        Accuracy = 0.82,
        Style = TeacherStyle.Narrative,
        Mistakes = new Dictionary<ReasoningMistake, double>
        {
            [ReasoningMistake.MisreadQuantity] = 0.4,
            [ReasoningMistake.WrongOperation] = 0.3,
            [ReasoningMistake.OffByTen] = 0.3,
        },
        ConfidenceWhenCorrect = 0.9,
        ConfidenceWhenWrong = 0.82,
        ConfidenceSpread = 0.06,
        Stubbornness = 0.35,
        FormatNoiseRate = 0.2,
        MalformedRate = 0.02,
    };

    /// <summary>
    /// The weakest teacher, after Bard: explains each step ("so ... = ...", or a numbered list), skips steps and confuses
    /// operations, overconfident and quick to follow the majority (accuracy 0.74).
    /// </summary>
    public static SimulatedTeacherProfile Weak(string name = "bard") => new()
    {
        Name = name,
        Accuracy = 0.74,
        Style = TeacherStyle.Explained,
        Mistakes = new Dictionary<ReasoningMistake, double>
        {
            [ReasoningMistake.SkippedStep] = 0.3,
            [ReasoningMistake.WrongOperation] = 0.3,
            [ReasoningMistake.OffByTen] = 0.2,
            [ReasoningMistake.OffByOne] = 0.2,
        },
        ConfidenceWhenCorrect = 0.9,
        ConfidenceWhenWrong = 0.87,
        ConfidenceSpread = 0.07,
        Stubbornness = 0.15,
        FormatNoiseRate = 0.3,
        MalformedRate = 0.04,
    };

    /// <summary>The three default profiles (<see cref="Strong"/>, <see cref="Average"/>, <see cref="Weak"/>), named like the paper's teachers.</summary>
    public static IReadOnlyList<SimulatedTeacherProfile> Defaults { get; } = [Strong(), Average(), Weak()];

    internal IEnumerable<string> Problems()
    {
        if (string.IsNullOrWhiteSpace(Name)) yield return "Name is required";
        if (Accuracy is < 0 or > 1) yield return $"Accuracy must be in [0,1] (was {Accuracy})";
        if (!Enum.IsDefined(Style)) yield return $"Style '{Style}' is not a TeacherStyle";
        if (ErrorCorrelation is < 0 or >= 1) yield return $"ErrorCorrelation must be in [0,1) (was {ErrorCorrelation})";
        if (Stubbornness is < 0 or > 1) yield return $"Stubbornness must be in [0,1] (was {Stubbornness})";
        if (FormatNoiseRate is < 0 or > 1) yield return $"FormatNoiseRate must be in [0,1] (was {FormatNoiseRate})";
        if (MalformedRate is < 0 or > 1) yield return $"MalformedRate must be in [0,1] (was {MalformedRate})";
        if (ConfidenceWhenCorrect is < 0 or > 1) yield return $"ConfidenceWhenCorrect must be in [0,1] (was {ConfidenceWhenCorrect})";
        if (ConfidenceWhenWrong is < 0 or > 1) yield return $"ConfidenceWhenWrong must be in [0,1] (was {ConfidenceWhenWrong})";
        if (ConfidenceSpread < 0) yield return $"ConfidenceSpread must not be negative (was {ConfidenceSpread})";
        if (Mistakes is null || Mistakes.Count == 0 || !Mistakes.Values.Any(w => w > 0))
        {
            yield return "Mistakes needs at least one kind with a positive rate";
        }
        else if (Mistakes.Any(kv => !Enum.IsDefined(kv.Key) || !(kv.Value >= 0) || double.IsInfinity(kv.Value)))
        {
            yield return "Mistakes rates must be finite and not negative, for defined ReasoningMistake kinds";
        }
    }
}

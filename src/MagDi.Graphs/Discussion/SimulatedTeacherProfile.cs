namespace MagDi.Graphs.Discussion;

/// <summary>The kinds of arithmetic slip a simulated teacher makes on synthetic problems.</summary>
public enum TeacherMistake
{
    /// <summary>One step's result is off by one.</summary>
    OffByOne,

    /// <summary>One step's result is off by ten (a carry error).</summary>
    OffByTen,

    /// <summary>One addition is done as a subtraction or the other way round.</summary>
    WrongOperation,

    /// <summary>One step of the problem is left out.</summary>
    SkippedStep,
}

/// <summary>
/// The skills of a <see cref="SimulatedTeacher"/>: how often it is right, which slips it makes, how its
/// confidence relates to being right, how readily it changes its mind, and how messy its replies are.
/// </summary>
public sealed record SimulatedTeacherProfile
{
    /// <summary>The teacher's name (also the model id it reports).</summary>
    public required string Name { get; init; }

    /// <summary>Probability of solving a question correctly in round 0. Default 0.8.</summary>
    public double Accuracy { get; init; } = 0.8;

    /// <summary>The slips it makes on synthetic problems when it is wrong, drawn uniformly. Default all kinds.</summary>
    public IReadOnlyList<TeacherMistake> TypicalMistakes { get; init; } =
        [TeacherMistake.OffByOne, TeacherMistake.OffByTen, TeacherMistake.WrongOperation, TeacherMistake.SkippedStep];

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

    /// <summary>A strong, well calibrated and fairly stubborn teacher (accuracy 0.9).</summary>
    public static SimulatedTeacherProfile Strong(string name = "gpt4") => new()
    {
        Name = name,
        Accuracy = 0.9,
        ConfidenceWhenCorrect = 0.95,
        ConfidenceWhenWrong = 0.7,
        Stubbornness = 0.6,
        TypicalMistakes = [TeacherMistake.OffByOne, TeacherMistake.SkippedStep],
        FormatNoiseRate = 0.1,
        MalformedRate = 0.01,
    };

    /// <summary>A good, somewhat overconfident teacher that is open to persuasion (accuracy 0.85).</summary>
    public static SimulatedTeacherProfile Average(string name = "claude") => new()
    {
        Name = name,
        Accuracy = 0.85,
        ConfidenceWhenCorrect = 0.9,
        ConfidenceWhenWrong = 0.82,
        Stubbornness = 0.35,
        TypicalMistakes = [TeacherMistake.OffByTen, TeacherMistake.WrongOperation, TeacherMistake.OffByOne],
        FormatNoiseRate = 0.2,
        MalformedRate = 0.02,
    };

    /// <summary>A weaker, overconfident teacher that follows the majority readily (accuracy 0.78).</summary>
    public static SimulatedTeacherProfile Weak(string name = "bard") => new()
    {
        Name = name,
        Accuracy = 0.78,
        ConfidenceWhenCorrect = 0.88,
        ConfidenceWhenWrong = 0.85,
        Stubbornness = 0.15,
        TypicalMistakes = [TeacherMistake.WrongOperation, TeacherMistake.SkippedStep, TeacherMistake.OffByOne, TeacherMistake.OffByTen],
        FormatNoiseRate = 0.3,
        MalformedRate = 0.04,
    };

    /// <summary>The three default profiles (<see cref="Strong"/>, <see cref="Average"/>, <see cref="Weak"/>), named like the paper's teachers.</summary>
    public static IReadOnlyList<SimulatedTeacherProfile> Defaults { get; } = [Strong(), Average(), Weak()];

    internal IEnumerable<string> Problems()
    {
        if (string.IsNullOrWhiteSpace(Name)) yield return "Name is required";
        if (Accuracy is < 0 or > 1) yield return $"Accuracy must be in [0,1] (was {Accuracy})";
        if (Stubbornness is < 0 or > 1) yield return $"Stubbornness must be in [0,1] (was {Stubbornness})";
        if (FormatNoiseRate is < 0 or > 1) yield return $"FormatNoiseRate must be in [0,1] (was {FormatNoiseRate})";
        if (MalformedRate is < 0 or > 1) yield return $"MalformedRate must be in [0,1] (was {MalformedRate})";
        if (ConfidenceWhenCorrect is < 0 or > 1) yield return $"ConfidenceWhenCorrect must be in [0,1] (was {ConfidenceWhenCorrect})";
        if (ConfidenceWhenWrong is < 0 or > 1) yield return $"ConfidenceWhenWrong must be in [0,1] (was {ConfidenceWhenWrong})";
        if (ConfidenceSpread < 0) yield return $"ConfidenceSpread must not be negative (was {ConfidenceSpread})";
        if (TypicalMistakes is null || TypicalMistakes.Count == 0) yield return "TypicalMistakes needs at least one kind";
    }
}

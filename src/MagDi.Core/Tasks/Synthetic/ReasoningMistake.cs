namespace MagDi.Tasks.Synthetic;

/// <summary>The kinds of mistake a solver (a simulated teacher, or a worked solution in a corpus) makes on a synthetic problem.</summary>
public enum ReasoningMistake
{
    /// <summary>An arithmetic slip: one step's result is off by one.</summary>
    OffByOne,

    /// <summary>An arithmetic slip: one step's result is off by ten (a carry error).</summary>
    OffByTen,

    /// <summary>One addition is done as a subtraction or the other way round (a doubling is done as an addition).</summary>
    WrongOperation,

    /// <summary>One step of the problem is left out.</summary>
    SkippedStep,

    /// <summary>A quantity of the question is misread: digits swapped, or another number of the question used instead.</summary>
    MisreadQuantity,
}

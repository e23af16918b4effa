using MagDi.Training;
using MagDi.Training.Experiments;

namespace MagDi.Samples;

/// <summary>Where the samples find the base students shipped with the repository (copied next to the executable).</summary>
internal static class SyntheticBaseModels
{
    /// <summary>The folder of shipped <c>synthetic-base-{fingerprint}</c> checkpoints.</summary>
    public static string Shipped => Path.Combine(AppContext.BaseDirectory, "synthetic-base");

    /// <summary>Whether <paramref name="student"/> names a shipped base student (<c>small</c> or <c>medium</c>); null means the default.</summary>
    public static bool IsKnown(string? student) => student is null or "small" or "medium";

    /// <summary>The error for a <c>--student</c> value that names no shipped base student.</summary>
    public static string UnknownStudent(string? student) => $"--student must be small or medium (was '{student}').";

    /// <summary>The recipe of a shipped base student: the default (<c>small</c>) or <see cref="SyntheticBaseModelOptions.Medium"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="student"/> names no shipped student.</exception>
    public static SyntheticBaseModelOptions Recipe(string student) => student switch
    {
        "small" => new SyntheticBaseModelOptions(),
        "medium" => SyntheticBaseModelOptions.Medium(),
        _ => throw new ArgumentException(UnknownStudent(student)),
    };

    /// <summary>
    /// Points <paramref name="setup"/> at the shipped bases and at <paramref name="student"/>'s recipe. For <c>medium</c>
    /// it also sets the learning rate the quickstart's selection procedure picked for it: the lowest next-token validation
    /// loss of Level 1 (120 steps of 4 MAGs, 100 held-out MAGs) among 3e-3, 1e-2 and 3e-2 (on the current bases: medium
    /// 1.432, 1.620, 1.710; small, by the same procedure, 1.496, 1.396, 1.696, so it keeps 1e-2). docs/quickstart.md has
    /// the whole procedure.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="student"/> names no shipped student.</exception>
    public static SyntheticExperimentOptions UseStudent(SyntheticExperimentOptions setup, string student)
    {
        setup.PrebuiltBaseModels = Shipped;
        setup.BaseModel = Recipe(student);
        if (student == "medium")
        {
            setup.LearningRate = 3e-3;
        }

        return setup;
    }
}

using MagDi.Training;
using MagDi.Training.Experiments;

namespace MagDi.Samples;

/// <summary>Where the samples find the base students shipped with the repository (copied next to the executable).</summary>
internal static class SyntheticBaseModels
{
    /// <summary>The folder of shipped <c>synthetic-base-{fingerprint}</c> checkpoints.</summary>
    public static string Shipped => Path.Combine(AppContext.BaseDirectory, "synthetic-base");

    /// <summary>
    /// Points <paramref name="setup"/> at the shipped bases and, for <c>medium</c>, at the larger student
    /// (<see cref="SyntheticBaseModelOptions.Medium"/>) with the learning rate the quickstart's selection procedure picked
    /// for it: the lowest next-token validation loss of Level 1 (120 steps of 4 MAGs, 100 held-out MAGs) among 3e-3, 1e-2
    /// and 3e-2 (validation losses 1.762, 1.866, 2.352; the small student's, by the same procedure: 1.679, 1.592, 1.703,
    /// so it keeps 1e-2). docs/quickstart.md has the whole procedure.
    /// </summary>
    public static SyntheticExperimentOptions UseStudent(SyntheticExperimentOptions setup, string student)
    {
        setup.PrebuiltBaseModels = Shipped;
        switch (student)
        {
            case "small":
                break;
            case "medium":
                setup.BaseModel = SyntheticBaseModelOptions.Medium();
                setup.LearningRate = 3e-3;
                break;
            default:
                throw new ArgumentException($"--student must be small or medium (was '{student}').");
        }

        return setup;
    }
}

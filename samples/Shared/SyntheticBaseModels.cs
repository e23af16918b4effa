namespace MagDi.Samples;

/// <summary>Where the samples find the base student shipped with the repository (copied next to the executable).</summary>
internal static class SyntheticBaseModels
{
    /// <summary>The folder of shipped <c>synthetic-base-{fingerprint}</c> checkpoints.</summary>
    public static string Shipped => Path.Combine(AppContext.BaseDirectory, "synthetic-base");
}

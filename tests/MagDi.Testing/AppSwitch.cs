namespace MagDi.Testing;

/// <summary>Process-wide <see cref="AppContext"/> switches for tests that compare two code paths in one process.</summary>
public static class AppSwitch
{
    /// <summary>Runs <paramref name="action"/> with the switch <paramref name="name"/> set, then clears it again.</summary>
    /// <remarks>The switch is process-wide: tests that use this belong to a collection with parallelization disabled.</remarks>
    public static T With<T>(string name, Func<T> action)
    {
        ArgumentNullException.ThrowIfNull(action);
        AppContext.SetSwitch(name, true);
        try
        {
            return action();
        }
        finally
        {
            AppContext.SetSwitch(name, false);
        }
    }
}

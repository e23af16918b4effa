namespace MagDi.Testing;

/// <summary>Facts about the machine and the checkout that tests and benchmarks record or need.</summary>
public static class Machine
{
    /// <summary>The CPU's model name from /proc/cpuinfo, or "unknown".</summary>
    public static string CpuModel()
    {
        try
        {
            return File.Exists("/proc/cpuinfo")
                ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? "unknown"
                : "unknown";
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    /// <summary>The 1, 5 and 15 minute load averages from /proc/loadavg, or "unknown": benchmarks record them so a
    /// reader can tell a quiet run from a contended one.</summary>
    public static string LoadAverage()
    {
        try
        {
            return File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "unknown";
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    /// <summary>The repository root: the first folder above the running assembly that holds MagDi.sln.</summary>
    /// <exception cref="InvalidOperationException">No such folder (the assembly runs outside a checkout).</exception>
    public static string RepositoryRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "MagDi.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"Cannot find MagDi.sln above {AppContext.BaseDirectory}.");
    }
}

using System.Runtime.InteropServices;

namespace MagDi.Runtime;

/// <summary>
/// Fork-join for the C# training kernels on libtorch's own OpenMP thread team, when libtorch runs on GNU OpenMP
/// (libgomp: the Linux builds of libtorch). Between two threaded libtorch ops, libtorch's OpenMP workers spin for their
/// spin count (a few milliseconds by default) on the cores a kernel would hand its other parts to, so a
/// <see cref="Parallel.For(int, int, Action{int})"/> part waits behind a spinning OpenMP worker and the loop runs
/// about as long as on one thread (measured: the bf16 cross-entropy, LoRA dropout and RMSNorm-gradient kernels ran
/// while libtorch's second thread spun). <see cref="For"/> instead asks libgomp for a parallel region
/// (<c>GOMP_parallel</c>, what <c>#pragma omp parallel</c> compiles to and what libtorch's <c>at::parallel_for</c>
/// runs), so the parts run on the threads that are already awake, as libtorch's own ops do.
/// </summary>
/// <remarks>
/// This file is compiled into MagDi.Core and linked into MagDi.Losses; it is internal to each.
/// Elsewhere (Windows and macOS builds use other OpenMP runtimes, or libgomp is not loaded) and when the
/// <c>MagDi.DisableOpenMpTeam</c> <see cref="AppContext"/> switch is set, <see cref="For"/> uses
/// <see cref="Parallel.For(int, int, Action{int})"/> as before. Results never depend on which runs the parts.
/// </remarks>
internal static unsafe class OpenMpTeam
{
    /// <summary>The <see cref="AppContext"/> switch that makes <see cref="For"/> use the .NET thread pool.</summary>
    internal const string DisableSwitch = "MagDi.DisableOpenMpTeam";

    private static readonly Lazy<Gomp?> Runtime = new(() =>
    {
        TorchSharp.torch.get_num_threads(); // loads libtorch, and with it libgomp, before the search
        return Gomp.Find();
    });

    /// <summary>Whether <see cref="For"/> runs its parts on libtorch's OpenMP team (libgomp loaded, switch off).</summary>
    internal static bool IsAvailable => !KernelSwitches.IsSet(DisableSwitch) && Runtime.Value is not null;

    /// <summary>
    /// Runs <paramref name="body"/>(0) … <paramref name="body"/>(<paramref name="parts"/> - 1) and returns when all are
    /// done: on libtorch's OpenMP team (at most <paramref name="threads"/> threads, part p on thread p mod team size)
    /// when <see cref="IsAvailable"/>, on the .NET thread pool otherwise. With several parts, an exception in a part is
    /// rethrown inside an <see cref="AggregateException"/> once every part has returned; a single part runs on the caller
    /// and its exception propagates as it is.
    /// </summary>
    internal static void For(int parts, int threads, Action<int> body)
    {
        if (parts <= 1)
        {
            for (int p = 0; p < parts; p++)
            {
                body(p);
            }

            return;
        }

        var job = new Job(body, parts, Runtime.Value);
        if (!IsAvailable)
        {
            Parallel.For(0, parts, job.Run);
        }
        else
        {
            GCHandle handle = GCHandle.Alloc(job);
            try
            {
                job.Gomp!.Parallel(&RunParts, GCHandle.ToIntPtr(handle), (uint)Math.Clamp(threads, 1, parts), 0);
            }
            finally
            {
                handle.Free();
            }
        }

        if (job.Failure is { } failure)
        {
            throw new AggregateException("A CPU kernel part failed.", failure);
        }
    }

    /// <summary>
    /// Splits rows [0, <paramref name="count"/>) into <paramref name="parts"/> contiguous ranges of ⌈count / parts⌉ rows
    /// and runs <paramref name="body"/>(first, end) for each non-empty one, as <see cref="For"/> runs its parts.
    /// </summary>
    internal static void ForRanges(long count, int parts, Action<long, long> body)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(parts, 1);
        long per = (count + parts - 1) / parts;
        For(parts, parts, part =>
        {
            long first = part * per;
            if (first < count)
            {
                body(first, Math.Min(count, first + per));
            }
        });
    }

    // Runs on every thread of the team (the caller is thread 0). Exceptions must not cross into libgomp.
    [UnmanagedCallersOnly]
    private static void RunParts(nint data)
    {
        var job = (Job)GCHandle.FromIntPtr(data).Target!;
        int thread = job.Gomp!.ThreadNumber(), team = Math.Max(1, job.Gomp.TeamSize());
        for (int p = thread; p < job.Parts; p += team)
        {
            job.Run(p);
        }
    }

    /// <summary>
    /// The libgomp files among the mapped files of <paramref name="maps"/> (lines of /proc/self/maps), libtorch's first:
    /// the one in libtorch_cpu.so's directory, then the others in the order they are mapped.
    /// </summary>
    internal static IReadOnlyList<string> LibgompCandidates(IEnumerable<string> maps)
    {
        var candidates = new List<string>();
        string? torchDirectory = null;
        foreach (string line in maps)
        {
            int slash = line.IndexOf('/', StringComparison.Ordinal);
            if (slash < 0)
            {
                continue;
            }

            string path = line[slash..];
            string name = Path.GetFileName(path);
            if (name.StartsWith("libgomp", StringComparison.Ordinal) && !candidates.Contains(path))
            {
                candidates.Add(path);
            }
            else if (name == "libtorch_cpu.so")
            {
                torchDirectory ??= Path.GetDirectoryName(path);
            }
        }

        return [.. candidates.OrderBy(path => Path.GetDirectoryName(path) == torchDirectory ? 0 : 1)];
    }

    private sealed class Job(Action<int> body, int parts, Gomp? gomp)
    {
        public readonly int Parts = parts;
        public readonly Gomp? Gomp = gomp;
        public Exception? Failure;

        /// <summary>Part <paramref name="part"/>; its exception is kept (the first one) so that every other part still runs.</summary>
        public void Run(int part)
        {
            try
            {
                body(part);
            }
            catch (Exception e)
            {
                Interlocked.CompareExchange(ref Failure, e, null);
            }
        }
    }

    /// <summary>The libgomp that libtorch loaded into this process, found by its mapped file.</summary>
    private sealed class Gomp
    {
        private readonly delegate* unmanaged<delegate* unmanaged<nint, void>, nint, uint, uint, void> _parallel;
        private readonly delegate* unmanaged<int> _threadNumber;
        private readonly delegate* unmanaged<int> _teamSize;

        private Gomp(nint parallel, nint threadNumber, nint teamSize)
        {
            _parallel = (delegate* unmanaged<delegate* unmanaged<nint, void>, nint, uint, uint, void>)parallel;
            _threadNumber = (delegate* unmanaged<int>)threadNumber;
            _teamSize = (delegate* unmanaged<int>)teamSize;
        }

        public void Parallel(delegate* unmanaged<nint, void> body, nint data, uint threads, uint flags) => _parallel(body, data, threads, flags);

        public int ThreadNumber() => _threadNumber();

        public int TeamSize() => _teamSize();

        /// <summary>
        /// The libgomp mapped into this process (libtorch's, under its hashed soname such as libgomp-98b21ff3.so.1), or
        /// null when there is none: another OS, an OpenMP runtime other than GNU's, or libtorch not loaded yet. When more
        /// than one libgomp is mapped (an application may load the system's too), the one beside libtorch_cpu.so is
        /// libtorch's. Loading a mapped path returns the instance already loaded, so the team is libtorch's.
        /// </summary>
        public static Gomp? Find()
        {
            if (!OperatingSystem.IsLinux())
            {
                return null;
            }

            IReadOnlyList<string> candidates;
            try
            {
                candidates = LibgompCandidates(File.ReadLines("/proc/self/maps"));
            }
            catch (IOException)
            {
                return null;
            }

            foreach (string path in candidates)
            {
                if (NativeLibrary.TryLoad(path, out nint library)
                    && NativeLibrary.TryGetExport(library, "GOMP_parallel", out nint parallel)
                    && NativeLibrary.TryGetExport(library, "omp_get_thread_num", out nint threadNumber)
                    && NativeLibrary.TryGetExport(library, "omp_get_num_threads", out nint teamSize))
                {
                    return new Gomp(parallel, threadNumber, teamSize);
                }
            }

            return null;
        }
    }
}

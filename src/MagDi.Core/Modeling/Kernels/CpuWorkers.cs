using System.Diagnostics;

namespace MagDi.Modeling.Kernels;

/// <summary>
/// Fork-join for the CPU kernels: the calling thread and a few dedicated workers each run one part of a loop.
/// A decoding step calls the kernels some forty times, 10-30 µs each, with a few µs of libtorch ops between them;
/// <see cref="Parallel.For(int, int, Action{int})"/> costs about that much per call to wake thread-pool threads, so the
/// workers here spin on a counter for <see cref="SpinMicroseconds"/> after each part (staying hot across the calls of
/// a step, as OpenMP's workers do) and then sleep on an event until the next call.
/// <para>
/// The kernels only run inside a one-token decoding step (<see cref="ForwardKernels.CpuDecode"/>), where every libtorch op
/// is small enough to run on the calling thread: libtorch's OpenMP team sleeps and the workers have the other cores.
/// Next to libtorch's threaded matmuls (prefill, recomputation, training) the two spinning teams take cores from each
/// other; a full-sequence forward got up to 2.5x slower that way on the benchmark machine.
/// </para>
/// </summary>
internal static class CpuWorkers
{
    /// <summary>How long an idle worker keeps checking for work before it sleeps.</summary>
    private const int SpinMicroseconds = 200;

    /// <summary>Below this much memory traffic per part, handing a part to a worker costs more than it saves.</summary>
    private const long MinBytesPerPart = 16 * 1024;

    private static int _busy;
    private static readonly List<Worker> Workers = [];
    private static Action<int>? _body;
    private static int _pending;
    private static Exception? _failure;

    /// <summary>The number of parts worth splitting <paramref name="bytes"/> of memory traffic into on this thread.</summary>
    public static int PartsFor(long bytes) =>
        bytes >= MinBytesPerPart * 2 ? (int)Math.Min(TorchSharp.torch.get_num_threads(), bytes / MinBytesPerPart) : 1;

    /// <summary>
    /// Runs <paramref name="body"/>(0) … <paramref name="body"/>(<paramref name="parts"/> - 1), part 0 on the calling
    /// thread and the others on workers, and returns when all are done. When a loop is already running here (on another
    /// thread, or this one from inside a part), all parts run on the calling thread instead.
    /// </summary>
    public static void For(int parts, Action<int> body)
    {
        if (parts <= 1 || Interlocked.CompareExchange(ref _busy, 1, 0) != 0)
        {
            for (int p = 0; p < parts; p++)
            {
                body(p);
            }

            return;
        }

        try
        {
            while (Workers.Count < parts - 1)
            {
                Workers.Add(new Worker());
            }

            _body = body;
            _failure = null;
            Volatile.Write(ref _pending, parts - 1);
            for (int p = 1; p < parts; p++)
            {
                Workers[p - 1].Start(p);
            }

            Exception? own = null;
            try
            {
                body(0);
            }
            catch (Exception e)
            {
                own = e;                                 // the workers still hold the body: wait for them first
            }

            var spin = new SpinWait();
            while (Volatile.Read(ref _pending) > 0)
            {
                spin.SpinOnce(sleep1Threshold: -1);
            }

            _body = null;
            if ((own ?? _failure) is { } failure)
            {
                throw new AggregateException("A CPU kernel part failed.", failure);
            }
        }
        finally
        {
            Volatile.Write(ref _busy, 0);
        }
    }

    [System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001", Justification = "Workers live as long as the process, like OpenMP's.")]
    private sealed class Worker
    {
        private readonly ManualResetEventSlim _wake = new(false, spinCount: 1);
        private int _part;
        private int _ticket;

        public Worker()
        {
            new Thread(Loop) { IsBackground = true, Name = "MagDi CPU kernel worker" }.Start();
        }

        public void Start(int part)
        {
            _part = part;
            Interlocked.Increment(ref _ticket);
            _wake.Set();
        }

        private void Loop()
        {
            int seen = 0;
            while (true)
            {
                // Spin for new work first; sleep on the event once the budget is spent.
                long deadline = Stopwatch.GetTimestamp() + (Stopwatch.Frequency * SpinMicroseconds / 1_000_000);
                while (Volatile.Read(ref _ticket) == seen)
                {
                    if (Stopwatch.GetTimestamp() < deadline)
                    {
                        Thread.SpinWait(20);
                        continue;
                    }

                    // Reset, then look once more: Start raises the ticket before it sets the event, so work that
                    // arrives from here on either shows in the ticket or sets the event after this reset.
                    _wake.Reset();
                    if (Volatile.Read(ref _ticket) == seen)
                    {
                        _wake.Wait();
                    }
                }

                seen = Volatile.Read(ref _ticket);
                try
                {
                    _body!(_part);
                }
                catch (Exception e)
                {
                    _failure = e;
                }
                finally
                {
                    Interlocked.Decrement(ref _pending);
                }
            }
        }
    }
}

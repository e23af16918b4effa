using Microsoft.Extensions.Logging;

namespace MagDi.Cli.Infrastructure;

/// <summary>
/// A logger factory that writes library log messages (warnings and errors; everything at <c>--verbose</c>) to the verb's
/// stderr as <c>warning: ...</c> / <c>error: ...</c> lines, with the reason of a logged exception (its message and the
/// messages of its inner exceptions; the stack trace only at <c>--verbose</c>). Thread-safe: writes under <see cref="Gate"/>.
/// </summary>
/// <param name="error">Where the lines go.</param>
/// <param name="verbose">Also write information messages and stack traces.</param>
internal sealed class CliLoggerFactory(TextWriter error, bool verbose) : ILoggerFactory
{
    /// <summary>The lock every writer of <paramref name="error"/> shares while this factory is in use.</summary>
    public Lock Gate { get; } = new();

    public ILogger CreateLogger(string categoryName) => new CliLogger(this);

    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException("CliLoggerFactory writes to stderr only.");

    public void Dispose()
    {
    }

    /// <summary>The reason of an exception in one line per cause: the message of each exception in the chain.</summary>
    public static string Reason(Exception exception)
    {
        var parts = new List<string>();
        for (Exception? e = exception; e is not null && parts.Count < 5; e = e.InnerException)
        {
            string message = e.Message.Trim();
            if (message.Length > 0 && !parts.Any(p => p.Contains(message, StringComparison.Ordinal)))
            {
                parts.Add(message);
            }
        }

        return string.Join(": ", parts);
    }

    private void Write(LogLevel level, string message, Exception? exception)
    {
        string prefix = level >= LogLevel.Error ? "error" : level == LogLevel.Warning ? "warning" : "info";
        string text = exception is null ? message : $"{message}: {Reason(exception)}";
        lock (Gate)
        {
            error.WriteLine($"{prefix}: {Terminal.Paragraph(text)}");
            if (verbose && exception is not null)
            {
                error.WriteLine(exception.ToString());
            }
        }
    }

    private sealed class CliLogger(CliLoggerFactory owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= (owner.IsVerbose ? LogLevel.Information : LogLevel.Warning) && logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                owner.Write(logLevel, formatter(state, exception), exception);
            }
        }
    }

    private bool IsVerbose => verbose;
}

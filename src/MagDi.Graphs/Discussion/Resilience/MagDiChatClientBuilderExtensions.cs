using MagDi.Graphs.Discussion;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Microsoft.Extensions.AI;

/// <summary>Adds MagDi's chat-client middleware to a <see cref="ChatClientBuilder"/> pipeline.</summary>
public static class MagDiChatClientBuilderExtensions
{
    /// <summary>
    /// Adds a <see cref="ResilientChatClient"/>: retries with backoff on transient errors (<c>Retry-After</c> honoured),
    /// an optional rate limit and a per-attempt timeout. Put a cache before it (<c>.UseDistributedCache().UseMagDiResilience()</c>)
    /// so that cached replies skip the rate limit.
    /// </summary>
    /// <param name="builder">The pipeline.</param>
    /// <param name="options">The settings; <see langword="null"/> for the defaults.</param>
    /// <param name="loggerFactory">Logs retries; <see langword="null"/> to take the <see cref="ILoggerFactory"/> of the service provider, if any.</param>
    /// <param name="timeProvider">The clock; <see langword="null"/> to take the <see cref="TimeProvider"/> of the service provider, else <see cref="TimeProvider.System"/>.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">When the pipeline is built: the options are invalid.</exception>
    public static ChatClientBuilder UseMagDiResilience(
        this ChatClientBuilder builder, ChatResilienceOptions? options = null, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Use((innerClient, services) =>
        {
            var logs = loggerFactory ?? services.GetService<ILoggerFactory>();
            return new ResilientChatClient(
                innerClient, options, logs?.CreateLogger<ResilientChatClient>(), timeProvider ?? services.GetService<TimeProvider>());
        });
    }

    /// <summary>Adds a <see cref="ResilientChatClient"/> with settings made in code.</summary>
    /// <param name="builder">The pipeline.</param>
    /// <param name="configure">Changes the default settings.</param>
    /// <returns>The builder.</returns>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">When the pipeline is built: the options are invalid.</exception>
    public static ChatClientBuilder UseMagDiResilience(this ChatClientBuilder builder, Action<ChatResilienceOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(configure);
        var options = new ChatResilienceOptions();
        configure(options);
        return builder.UseMagDiResilience(options);
    }

    /// <summary>Counts the calls that reach this point of the pipeline and the tokens their replies report, in <paramref name="counter"/>.</summary>
    /// <param name="builder">The pipeline.</param>
    /// <param name="counter">Receives the counts.</param>
    /// <returns>The builder.</returns>
    public static ChatClientBuilder UseTokenUsageCounter(this ChatClientBuilder builder, TokenUsageCounter counter)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(counter);
        return builder.Use(innerClient => new TokenUsageCountingChatClient(innerClient, counter));
    }
}

using MagDi.Graphs.Discussion;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers MagDi's multi-agent discussions with dependency injection.</summary>
public static class MagDiDiscussionServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="DiscussionOptions"/> to <paramref name="section"/> (for example <c>configuration.GetSection("MagDi:Discussions")</c>),
    /// validates them when the host starts (every problem in one <see cref="OptionsValidationException"/>, including agents
    /// without a keyed <c>IChatClient</c>) and registers <see cref="IDiscussionRunnerFactory"/>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <param name="section">The configuration section.</param>
    /// <returns>The options builder, to configure further.</returns>
    public static OptionsBuilder<DiscussionOptions> AddMagDiDiscussions(this IServiceCollection services, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        return services.AddMagDiDiscussionsCore().Bind(section);
    }

    /// <summary>Registers <see cref="DiscussionOptions"/> configured in code, validated on start, and <see cref="IDiscussionRunnerFactory"/>.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the options (at least <see cref="DiscussionOptions.Agents"/>).</param>
    /// <returns>The options builder, to configure further.</returns>
    public static OptionsBuilder<DiscussionOptions> AddMagDiDiscussions(this IServiceCollection services, Action<DiscussionOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        return services.AddMagDiDiscussionsCore().Configure(configure);
    }

    private static OptionsBuilder<DiscussionOptions> AddMagDiDiscussionsCore(this IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DiscussionOptions>, DiscussionOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<DiscussionOptions>, DiscussionAgentsValidator>());
        services.TryAddSingleton<IDiscussionRunnerFactory>(sp => new DiscussionRunnerFactory(
            sp, sp.GetRequiredService<IOptionsMonitor<DiscussionOptions>>(), sp.GetService<Logging.ILoggerFactory>(), sp.GetService<TimeProvider>()));
        return services.AddOptions<DiscussionOptions>().ValidateOnStart();
    }
}

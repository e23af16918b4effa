using MagDi.Training;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers MagDi training with dependency injection.</summary>
public static class MagDiTrainingServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="MagDiTrainingOptions"/> to <paramref name="section"/> (for example
    /// <c>configuration.GetSection(MagDiTrainingOptions.SectionName)</c>), validates them when the host starts (one
    /// <see cref="OptionsValidationException"/> listing every failure) and registers <see cref="IMagDiTrainerFactory"/>,
    /// which creates trainers with these options and the container's <see cref="ILoggerFactory"/>. Existing registrations
    /// of the factory are kept (<c>TryAdd</c>).
    /// </summary>
    /// <returns>The options builder, to add more configuration or validation.</returns>
    public static OptionsBuilder<MagDiTrainingOptions> AddMagDiTraining(this IServiceCollection services, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        return AddCore(services).Bind(section);
    }

    /// <summary>Registers <see cref="MagDiTrainingOptions"/> configured in code (validated on start) and <see cref="IMagDiTrainerFactory"/>.</summary>
    /// <returns>The options builder, to add more configuration or validation.</returns>
    public static OptionsBuilder<MagDiTrainingOptions> AddMagDiTraining(this IServiceCollection services, Action<MagDiTrainingOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        return AddCore(services).Configure(configure);
    }

    /// <summary>
    /// Binds <see cref="EvaluationOptions"/> to <paramref name="section"/> (for example
    /// <c>configuration.GetSection(EvaluationOptions.SectionName)</c>), validates them when the host starts and registers
    /// <see cref="IMagDiEvaluatorFactory"/> (<c>TryAdd</c>).
    /// </summary>
    /// <returns>The options builder, to add more configuration or validation.</returns>
    public static OptionsBuilder<EvaluationOptions> AddMagDiEvaluation(this IServiceCollection services, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<EvaluationOptions>, EvaluationOptionsValidator>());
        services.TryAddSingleton<IMagDiEvaluatorFactory>(sp => new MagDiEvaluatorFactory(sp.GetRequiredService<IOptions<EvaluationOptions>>()));
        return services.AddOptions<EvaluationOptions>().Bind(section).ValidateOnStart();
    }

    private static OptionsBuilder<MagDiTrainingOptions> AddCore(IServiceCollection services)
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<MagDiTrainingOptions>, MagDiTrainingOptionsValidator>());
        services.TryAddSingleton<IMagDiTrainerFactory>(sp => new MagDiTrainerFactory(
            sp.GetRequiredService<IOptions<MagDiTrainingOptions>>(),
            sp.GetService<ILoggerFactory>()));
        return services.AddOptions<MagDiTrainingOptions>().ValidateOnStart();
    }
}

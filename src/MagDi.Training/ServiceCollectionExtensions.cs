using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MagDi.Training;

/// <summary>Registers MagDi training options with dependency injection.</summary>
public static class MagDiServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="MagDiTrainingOptions"/> to <paramref name="section"/>, validates them (every problem in one message)
    /// and checks them when the host starts.
    /// </summary>
    public static OptionsBuilder<MagDiTrainingOptions> AddMagDiTraining(this IServiceCollection services, IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        services.AddSingleton<IValidateOptions<MagDiTrainingOptions>, MagDiTrainingOptionsValidator>();
        return services.AddOptions<MagDiTrainingOptions>().Bind(section).ValidateOnStart();
    }

    /// <summary>Registers <see cref="MagDiTrainingOptions"/> configured in code, validated on start.</summary>
    public static OptionsBuilder<MagDiTrainingOptions> AddMagDiTraining(this IServiceCollection services, Action<MagDiTrainingOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddSingleton<IValidateOptions<MagDiTrainingOptions>, MagDiTrainingOptionsValidator>();
        return services.AddOptions<MagDiTrainingOptions>().Configure(configure).ValidateOnStart();
    }
}

/// <summary>Validates <see cref="MagDiTrainingOptions"/> for the options framework.</summary>
public sealed class MagDiTrainingOptionsValidator : IValidateOptions<MagDiTrainingOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, MagDiTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> problems = options.GetProblems();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}

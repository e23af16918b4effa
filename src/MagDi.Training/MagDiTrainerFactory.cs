using MagDi.Graphs;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace MagDi.Training;

/// <summary>
/// Creates <see cref="MagDiTrainer"/>s configured from a dependency-injection container: the registered
/// <see cref="MagDiTrainingOptions"/> and logger factory. Registered by <c>services.AddMagDiTraining(...)</c>. What differs
/// per run (the student, the MAGs) is given when a trainer is created.
/// </summary>
/// <example>
/// <code>
/// var factory = provider.GetRequiredService&lt;IMagDiTrainerFactory&gt;();
/// using MagDiTrainer trainer = factory.Create("models/student", mags);
/// TrainingResult result = await trainer.TrainAsync(cancellationToken);
/// </code>
/// </example>
public interface IMagDiTrainerFactory
{
    /// <summary>
    /// A builder that starts from the container's options and logs through its logger factory; add the student and the
    /// MAGs (and any per-run change), then call <see cref="MagDiTrainerBuilder.Build"/>.
    /// </summary>
    /// <exception cref="OptionsValidationException">The container's options are invalid (every failure listed).</exception>
    MagDiTrainerBuilder CreateBuilder();

    /// <summary>
    /// A trainer for the student in <paramref name="studentDirectory"/> (loaded and owned by the trainer; see
    /// <see cref="MagDiTrainerBuilder.UseStudentFromDirectory"/>) on <paramref name="trainingGraphs"/>.
    /// </summary>
    /// <exception cref="OptionsValidationException">A setting is invalid or data is missing (every failure listed).</exception>
    MagDiTrainer Create(
        string studentDirectory,
        IEnumerable<InteractionGraph> trainingGraphs,
        IEnumerable<InteractionGraph>? validationGraphs = null,
        string device = "auto",
        ModelDType dtype = ModelDType.BF16);
}

/// <summary>The container's <see cref="IMagDiTrainerFactory"/>.</summary>
internal sealed class MagDiTrainerFactory(IOptions<MagDiTrainingOptions> options, ILoggerFactory? loggerFactory) : IMagDiTrainerFactory
{
    public MagDiTrainerBuilder CreateBuilder()
    {
        MagDiTrainerBuilder builder = MagDiTrainer.CreateBuilder().WithOptions(options);
        return loggerFactory is null ? builder : builder.UseLogger(loggerFactory);
    }

    public MagDiTrainer Create(
        string studentDirectory,
        IEnumerable<InteractionGraph> trainingGraphs,
        IEnumerable<InteractionGraph>? validationGraphs = null,
        string device = "auto",
        ModelDType dtype = ModelDType.BF16)
    {
        MagDiTrainerBuilder builder = CreateBuilder()
            .UseStudentFromDirectory(studentDirectory, device, dtype)
            .WithTrainingGraphs(trainingGraphs);
        if (validationGraphs is not null)
        {
            builder.WithValidationGraphs(validationGraphs);
        }

        return builder.Build();
    }
}

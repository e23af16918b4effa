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

/// <summary>
/// Creates <see cref="MagDiEvaluator"/>s with the <see cref="EvaluationOptions"/> of a dependency-injection container.
/// Registered by <c>services.AddMagDiEvaluation(...)</c>.
/// </summary>
public interface IMagDiEvaluatorFactory
{
    /// <summary>An evaluator of <paramref name="model"/> (which stays the caller's) with the container's options.</summary>
    /// <exception cref="OptionsValidationException">The container's options are invalid (every failure listed).</exception>
    MagDiEvaluator Create(MagDi.Modeling.CausalLanguageModel model, MagDi.Tokenization.ITextTokenizer tokenizer);
}

/// <summary>The container's <see cref="IMagDiEvaluatorFactory"/>.</summary>
internal sealed class MagDiEvaluatorFactory(IOptions<EvaluationOptions> options) : IMagDiEvaluatorFactory
{
    public MagDiEvaluator Create(MagDi.Modeling.CausalLanguageModel model, MagDi.Tokenization.ITextTokenizer tokenizer) =>
        new(model, tokenizer, options.Value);
}

/// <summary>Validates <see cref="EvaluationOptions"/> for the options framework (every problem is one failure).</summary>
internal sealed class EvaluationOptionsValidator : IValidateOptions<EvaluationOptions>
{
    public ValidateOptionsResult Validate(string? name, EvaluationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> problems = options.GetProblems();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}

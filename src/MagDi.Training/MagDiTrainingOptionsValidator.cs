using Microsoft.Extensions.Options;

namespace MagDi.Training;

/// <summary>Validates <see cref="MagDiTrainingOptions"/> for the options framework (every problem is one failure).</summary>
internal sealed class MagDiTrainingOptionsValidator : IValidateOptions<MagDiTrainingOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, MagDiTrainingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> problems = options.GetProblems();
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }
}

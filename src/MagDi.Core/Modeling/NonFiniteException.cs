using System.Globalization;
using static TorchSharp.torch;

namespace MagDi.Modeling;

/// <summary>
/// NaN or infinite values appeared where a model must produce finite numbers (logits while generating or scoring).
/// The message says where they appeared and, when the model's own weights are to blame, which tensors are non-finite.
/// </summary>
/// <remarks>
/// Non-finite logits never turn into empty text, a NaN score or 0 % accuracy: <see cref="Generation.TextGenerator"/>,
/// <see cref="Generation.TokenScorer"/> and the evaluator throw this instead. The <c>magdi</c> tool maps it to exit code 2
/// (a damaged checkpoint or adapter is bad input).
/// </remarks>
public sealed class NonFiniteException : Exception
{
    /// <summary>Creates the exception.</summary>
    public NonFiniteException()
        : base("A tensor holds NaN or infinite values.")
    {
    }

    /// <summary>Creates the exception with a message.</summary>
    /// <param name="message">Where the values appeared.</param>
    public NonFiniteException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and a cause.</summary>
    /// <param name="message">Where the values appeared.</param>
    /// <param name="innerException">The cause.</param>
    public NonFiniteException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>The tensor that held the values, for example <c>logits</c>.</summary>
    public string TensorName { get; internal init; } = string.Empty;

    /// <summary>The 0-based generation step (0 is the token after the prompt), when the values appeared while generating.</summary>
    public int? Step { get; internal init; }

    /// <summary>Names of the model's weights (state-dict keys) that hold NaN or infinite values, at most ten; empty when every weight is finite.</summary>
    public IReadOnlyList<string> NonFiniteWeights { get; internal init; } = [];

    /// <summary>
    /// Builds the exception for non-finite <paramref name="tensor"/> values found at <paramref name="where"/>, scanning the
    /// model's weights (only now, on failure) to name the ones that are non-finite.
    /// </summary>
    internal static NonFiniteException ForModel(CausalLanguageModel model, string tensor, string where, int? step = null)
    {
        IReadOnlyList<string> weights = FindNonFiniteWeights(model, out int total);
        string cause = weights.Count > 0
            ? string.Create(CultureInfo.InvariantCulture,
                $"; {total} weight tensor(s) of the model are non-finite: {string.Join(", ", weights)}{(total > weights.Count ? ", ..." : string.Empty)}. The checkpoint or adapter is damaged.")
            : "; every weight of the model is finite, so an activation overflowed (try float32 instead of bf16/f16).";
        return new NonFiniteException($"{where} contain NaN or infinite values{cause}") { TensorName = tensor, Step = step, NonFiniteWeights = weights };
    }

    /// <summary>The state-dict keys whose tensors hold a NaN or an infinity (at most ten), and how many there are in all.</summary>
    internal static IReadOnlyList<string> FindNonFiniteWeights(CausalLanguageModel model, out int total)
    {
        var names = new List<string>();
        total = 0;
        using var noGrad = no_grad();
        foreach (var (name, weight) in model.state_dict())
        {
            if (!weight.is_floating_point())
            {
                continue;
            }

            using var scope = NewDisposeScope();
            if (!weight.isfinite().all().item<bool>())
            {
                total++;
                if (names.Count < 10)
                {
                    names.Add(name);
                }
            }
        }

        return names;
    }
}

using Microsoft.Extensions.Options;

namespace MagDi.Losses;

/// <summary>
/// Weights of paper equation 4, L = α·L+ + β·L− + γ·L_I, each in [0, 1].
/// </summary>
/// <remarks>
/// The paper defers the values to its code. The defaults are the released recipe's: 1.0 for the next-token loss,
/// 0.1 for the margin-ranking loss, 1.0 for the node loss. The release names them in another order than equation 4
/// (its "beta" weighs the node loss and its "gamma" the margin loss); here α, β, γ follow equation 4.
/// </remarks>
public sealed class MagDiLossWeights
{
    /// <summary>Creates a <see cref="MagDiLossWeights"/>.</summary>
    /// <param name="alpha">α, weight of the next-token loss L+ on correct chains.</param>
    /// <param name="beta">β, weight of the margin-ranking loss L−.</param>
    /// <param name="gamma">γ, weight of the GCN node-classification loss L_I.</param>
    public MagDiLossWeights(double alpha = 1.0, double beta = 0.1, double gamma = 1.0)
    {
        Alpha = alpha;
        Beta = beta;
        Gamma = gamma;
    }

    /// <summary>α, weight of the next-token loss L+ on correct chains.</summary>
    public double Alpha { get; }

    /// <summary>β, weight of the margin-ranking loss L−.</summary>
    public double Beta { get; }

    /// <summary>γ, weight of the GCN node-classification loss L_I.</summary>
    public double Gamma { get; }

    /// <summary>The released recipe's weights, which are also the defaults: α = 1, β = 0.1, γ = 1.</summary>
    public static MagDiLossWeights Release { get; } = new();

    /// <summary>Only the next-token loss (levels 1 and 2 of the paper).</summary>
    public static MagDiLossWeights NextTokenOnly { get; } = new(1.0, 0.0, 0.0);

    /// <summary>Problems with the weights, empty when valid.</summary>
    internal IReadOnlyList<string> GetProblems()
    {
        var problems = new List<string>();
        Check(Alpha, nameof(Alpha), problems);
        Check(Beta, nameof(Beta), problems);
        Check(Gamma, nameof(Gamma), problems);
        if (problems.Count == 0 && Alpha == 0 && Beta == 0 && Gamma == 0)
        {
            problems.Add("At least one of Alpha, Beta, Gamma must be positive; with all three 0 nothing is trained.");
        }

        return problems;
    }

    /// <summary>Throws once listing every problem.</summary>
    /// <exception cref="OptionsValidationException">A weight is outside [0, 1] or not a number, or all are 0 (every failure listed).</exception>
    public void Validate()
    {
        IReadOnlyList<string> problems = GetProblems();
        if (problems.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(MagDiLossWeights), problems);
        }
    }

    private static void Check(double value, string name, List<string> problems)
    {
        if (!(value >= 0 && value <= 1))
        {
            problems.Add($"{name} must be in [0, 1] (got {value}).");
        }
    }
}

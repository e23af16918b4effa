using Microsoft.Extensions.Options;

namespace MagDi.Lora;

/// <summary>Low-rank adapter settings (the PEFT <c>LoraConfig</c> fields MagDi uses).</summary>
public sealed class LoraOptions
{
    /// <summary>Rank r of the update B·A (default 16).</summary>
    public int Rank { get; set; } = 16;

    /// <summary>Alpha; the update is scaled by alpha / r (default 32).</summary>
    public double Alpha { get; set; } = 32;

    /// <summary>Dropout on the adapter branch's input, training mode only (default 0.05).</summary>
    public double Dropout { get; set; } = 0.05;

    /// <summary>
    /// Names of the linear layers to wrap, any of q/k/v/o_proj, gate/up/down_proj; null (default) wraps
    /// <see cref="DefaultTargetModules"/>. Null rather than a pre-filled list so that a list bound from configuration
    /// replaces the default (<c>ConfigurationBinder</c> appends to a list the property already holds).
    /// </summary>
    public IList<string>? TargetModules { get; set; }

    /// <summary>The layers wrapped when <see cref="TargetModules"/> is null: <c>q_proj</c> and <c>v_proj</c>.</summary>
    public static IReadOnlyList<string> DefaultTargetModules { get; } = ["q_proj", "v_proj"];

    /// <summary>The layers to wrap: <see cref="TargetModules"/>, or the default when it is null.</summary>
    internal IReadOnlyList<string> EffectiveTargetModules => TargetModules is { } targets ? [.. targets] : DefaultTargetModules;

    /// <summary>The scaling alpha / r.</summary>
    public double Scaling => Alpha / Rank;

    /// <summary>Checks all settings and throws once listing every problem.</summary>
    /// <exception cref="OptionsValidationException">Any setting is out of range; <see cref="OptionsValidationException.Failures"/> lists every problem.</exception>
    public void Validate()
    {
        var errors = new List<string>();
        if (Rank < 1)
        {
            errors.Add($"Rank must be at least 1 (got {Rank})");
        }

        if (!(Alpha > 0) || double.IsInfinity(Alpha))
        {
            errors.Add($"Alpha must be a positive finite number (got {Alpha})");
        }

        if (!(Dropout >= 0 && Dropout < 1))
        {
            errors.Add($"Dropout must be in [0, 1) (got {Dropout})");
        }

        if (TargetModules is { Count: 0 })
        {
            errors.Add("TargetModules must name at least one linear layer");
        }
        else if (TargetModules is not null && TargetModules.Any(string.IsNullOrWhiteSpace))
        {
            errors.Add("TargetModules contains an empty name");
        }

        if (errors.Count > 0)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(LoraOptions), errors);
        }
    }
}

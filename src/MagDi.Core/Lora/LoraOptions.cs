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

    /// <summary>Names of the linear layers to wrap (default <c>q_proj</c>, <c>v_proj</c>). Any of q/k/v/o_proj, gate/up/down_proj.</summary>
    public IList<string> TargetModules { get; set; } = ["q_proj", "v_proj"];

    /// <summary>The scaling alpha / r.</summary>
    public double Scaling => Alpha / Rank;

    /// <summary>Checks all settings and throws once listing every problem.</summary>
    /// <exception cref="ArgumentException">Any setting is out of range.</exception>
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

        if (TargetModules is null || TargetModules.Count == 0)
        {
            errors.Add("TargetModules must name at least one linear layer");
        }
        else if (TargetModules.Any(string.IsNullOrWhiteSpace))
        {
            errors.Add("TargetModules contains an empty name");
        }

        if (errors.Count > 0)
        {
            throw new ArgumentException($"Invalid LoRA options: {string.Join("; ", errors)}.");
        }
    }
}

namespace MagDi.Losses;

/// <summary>
/// The built-in pairing strategies by name, for settings bound from configuration or parsed from the command line
/// (<see cref="PairingStrategy.FromKind"/> gives the strategy).
/// </summary>
public enum PairingStrategyKind
{
    /// <summary><see cref="PairingStrategy.Paper"/>: the paper's appendix A (default).</summary>
    Paper,

    /// <summary><see cref="PairingStrategy.Cyclic"/>: the released code.</summary>
    Cyclic,

    /// <summary><see cref="PairingStrategy.AllPairs"/>: every positive with every negative.</summary>
    AllPairs,
}

using MagDi.Losses;
using MagDi.Training;
using Spectre.Console;

namespace MagDi.Cli.Infrastructure;

/// <summary>
/// An option whose value is one of a fixed set of names, parsed case-insensitively into an enum. An unknown value is a
/// validation error (exit 2) that lists every allowed name.
/// </summary>
/// <typeparam name="TEnum">The enum the names stand for.</typeparam>
/// <param name="option">The option, e.g. <c>--pairing</c>.</param>
/// <param name="names">The allowed names (shown in errors), then hidden aliases with <c>Shown</c> false.</param>
internal sealed class CliChoice<TEnum>(string option, params (string Name, TEnum Value, bool Shown)[] names)
    where TEnum : struct, Enum
{
    /// <summary>The value of <paramref name="value"/>, or null when it is not an allowed name.</summary>
    public TEnum? TryParse(string? value)
    {
        string key = (value ?? string.Empty).Trim();
        foreach (var (name, enumValue, _) in names)
        {
            if (string.Equals(name, key, StringComparison.OrdinalIgnoreCase))
            {
                return enumValue;
            }
        }

        return null;
    }

    /// <summary>Success, or an error naming the option, the allowed names and the value given.</summary>
    public ValidationResult Check(string? value) =>
        TryParse(value) is null ? ValidationResult.Error(Message(value)) : ValidationResult.Success();

    /// <summary>The value of <paramref name="value"/>.</summary>
    /// <exception cref="ArgumentException">Not an allowed name (the CLI maps it to exit 2).</exception>
    public TEnum Parse(string? value) => TryParse(value) ?? throw new ArgumentException(Message(value));

    private string Message(string? value) =>
        $"{option} must be one of {string.Join(", ", names.Where(n => n.Shown).Select(n => n.Name))} (got '{value}').";
}

/// <summary>The fixed-choice options of the verbs.</summary>
internal static class CliChoices
{
    /// <summary><c>--pairing</c>: paper, cyclic (alias release), all-pairs.</summary>
    public static CliChoice<PairingStrategyKind> Pairing { get; } = new("--pairing",
        ("paper", PairingStrategyKind.Paper, true),
        ("cyclic", PairingStrategyKind.Cyclic, true),
        ("all-pairs", PairingStrategyKind.AllPairs, true),
        ("release", PairingStrategyKind.Cyclic, false),
        ("allpairs", PairingStrategyKind.AllPairs, false));

    /// <summary><c>--prompt-format</c>: auto, mistral, llama2-chat, chatml, qwen3, plain.</summary>
    public static CliChoice<PromptFormatKind> PromptFormat { get; } = new("--prompt-format",
        ("auto", PromptFormatKind.Auto, true),
        ("mistral", PromptFormatKind.Mistral, true),
        ("llama2-chat", PromptFormatKind.Llama2Chat, true),
        ("chatml", PromptFormatKind.ChatMl, true),
        ("qwen3", PromptFormatKind.Qwen3, true),
        ("plain", PromptFormatKind.Plain, true),
        ("llama2", PromptFormatKind.Llama2Chat, false),
        ("qwen", PromptFormatKind.ChatMl, false));

    /// <summary><c>--dtype</c> where every dtype works: bf16, f32, f16 (CUDA).</summary>
    public static CliChoice<ModelDType> DType { get; } = new("--dtype", DTypeNames(includeF16: true));

    /// <summary><c>--dtype</c> of the verbs that run on CPU too: bf16, f32.</summary>
    public static CliChoice<ModelDType> CpuDType { get; } = new("--dtype", DTypeNames(includeF16: false));

    private static (string, ModelDType, bool)[] DTypeNames(bool includeF16) =>
    [
        ("bf16", ModelDType.BF16, true),
        ("f32", ModelDType.F32, true),
        .. includeF16 ? new[] { ("f16", ModelDType.F16, true) } : [],
        ("bfloat16", ModelDType.BF16, false),
        ("float32", ModelDType.F32, false),
        .. includeF16 ? new[] { ("float16", ModelDType.F16, false) } : [],
    ];
}

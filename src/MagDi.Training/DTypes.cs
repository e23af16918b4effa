using MagDi.Tokenization;
using static TorchSharp.torch;

namespace MagDi.Training;

/// <summary>Converts and parses <see cref="ModelDType"/> names (<c>bf16</c>, <c>f32</c>, <c>f16</c>) as options and the command line spell them.</summary>
public static class DTypes
{
    /// <summary>The scalar type of <paramref name="dtype"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Not a defined value.</exception>
    public static ScalarType ToScalarType(this ModelDType dtype) => dtype switch
    {
        ModelDType.F32 => ScalarType.Float32,
        ModelDType.BF16 => ScalarType.BFloat16,
        ModelDType.F16 => ScalarType.Float16,
        _ => throw new ArgumentOutOfRangeException(nameof(dtype), dtype, "Not a ModelDType; use F32, BF16 or F16."),
    };

    /// <summary>Parses <c>f32</c>/<c>float32</c>, <c>bf16</c>/<c>bfloat16</c>, <c>f16</c>/<c>float16</c> (case-insensitive).</summary>
    /// <returns>False for another name.</returns>
    internal static bool TryParse(string? name, out ModelDType dtype)
    {
        ModelDType? parsed = name?.Trim().ToLowerInvariant() switch
        {
            "f32" or "float32" or "fp32" or "float" => ModelDType.F32,
            "bf16" or "bfloat16" => ModelDType.BF16,
            "f16" or "float16" or "fp16" or "half" => ModelDType.F16,
            _ => null,
        };
        dtype = parsed ?? default;
        return parsed is not null;
    }

    /// <summary>The format named by <paramref name="kind"/>; <see cref="PromptFormatKind.Auto"/> reads the tokenizer's chat template.</summary>
    internal static PromptFormat Resolve(this PromptFormatKind kind, ITextTokenizer? tokenizer) => kind switch
    {
        PromptFormatKind.Auto => PromptFormat.ForTokenizer(tokenizer ?? throw new ArgumentNullException(nameof(tokenizer), "PromptFormat Auto reads the tokenizer's chat template."), PromptFormat.Mistral),
        PromptFormatKind.Mistral => PromptFormat.Mistral,
        PromptFormatKind.Llama2Chat => PromptFormat.Llama2Chat,
        PromptFormatKind.ChatMl => PromptFormat.ChatMl,
        PromptFormatKind.Qwen3 => PromptFormat.Qwen3,
        PromptFormatKind.Plain => PromptFormat.Plain,
        _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "Not a PromptFormatKind."),
    };
}

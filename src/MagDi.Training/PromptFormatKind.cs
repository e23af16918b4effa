using MagDi.Tokenization;

namespace MagDi.Training;

/// <summary>The prompt formats a student can be trained and evaluated with, by name (bindable from configuration).</summary>
public enum PromptFormatKind
{
    /// <summary>From the tokenizer's chat template (<see cref="PromptFormat.ForTokenizer"/>), else Mistral's <c>[INST]</c> (default).</summary>
    Auto,

    /// <summary><see cref="PromptFormat.Mistral"/>.</summary>
    Mistral,

    /// <summary><see cref="PromptFormat.Llama2Chat"/>.</summary>
    Llama2Chat,

    /// <summary><see cref="PromptFormat.ChatMl"/>.</summary>
    ChatMl,

    /// <summary><see cref="PromptFormat.Qwen3"/>.</summary>
    Qwen3,

    /// <summary><see cref="PromptFormat.Plain"/>.</summary>
    Plain,
}

/// <summary>The floating-point type a student's base weights are loaded in (bindable from configuration by name).</summary>
public enum ModelDType
{
    /// <summary>bfloat16: the default; about 6x faster than float32 on CPU and native on recent GPUs.</summary>
    BF16,

    /// <summary>float32.</summary>
    F32,

    /// <summary>float16 (CUDA only).</summary>
    F16,
}

namespace MagDi.Tokenization;

/// <summary>A (prompt, target) pair rendered as text. <c>Prompt + Target</c> is the full training text; a loss masks the prompt.</summary>
public sealed class RenderedExample
{
    /// <summary>Creates a <see cref="RenderedExample"/>.</summary>
    /// <param name="prompt">Everything the model is conditioned on, ending where the assistant's answer starts.</param>
    /// <param name="target">The assistant's answer (with the format's end-of-turn marker, if the format writes one as text).</param>
    public RenderedExample(string prompt, string target)
    {
        Prompt = prompt;
        Target = target;
    }

    /// <summary>Everything the model is conditioned on, ending where the assistant's answer starts.</summary>
    public string Prompt { get; }

    /// <summary>The assistant's answer (with the format's end-of-turn marker, if the format writes one as text).</summary>
    public string Target { get; }
}

/// <summary>
/// How a user message and an assistant answer are wrapped into model input. Built-ins: <see cref="Mistral"/>,
/// <see cref="Llama2Chat"/>, <see cref="ChatMl"/> (Qwen), <see cref="Qwen3"/> and <see cref="Plain"/>. Every format puts the
/// prompt/target boundary where the tokenizers split anyway (before a space, after a newline or a special token),
/// so the prompt's tokens are exactly the first tokens of the whole example.
/// </summary>
public abstract class PromptFormat
{
    /// <summary><c>[INST] {user} [/INST]</c>, target <c>" {answer}"</c> (Mistral-7B-Instruct; the system prompt, if any, is put before the user message).</summary>
    public static PromptFormat Mistral { get; } = new InstFormat("mistral", llama2System: false);

    /// <summary>Llama-2-chat: <c>[INST] &lt;&lt;SYS&gt;&gt;\n{system}\n&lt;&lt;/SYS&gt;&gt;\n\n{user} [/INST]</c>, target <c>" {answer}"</c>.</summary>
    public static PromptFormat Llama2Chat { get; } = new InstFormat("llama2-chat", llama2System: true);

    /// <summary>ChatML (Qwen): <c>&lt;|im_start|&gt;user\n{user}&lt;|im_end|&gt;\n&lt;|im_start|&gt;assistant\n</c>, target <c>{answer}&lt;|im_end|&gt;</c>.</summary>
    public static PromptFormat ChatMl { get; } = new ChatMlFormat("chatml", string.Empty);

    /// <summary>
    /// Qwen3 without thinking: ChatML whose assistant turn starts with an empty think block, as Qwen3's chat template
    /// renders a final answer (and its generation prompt with <c>enable_thinking=false</c>): prompt ends with
    /// <c>&lt;|im_start|&gt;assistant\n&lt;think&gt;\n\n&lt;/think&gt;\n\n</c>, target <c>{answer}&lt;|im_end|&gt;</c>.
    /// </summary>
    public static PromptFormat Qwen3 { get; } = new ChatMlFormat("qwen3", "<think>\n\n</think>\n\n");

    /// <summary>No chat markers: prompt <c>{user}\n</c> (after <c>{system}\n\n</c> if given), target <c>{answer}</c>.</summary>
    public static PromptFormat Plain { get; } = new PlainFormat();

    /// <summary>A short name: <c>mistral</c>, <c>llama2-chat</c>, <c>chatml</c>, <c>qwen3</c> or <c>plain</c>.</summary>
    public abstract string Name { get; }

    /// <summary>Added tokens the tokenizer must have for this format (ChatML's markers); empty for the others.</summary>
    public virtual IReadOnlyList<string> RequiredTokens => [];

    /// <summary>Renders a user message and the assistant's answer.</summary>
    /// <param name="userMessage">The user's message (for MAGDi: the question with its task instructions).</param>
    /// <param name="assistantTarget">The answer the model should learn (for MAGDi: a reasoning chain); empty for a generation prompt.</param>
    /// <param name="systemPrompt">An optional system prompt.</param>
    /// <returns>The rendered prompt and target.</returns>
    public abstract RenderedExample Render(string userMessage, string assistantTarget, string? systemPrompt = null);

    /// <summary>Renders only the prompt, for generation.</summary>
    /// <param name="userMessage">The user's message.</param>
    /// <param name="systemPrompt">An optional system prompt.</param>
    /// <returns>The prompt text.</returns>
    public string RenderPrompt(string userMessage, string? systemPrompt = null) => Render(userMessage, string.Empty, systemPrompt).Prompt;

    /// <summary>The built-in format a Jinja chat template corresponds to, or null when it is not recognised.</summary>
    /// <param name="chatTemplate">The <c>chat_template</c> of tokenizer_config.json.</param>
    /// <returns>Qwen3 for <c>&lt;|im_start|&gt;</c> with <c>&lt;think&gt;</c>, ChatML for <c>&lt;|im_start|&gt;</c>, Llama-2-chat for <c>&lt;&lt;SYS&gt;&gt;</c>, Mistral for <c>[INST]</c>, else null.</returns>
    public static PromptFormat? FromChatTemplate(string? chatTemplate)
    {
        if (string.IsNullOrEmpty(chatTemplate))
        {
            return null;
        }

        if (chatTemplate.Contains("<|im_start|>", StringComparison.Ordinal))
        {
            return chatTemplate.Contains("<think>", StringComparison.Ordinal) ? Qwen3 : ChatMl;
        }

        if (chatTemplate.Contains("<<SYS>>", StringComparison.Ordinal))
        {
            return Llama2Chat;
        }

        return chatTemplate.Contains("[INST]", StringComparison.Ordinal) ? Mistral : null;
    }

    /// <summary>The format of a tokenizer's chat template (see <see cref="FromChatTemplate"/>), or <paramref name="fallback"/> (default <see cref="Plain"/>).</summary>
    /// <param name="tokenizer">A tokenizer; its chat template is read when it implements <see cref="IChatTemplateProvider"/>.</param>
    /// <param name="fallback">The format to use when there is no recognisable template.</param>
    /// <returns>The format.</returns>
    public static PromptFormat ForTokenizer(ITextTokenizer tokenizer, PromptFormat? fallback = null)
    {
        ArgumentNullException.ThrowIfNull(tokenizer);
        return FromChatTemplate((tokenizer as IChatTemplateProvider)?.ChatTemplate) ?? fallback ?? Plain;
    }

    /// <summary>Parses a format name (<c>mistral</c>, <c>llama2-chat</c>, <c>chatml</c>, <c>qwen3</c>, <c>plain</c>; case-insensitive).</summary>
    /// <param name="name">The name.</param>
    /// <returns>The format.</returns>
    /// <exception cref="ArgumentException">Unknown name.</exception>
    public static PromptFormat Parse(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return name.ToUpperInvariant() switch
        {
            "MISTRAL" => Mistral,
            "LLAMA2-CHAT" or "LLAMA2" => Llama2Chat,
            "CHATML" or "QWEN" => ChatMl,
            "QWEN3" => Qwen3,
            "PLAIN" => Plain,
            _ => throw new ArgumentException($"Unknown prompt format \"{name}\"; expected mistral, llama2-chat, chatml, qwen3 or plain.", nameof(name)),
        };
    }

    /// <inheritdoc />
    public override string ToString() => Name;

    private sealed class InstFormat(string name, bool llama2System) : PromptFormat
    {
        public override string Name => name;

        public override RenderedExample Render(string userMessage, string assistantTarget, string? systemPrompt = null)
        {
            ArgumentNullException.ThrowIfNull(userMessage);
            ArgumentNullException.ThrowIfNull(assistantTarget);
            string user = string.IsNullOrEmpty(systemPrompt)
                ? userMessage
                : llama2System ? $"<<SYS>>\n{systemPrompt}\n<</SYS>>\n\n{userMessage}" : $"{systemPrompt}\n\n{userMessage}";
            return new RenderedExample($"[INST] {user} [/INST]", assistantTarget.Length == 0 ? string.Empty : " " + assistantTarget);
        }
    }

    private sealed class ChatMlFormat(string name, string assistantPrefix) : PromptFormat
    {
        public override string Name => name;

        public override IReadOnlyList<string> RequiredTokens { get; } = ["<|im_start|>", "<|im_end|>"];

        public override RenderedExample Render(string userMessage, string assistantTarget, string? systemPrompt = null)
        {
            ArgumentNullException.ThrowIfNull(userMessage);
            ArgumentNullException.ThrowIfNull(assistantTarget);
            string system = string.IsNullOrEmpty(systemPrompt) ? string.Empty : $"<|im_start|>system\n{systemPrompt}<|im_end|>\n";
            return new RenderedExample(
                $"{system}<|im_start|>user\n{userMessage}<|im_end|>\n<|im_start|>assistant\n{assistantPrefix}",
                assistantTarget.Length == 0 ? string.Empty : assistantTarget + "<|im_end|>");
        }
    }

    private sealed class PlainFormat : PromptFormat
    {
        public override string Name => "plain";

        public override RenderedExample Render(string userMessage, string assistantTarget, string? systemPrompt = null)
        {
            ArgumentNullException.ThrowIfNull(userMessage);
            ArgumentNullException.ThrowIfNull(assistantTarget);
            string prompt = string.IsNullOrEmpty(systemPrompt) ? userMessage + "\n" : $"{systemPrompt}\n\n{userMessage}\n";
            return new RenderedExample(prompt, assistantTarget);
        }
    }
}

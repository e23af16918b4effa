using MagDi.Tokenization;

namespace MagDi.Core.Tests.Tokenization;

public sealed class PromptFormatTests
{
    private static (string Prompt, string Target) Fields(RenderedExample e) => (e.Prompt, e.Target);

    [Fact]
    public void Render_BuiltInFormats_ProduceTheDocumentedText()
    {
        Assert.Equal(("[INST] Q? [/INST]", " A."), Fields(PromptFormat.Mistral.Render("Q?", "A.")));
        Assert.Equal(("[INST] S\n\nQ? [/INST]", " A."), Fields(PromptFormat.Mistral.Render("Q?", "A.", "S")));
        Assert.Equal(("[INST] <<SYS>>\nS\n<</SYS>>\n\nQ? [/INST]", " A."), Fields(PromptFormat.Llama2Chat.Render("Q?", "A.", "S")));
        Assert.Equal(("[INST] Q? [/INST]", " A."), Fields(PromptFormat.Llama2Chat.Render("Q?", "A.")));
        Assert.Equal(
            ("<|im_start|>system\nS<|im_end|>\n<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n", "A.<|im_end|>"),
            Fields(PromptFormat.ChatMl.Render("Q?", "A.", "S")));
        Assert.Equal(("Q?\n", "A."), Fields(PromptFormat.Plain.Render("Q?", "A.")));
        Assert.Equal(
            ("<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n", "A.<|im_end|>"),
            Fields(PromptFormat.Qwen3.Render("Q?", "A.")));
        Assert.Equal("<|im_start|>user\nQ?<|im_end|>\n<|im_start|>assistant\n", PromptFormat.ChatMl.RenderPrompt("Q?"));
        Assert.Equal("[INST] Q? [/INST]", PromptFormat.Mistral.RenderPrompt("Q?"));
    }

    [Theory]
    [InlineData("{% for m in messages %}<|im_start|>{{ m.role }}{% endfor %}", "chatml")]
    [InlineData("{%- if enable_thinking is defined and enable_thinking is false %}{{- '<|im_start|>assistant\n<think>\n\n</think>\n\n' }}", "qwen3")]
    [InlineData("{{ bos_token }}{% if m.role == 'system' %}<<SYS>>\\n{% endif %}[INST] ", "llama2-chat")]
    [InlineData("{{ bos_token }}{% for m in messages %}{{ '[INST] ' + m.content + ' [/INST]' }}{% endfor %}", "mistral")]
    public void FromChatTemplate_RecognisesTheFamily(string template, string expected)
    {
        Assert.Equal(expected, PromptFormat.FromChatTemplate(template)!.Name);
        Assert.Same(PromptFormat.FromChatTemplate(template), PromptFormat.Parse(expected));
    }

    [Fact]
    public void FromChatTemplate_UnknownOrMissing_IsNull()
    {
        Assert.Null(PromptFormat.FromChatTemplate(null));
        Assert.Null(PromptFormat.FromChatTemplate("{{ messages[0].content }}"));
        Assert.Same(PromptFormat.Plain, PromptFormat.ForTokenizer(RealTokenizers.Get("gpt2")));
        Assert.Same(PromptFormat.Mistral, PromptFormat.ForTokenizer(RealTokenizers.Get("mistral"), PromptFormat.Mistral));
        Assert.Throws<ArgumentException>(() => PromptFormat.Parse("alpaca"));
    }

    public static TheoryData<string, string> FamilyAndFormat
    {
        get
        {
            var data = new TheoryData<string, string>();
            foreach (string family in new[] { "mistral", "qwen3", "gpt2" })
            {
                foreach (string format in new[] { "mistral", "llama2-chat", "chatml", "qwen3", "plain" })
                {
                    if (!(format is "chatml" or "qwen3" && family != "qwen3"))
                    {
                        data.Add(family, format);
                    }
                }
            }

            return data;
        }
    }

    [Theory]
    [MemberData(nameof(FamilyAndFormat))]
    public void TokenizeExample_PromptIdsArePrefixAndEqualJointEncoding(string family, string formatName)
    {
        var tokenizer = RealTokenizers.Get(family);
        var format = PromptFormat.Parse(formatName);
        (string User, string Target, string? System)[] examples =
        [
            ("Janet has 3 apples and buys 5 more. How many apples?", "3 + 5 = 8. So the answer is 8.", null),
            ("Is the sky blue?", "Yes.\nSo the answer is yes.", "Answer step by step."),
            ("  spaced   question  ", "  spaced answer", null),
            ("数字是多少？", "答案是 42。😀", null),
        ];
        foreach (var (user, target, system) in examples)
        {
            var rendered = format.Render(user, target, system);
            var example = tokenizer.TokenizeExample(format, user, target, system);
            var bos = tokenizer.Special.AddBosToken ? new[] { tokenizer.Special.BosId!.Value } : [];
            int eos = tokenizer.Special.EosId!.Value;

            var prompt = bos.Concat(tokenizer.Encode(rendered.Prompt)).ToList();
            Assert.Equal(prompt.Count, example.PromptLength);
            Assert.Equal(prompt, example.Ids.Take(example.PromptLength));

            // The split encoding equals encoding the whole text at once (the boundary is a clean pre-token boundary).
            var joint = bos.Concat(tokenizer.Encode(rendered.Prompt + rendered.Target)).ToList();
            if (joint[^1] != eos)
            {
                joint.Add(eos);
            }

            Assert.Equal(joint, example.Ids);
            Assert.Equal(eos, example.Ids[^1]);
        }
    }

    [Fact]
    public void TokenizeExample_ChatMlOnTokenizerWithoutMarkers_Throws()
    {
        var e = Assert.Throws<InvalidOperationException>(() => RealTokenizers.Get("gpt2").TokenizeExample(PromptFormat.ChatMl, "Q", "A"));
        Assert.Contains("<|im_start|>", e.Message);
    }

    [Fact]
    public void TokenizeExample_Mistral_StartsWithBosAndEndsWithEos()
    {
        var t = RealTokenizers.Get("mistral");
        var example = t.TokenizeExample(PromptFormat.Mistral, "Hi", "Hello");
        Assert.Equal(1, example.Ids[0]);
        Assert.Equal(2, example.Ids[^1]);
        Assert.Equal("[INST] Hi [/INST]", t.Decode(example.Ids.Take(example.PromptLength), skipSpecialTokens: true));
        Assert.Equal(2, example.TargetLength); // "▁Hello" + </s>
        var noEos = t.TokenizeExample(PromptFormat.Mistral.Render("Hi", "Hello"), appendEos: false);
        Assert.Equal(example.Ids.SkipLast(1), noEos.Ids);
    }

    [Fact]
    public void TokenizeExample_Qwen_ChatMlEndsWithImEndOnce()
    {
        var t = RealTokenizers.Get("qwen3");
        var example = t.TokenizeExample(PromptFormat.ChatMl, "Hi", "Hello");
        Assert.Equal(1, example.Ids.Skip(example.PromptLength).Count(i => i == t.Special.EosId));
        Assert.Equal("Hello<|im_end|>", t.Decode(example.Ids.Skip(example.PromptLength)));
    }

    [Fact]
    public void TokenizeExample_TargetStartingWithWhitespace_KeepsTheBoundaryExact()
    {
        // Qwen merges "\n\n" into one token. When the prompt ends with "\n" and the target starts with "\n", a joint
        // encoding would put that token across the boundary; the split encoding keeps the prompt's ids exactly as
        // generation sees them and starts the target with its own "\n".
        var t = RealTokenizers.Get("qwen3");
        var example = t.TokenizeExample(PromptFormat.Plain, "Q", "\nA");
        Assert.Equal(t.Encode("Q\n"), example.Ids.Take(example.PromptLength));
        Assert.Equal(["Ċ", "A"], example.Ids.Skip(example.PromptLength).SkipLast(1).Select(i => t.IdToToken(i)));
        Assert.NotEqual(t.Encode("Q\n\nA"), example.Ids.SkipLast(1));
    }
}

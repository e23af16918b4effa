using MagDi.Testing;
using MagDi.Tokenization;

namespace MagDi.Core.Tests.Tokenization;

public sealed class SpecialTokenTests
{
    [Fact]
    public void Mistral_SpecialTokens_ComeFromTokenizerConfig()
    {
        var t = RealTokenizers.Get("mistral");
        Assert.Equal(SpecialTokenFields.Of(new SpecialTokens(1, 2, null, 0, "<s>", "</s>", null, addBosToken: true, addEosToken: false)), SpecialTokenFields.Of(t.Special));
        Assert.Equal(32000, t.VocabularySize);
        Assert.Equal("▁Hello", t.IdToToken(22557));
        Assert.Equal(22557, t.TokenToId("▁Hello"));
        Assert.Equal(3, t.TokenToId("<0x00>"));
    }

    [Fact]
    public void Qwen3_SpecialTokens_ComeFromTokenizerConfig()
    {
        var t = RealTokenizers.Get("qwen3");
        Assert.Null(t.Special.BosId);
        Assert.Equal(151645, t.Special.EosId);
        Assert.Equal("<|im_end|>", t.Special.EosToken);
        Assert.Equal(151643, t.Special.PadId);
        Assert.False(t.Special.AddBosToken);
        Assert.False(t.Special.AddEosToken);
        Assert.Equal(151669, t.VocabularySize);
        Assert.Equal(PromptFormat.Qwen3, PromptFormat.ForTokenizer(t));
    }

    [Fact]
    public void Gpt2_WithoutConfig_UsesEndOfTextForBosEosAndUnk()
    {
        var t = RealTokenizers.Get("gpt2");
        Assert.Equal(SpecialTokenFields.Of(new SpecialTokens(50256, 50256, null, 50256, "<|endoftext|>", "<|endoftext|>", null, false, false)), SpecialTokenFields.Of(t.Special));
        Assert.Equal(50257, t.VocabularySize);
        Assert.Equal([15496, 50256, 6894], t.Encode("Hello<|endoftext|>world"));
        Assert.Equal("Helloworld", t.Decode([15496, 50256, 6894], skipSpecialTokens: true));
    }

    [Theory]
    [InlineData("qwen3", "<|im_start|>")]
    [InlineData("qwen3", "<|im_end|>")]
    [InlineData("mistral", "</s>")]
    [InlineData("gpt2", "<|endoftext|>")]
    public void SpecialToken_InText_IsOneIdAndNeverSplit(string family, string special)
    {
        var t = RealTokenizers.Get(family);
        int id = t.TokenToId(special)!.Value;
        var ids = t.Encode($"a{special}{special}b {special}");
        Assert.Equal(3, ids.Count(i => i == id));
        Assert.Equal(special, t.Decode([id]));
    }

    [Fact]
    public void Decode_SkipSpecialTokens_DropsThemButKeepsText()
    {
        var t = RealTokenizers.Get("qwen3");
        var ids = t.Encode("<|im_start|>user\nHi<|im_end|>");
        Assert.Equal("<|im_start|>user\nHi<|im_end|>", t.Decode(ids));
        Assert.Equal("user\nHi", t.Decode(ids, skipSpecialTokens: true));
    }

    [Fact]
    public void Mistral_TextAfterSpecialToken_GetsTheLegacySpacePrefix()
    {
        // Hugging Face's legacy Llama/Mistral tokenizer.json prepends "▁" to every segment between special tokens.
        var t = RealTokenizers.Get("mistral");
        var ids = t.Encode("a</s>b");
        Assert.Equal(["▁a", "</s>", "▁b"], ids.Select(i => t.IdToToken(i)));
        Assert.Equal("a</s> b", t.Decode(ids));
        Assert.Equal("a b", t.Decode(ids, skipSpecialTokens: true));
    }

    [Theory]
    [InlineData("mistral")]
    [InlineData("qwen3")]
    [InlineData("gpt2")]
    public void Decode_UnknownId_Throws(string family)
    {
        var t = RealTokenizers.Get(family);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => t.Decode([1, t.VocabularySize]));
        Assert.Contains(t.VocabularySize.ToString(), e.Message);
        Assert.Null(t.IdToToken(-1));
        Assert.Null(t.TokenToId("definitely not a token ✗✗✗"));
    }
}

using System.Text;
using MagDi.Tokenization;

namespace MagDi.Core.Tests.Tokenization;

public sealed class RoundTripTests
{
    private static readonly string[] s_pieces =
    [
        "the", "The", " ", "  ", "   ", "\t", "\t\t", "\n", "\n\n", "\r\n", " \n ", "0", "42", "1234567", "3.14", "-",
        "!!", "?", "...", "'s", "'ll", "\"", "(", ")", "{}", "[", "]", "#", "@", "$", "%", "&", "*", "+", "=", "_",
        "café", "naïve", "Straße", "Ærø", "e\u0301", "a\u0308", "n\u0303", "\u0301", "中文", "你好", "日本語", "カタカナ",
        "한국어", "Русский", "ελληνικά", "עברית", "عربية", "हिन्दी", "😀", "👍🏽", "👨‍👩‍👧‍👦", "🇩🇪", "❤️", "\ue000",
        "\u0001", "\u007f", "\u00a0", "\u200b", "∑", "√", "α", "𝒳", "𠀀", "ﬁ", "½", "™", "<", ">", "/", "\\", "`",
    ];

    public static TheoryData<string> Families => new() { "mistral", "qwen3", "gpt2" };

    [Theory]
    [MemberData(nameof(Families))]
    public void DecodeOfEncode_ReturnsTheText_ForRandomMixedText(string family)
    {
        var tokenizer = RealTokenizers.Get(family);
        var random = new Random(1234);
        for (int n = 0; n < 300; n++)
        {
            var sb = new StringBuilder();
            int count = random.Next(1, 25);
            for (int i = 0; i < count; i++)
            {
                sb.Append(s_pieces[random.Next(s_pieces.Length)]);
            }

            string text = sb.ToString();
            string expected = family == "qwen3" ? text.Normalize(NormalizationForm.FormC) : text;
            Assert.Equal(expected, tokenizer.Decode(tokenizer.Encode(text)));
        }
    }

    [Fact]
    public void Mistral_CharactersOutsideTheVocabulary_UseByteFallbackAndRoundTrip()
    {
        var t = RealTokenizers.Get("mistral");
        string text = "\ue000𠀀😀";
        var tokens = t.Encode(text).Select(id => t.IdToToken(id)!).ToList();
        Assert.Contains("<0xEE>", tokens); // U+E000 = EE 80 80
        Assert.Contains("<0xF0>", tokens);
        Assert.DoesNotContain("<unk>", tokens);
        Assert.Equal(text, t.Decode(t.Encode(text)));
    }

    [Fact]
    public void Mistral_InvalidByteSequence_DecodesToReplacementCharacters()
    {
        var t = RealTokenizers.Get("mistral");
        int f0 = t.TokenToId("<0xF0>")!.Value;
        int a = t.TokenToId("<0x41>")!.Value;
        // F0 41 is not valid UTF-8: each byte of the run becomes U+FFFD, as tokenizers' ByteFallback decoder does.
        Assert.Equal("\uFFFD\uFFFD", t.Decode([f0, a]));
    }

    [Fact]
    public void Encode_LongTextWithoutPreTokenizer_IsLinearEnoughAndRoundTrips()
    {
        // Mistral's tokenizer.json has no pre-tokenizer: the whole text is one BPE word.
        var t = RealTokenizers.Get("mistral");
        string text = string.Concat(Enumerable.Repeat("The quick brown fox jumps over the lazy dog. 数字 12345\n", 2000));
        Assert.Equal(text, t.Decode(t.Encode(text)));
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void DecodeOfEncode_ReturnsTheText_ForRandomCodePoints(string family)
    {
        // Random valid Unicode scalars from all planes (surrogates excluded; U+2581 excluded because SentencePiece
        // vocabularies use it for the space, so it decodes as " " in Hugging Face as well).
        var tokenizer = RealTokenizers.Get(family);
        var random = new Random(99);
        for (int n = 0; n < 200; n++)
        {
            var sb = new StringBuilder();
            for (int i = random.Next(1, 40); i > 0; i--)
            {
                int cp = random.Next(4) switch
                {
                    0 => random.Next(0x20, 0x7F),
                    1 => random.Next(0, 0x800),
                    2 => random.Next(0x800, 0x10000),
                    _ => random.Next(0x10000, 0x110000),
                };
                if (cp is (>= 0xD800 and <= 0xDFFF) or 0x2581)
                {
                    continue;
                }

                sb.Append(char.ConvertFromUtf32(cp));
            }

            string text = sb.ToString();
            if (family == "mistral" && (text.Contains("<s>") || text.Contains("</s>") || text.Contains("<unk>")))
            {
                continue;
            }

            string expected = family.StartsWith("qwen3", StringComparison.Ordinal) ? text.Normalize(NormalizationForm.FormC) : text;
            Assert.Equal(expected, tokenizer.Decode(tokenizer.Encode(text)));
        }
    }

    [Theory]
    [MemberData(nameof(Families))]
    public void Encode_UnpairedSurrogate_ThrowsNamingTheIndex(string family)
    {
        var e = Assert.Throws<ArgumentException>(() => RealTokenizers.Get(family).Encode("ok \uD83D!"));
        Assert.Contains("index 3", e.Message);
    }

    [Fact]
    public void Mistral_FusedDecode_EqualsTheGeneralDecoderChain()
    {
        // Random id sequences (normal pieces, byte-fallback pieces, special tokens) decoded by the fused fast path and
        // by the step-by-step Replace, ByteFallback, Fuse, Strip chain of tokenizer.json.
        var t = RealTokenizers.Get("mistral");
        var chain = new SequenceDecoder([new ReplaceDecoder("\u2581", " "), new ByteFallbackDecoder(), new FuseDecoder(), new StripDecoder(' ', 1, 0)]);
        var random = new Random(5);
        for (int n = 0; n < 300; n++)
        {
            var ids = Enumerable.Range(0, random.Next(1, 30)).Select(_ => random.Next(3) == 0 ? random.Next(0, 300) : random.Next(0, t.VocabularySize)).ToList();
            string expected = string.Concat(chain.Decode(ids.Select(id => t.IdToToken(id)!).ToList()));
            Assert.Equal(expected, t.Decode(ids));
        }
    }
}

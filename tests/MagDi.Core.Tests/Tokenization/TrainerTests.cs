using System.Text;
using System.Text.Json;
using MagDi.Testing;
using MagDi.Tokenization;

namespace MagDi.Core.Tests.Tokenization;

public sealed class TrainerTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "magdi-trainer-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }

    internal static List<string> SyntheticCorpus(int lines, int seed)
    {
        string[] names = ["Janet", "Tom", "Ali", "Mei", "Olu", "Sofía"];
        string[] items = ["apples", "books", "coins", "pencils", "marbles"];
        var random = new Random(seed);
        var corpus = new List<string>(lines);
        for (int i = 0; i < lines; i++)
        {
            int a = random.Next(2, 500);
            int b = random.Next(2, 500);
            string name = names[random.Next(names.Length)];
            string item = items[random.Next(items.Length)];
            corpus.Add($"Question: {name} has {a} {item} and buys {b} more. How many {item} does {name} have?\n" +
                       $"Answer: {name} starts with {a} {item}. {a} + {b} = {a + b}. So the answer is {a + b}.\n");
        }

        return corpus;
    }

    [Fact]
    public void Train_WritesLoadableTokenizer_WithRequestedVocabularyAndSpecialTokens()
    {
        var corpus = SyntheticCorpus(3000, seed: 1); // ~400 KB
        Assert.True(corpus.Sum(s => s.Length) > 300_000);
        var tokenizer = new ByteLevelBpeTrainer(new ByteLevelBpeTrainerOptions { VocabularySize = 600 }).Train(corpus, _dir);

        Assert.Equal(600, tokenizer.VocabularySize);
        Assert.Equal(SpecialTokenFields.Of(new SpecialTokens(0, 1, 2, 3, "<s>", "</s>", "<pad>", addBosToken: true, addEosToken: false)), SpecialTokenFields.Of(tokenizer.Special));
        Assert.Equal("Ā", tokenizer.IdToToken(4)); // byte 0 in GPT-2's byte-to-unicode table
        Assert.Equal("Ġ", tokenizer.IdToToken(4 + 32));

        string sample = corpus[0];
        var ids = tokenizer.Encode(sample, addSpecialTokens: true);
        Assert.Equal(0, ids[0]);
        Assert.True(ids.Count < Encoding.UTF8.GetByteCount(sample) / 2, $"poor compression: {ids.Count} tokens for {sample.Length} chars");
        Assert.Equal(sample, tokenizer.Decode(ids, skipSpecialTokens: true));
        Assert.Single(tokenizer.Encode(" answer"));
        Assert.Equal(" answer", tokenizer.IdToToken(tokenizer.Encode(" answer")[0])!.Replace('Ġ', ' '));

        // Unseen text still round-trips (every byte is in the vocabulary).
        string unseen = "Ünïcödé 中文 😀\t\n  <s> x";
        Assert.Equal(unseen, tokenizer.Decode(tokenizer.Encode(unseen)));
        Assert.Contains(0, tokenizer.Encode(unseen));
    }

    [Fact]
    public void Train_TinyCorpus_LearnsHandComputedMerges()
    {
        // Words: "ab" x1, "Ġab" x2, "Ġc" x1. Pair counts: (a,b)=3, (Ġ,a)=2, (Ġ,c)=1 -> merges "a b", then "Ġ ab".
        var tokenizer = new ByteLevelBpeTrainer(new ByteLevelBpeTrainerOptions { VocabularySize = 4 + 256 + 2, MinFrequency = 2 })
            .Train(["ab ab ab c"], _dir);
        using var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(_dir, "tokenizer.json")));
        var merges = json.RootElement.GetProperty("model").GetProperty("merges").EnumerateArray().Select(m => m.GetString()!).ToArray();
        Assert.Equal(["a b", "Ġ ab"], merges);
        Assert.Equal(["ab", "Ġab", "Ġab", "Ġ", "c"], tokenizer.Encode("ab ab ab c").Select(i => tokenizer.IdToToken(i)));
    }

    [Fact]
    public void Train_StopsAtMinFrequency()
    {
        var tokenizer = new ByteLevelBpeTrainer(new ByteLevelBpeTrainerOptions { VocabularySize = 5000, MinFrequency = 2 })
            .Train(["ab ab ab c"], _dir);
        Assert.Equal(4 + 256 + 2, tokenizer.VocabularySize);
    }

    [Fact]
    public void Train_IsDeterministic()
    {
        var corpus = SyntheticCorpus(300, seed: 7);
        var options = new ByteLevelBpeTrainerOptions { VocabularySize = 400 };
        new ByteLevelBpeTrainer(options).Train(corpus, Path.Combine(_dir, "a"));
        new ByteLevelBpeTrainer(options).Train(corpus, Path.Combine(_dir, "b"));
        Assert.Equal(File.ReadAllText(Path.Combine(_dir, "a", "tokenizer.json")), File.ReadAllText(Path.Combine(_dir, "b", "tokenizer.json")));
    }

    [Fact]
    public void Train_WithChatMlTokensAndTemplate_SupportsChatMlFormat()
    {
        var options = new ByteLevelBpeTrainerOptions { VocabularySize = 400, ChatTemplate = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}" };
        options.AdditionalSpecialTokens.Add("<|im_start|>");
        options.AdditionalSpecialTokens.Add("<|im_end|>");
        var tokenizer = new ByteLevelBpeTrainer(options).Train(SyntheticCorpus(200, seed: 3), _dir);
        Assert.Same(PromptFormat.ChatMl, PromptFormat.ForTokenizer(tokenizer));
        var example = tokenizer.TokenizeExample(PromptFormat.ChatMl, "2+2?", "4");
        Assert.Equal(0, example.Ids[0]);
        Assert.Equal([5, 1], example.Ids.TakeLast(2)); // <|im_end|> then EOS </s>
    }

    [Fact]
    public void Options_Invalid_AllProblemsReportedOnce()
    {
        var e = Assert.Throws<ArgumentException>(() => new ByteLevelBpeTrainer(new ByteLevelBpeTrainerOptions { VocabularySize = 10, MinFrequency = 0, BosToken = null }));
        Assert.Contains("VocabularySize", e.Message);
        Assert.Contains("MinFrequency", e.Message);
        Assert.Contains("AddBosToken", e.Message);
    }
}

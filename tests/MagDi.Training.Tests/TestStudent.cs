using MagDi.Graphs;
using MagDi.Modeling;
using MagDi.Tokenization;

namespace MagDi.Training.Tests;

/// <summary>A character-level tokenizer over printable ASCII, with BOS, EOS and PAD: enough for real training loops.</summary>
internal sealed class CharTokenizer : ITextTokenizer
{
    public const int Pad = 0;
    public const int Bos = 1;
    public const int Eos = 2;
    private const int Offset = 3;

    public int VocabularySize => Offset + 95;

    public SpecialTokens Special { get; } = new(Bos, Eos, Pad, null, "<s>", "</s>", "<pad>", AddBosToken: true, AddEosToken: false);

    public IReadOnlyList<int> Encode(string text, bool addSpecialTokens = false)
    {
        var ids = new List<int>(text.Length + 1);
        if (addSpecialTokens) ids.Add(Bos);
        foreach (char c in text)
        {
            ids.Add(c is >= ' ' and <= '~' ? Offset + (c - ' ') : Offset + ('?' - ' '));
        }

        return ids;
    }

    public string Decode(IEnumerable<int> ids, bool skipSpecialTokens = false) =>
        string.Concat(ids.Select(i => i < 0 || i >= VocabularySize
            ? throw new ArgumentOutOfRangeException(nameof(ids), $"Token id {i} is not in the vocabulary.") // as real tokenizers do
            : i)
            .Where(i => i >= Offset).Select(i => (char)(' ' + i - Offset)));

    public string? IdToToken(int id) => id switch
    {
        Pad => "<pad>",
        Bos => "<s>",
        Eos => "</s>",
        >= Offset and < Offset + 95 => ((char)(' ' + id - Offset)).ToString(),
        _ => null,
    };

    public int? TokenToId(string token) => token switch
    {
        "<pad>" => Pad,
        "<s>" => Bos,
        "</s>" => Eos,
        { Length: 1 } s when s[0] is >= ' ' and <= '~' => Offset + (s[0] - ' '),
        _ => null,
    };
}

internal static class TestStudent
{
    public static ModelConfig Config(int vocab = 98) => new()
    {
        ModelType = "llama",
        VocabSize = vocab,
        HiddenSize = 32,
        IntermediateSize = 64,
        NumHiddenLayers = 2,
        NumAttentionHeads = 4,
        NumKeyValueHeads = 2,
        MaxPositionEmbeddings = 512,
        RmsNormEps = 1e-5,
        BosTokenId = CharTokenizer.Bos,
        PadTokenId = CharTokenizer.Pad,
    };

    public static CausalLanguageModel Model(long seed = 3) => CausalLanguageModel.CreateRandom(Config(), seed);

    /// <summary>A small corpus of synthetic-arithmetic MAGs with correct and incorrect nodes over 1 to 3 rounds.</summary>
    public static List<InteractionGraph> Graphs(int count = 8)
    {
        var graphs = new List<InteractionGraph>();
        string[] agents = ["alpha", "beta", "gamma"];
        for (int q = 0; q < count; q++)
        {
            int a = 2 + q, b = 3 + (q % 4);
            int gold = a + b;
            var builder = InteractionGraph.CreateBuilder()
                .WithId($"q{q}")
                .WithTask("gsm8k")
                .WithQuestion($"Tom has {a} pens. He buys {b} more. How many pens?")
                .WithGoldAnswer(gold.ToString(System.Globalization.CultureInfo.InvariantCulture));
            foreach (string agent in agents) builder.AddAgent(agent);
            int rounds = 1 + (q % 3);
            for (int r = 0; r < rounds; r++)
            {
                for (int i = 0; i < agents.Length; i++)
                {
                    bool wrong = r < rounds - 1 && i == (q % 3);
                    int answer = wrong ? gold + 1 : gold;
                    builder.AddNode(agents[i], r, $"{a} + {b} = {answer}.", answer.ToString(System.Globalization.CultureInfo.InvariantCulture), 0.9);
                }
            }

            graphs.Add(builder.Build());
        }

        return graphs;
    }

    public static string TempDirectory()
    {
        string dir = Path.Combine(Path.GetTempPath(), "magdi-train-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        return dir;
    }
}

/// <summary>Reports synchronously on the training thread (unlike Progress&lt;T&gt;).</summary>
internal sealed class SyncProgress<T>(Action<T> handler) : IProgress<T>
{
    public void Report(T value) => handler(value);
}

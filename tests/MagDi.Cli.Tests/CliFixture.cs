using System.Globalization;
using MagDi.Cli;
using MagDi.Graphs;
using MagDi.Graphs.IO;
using MagDi.Modeling;
using MagDi.Tokenization;

namespace MagDi.Cli.Tests;

/// <summary>
/// A temp folder holding a tiny student checkpoint (random llama weights + a byte-level BPE tokenizer trained into the
/// same folder), a MAG corpus and a GSM8K-format benchmark, created once for all CLI tests.
/// </summary>
public sealed class CliFixture : IDisposable
{
    public CliFixture()
    {
        Root = Path.Combine(Path.GetTempPath(), "magdi-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Root);
        ModelDirectory = Path.Combine(Root, "student");
        var graphs = Graphs(6);
        var corpus = graphs.SelectMany(g => g.Nodes.Select(n => g.Question + " " + n.Reasoning + " So the answer is " + n.Answer + ".")).ToList();
        Tokenizer = new ByteLevelBpeTrainer(new ByteLevelBpeTrainerOptions { VocabularySize = 300, MinFrequency = 2 }).Train(corpus, ModelDirectory);
        var config = new ModelConfig
        {
            ModelType = "llama",
            // Equal to the tokenizer's size: a random model would otherwise sample padded rows no tokenizer can decode.
            VocabSize = Tokenizer.VocabularySize,
            HiddenSize = 32,
            IntermediateSize = 64,
            NumHiddenLayers = 2,
            NumAttentionHeads = 4,
            NumKeyValueHeads = 2,
            MaxPositionEmbeddings = 1024,
            RmsNormEps = 1e-5,
            BosTokenId = Tokenizer.Special.BosId,
            PadTokenId = Tokenizer.Special.PadId,
        };
        config.SetEosTokenId(Tokenizer.Special.EosId!.Value);
        using (var model = CausalLanguageModel.CreateRandom(config, seed: 7))
        {
            model.SavePretrained(ModelDirectory);
        }

        MagsPath = Path.Combine(Root, "mags.jsonl");
        MagFile.WriteJsonlAsync(MagsPath, graphs).GetAwaiter().GetResult();
        BenchmarkPath = Path.Combine(Root, "gsm8k_test.jsonl");
        File.WriteAllLines(BenchmarkPath, graphs.Select(g =>
            System.Text.Json.JsonSerializer.Serialize(new Dictionary<string, string> { ["question"] = g.Question, ["answer"] = $"Add them.\n#### {g.GoldAnswer}" })));
    }

    public string Root { get; }

    public string ModelDirectory { get; }

    public string MagsPath { get; }

    public string BenchmarkPath { get; }

    public ITextTokenizer Tokenizer { get; }

    /// <summary>A fresh folder under the fixture's root.</summary>
    public string NewDirectory(string name)
    {
        string dir = Path.Combine(Root, name + "-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        return dir;
    }

    public static async Task<(int Code, string Out, string Err)> Run(params string[] args)
    {
        using var stdout = new StringWriter();
        using var stderr = new StringWriter();
        int code = await MagDiApp.RunAsync(args, stdout, stderr);
        return (code, stdout.ToString(), stderr.ToString());
    }

    /// <summary>Small GSM8K-style MAGs with correct and incorrect nodes over 1 to 3 rounds.</summary>
    public static List<InteractionGraph> Graphs(int count) => SampleMags.Arithmetic(count);

    public void Dispose()
    {
        try
        {
            Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
            // A file still open on a slow runner; the temp folder is cleaned by the OS.
        }
    }
}

[CollectionDefinition(Name)]
public sealed class CliTestGroup : ICollectionFixture<CliFixture>
{
    public const string Name = "cli";
}

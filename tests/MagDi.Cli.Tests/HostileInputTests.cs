using System.Net;
using System.Text.Json;
using CsCheck;
using MagDi.Cli.Infrastructure;
using MagDi.Graphs;
using MagDi.Graphs.IO;
using MagDi.Modeling;
using MagDi.Tasks;
using MagDi.Training;
using Spectre.Console.Cli;
using static TorchSharp.torch;

namespace MagDi.Cli.Tests;

/// <summary>
/// Issue 15, the CLI's share: every bad input is exit code 2 with one paragraph naming the problem and no .NET stack
/// trace; exit 1 only for a bug. One reproduction per case the issue lists.
/// </summary>
[Collection(CliTestGroup.Name)]
public sealed class HostileInputTests(CliFixture fixture)
{
    private const string StackFrame = "   at ";

    /// <summary>Asserts exit code 2, one <c>error:</c> paragraph holding every expected piece, and no stack trace.</summary>
    private static void AssertBadInput((int Code, string Out, string Err) run, params string[] expected)
    {
        Assert.True(run.Code == 2, $"exit {run.Code}; stderr: {run.Err}");
        Assert.Contains("error: ", run.Err);
        Assert.DoesNotContain(StackFrame, run.Err);
        Assert.DoesNotContain("\n\n", run.Err.Trim());
        foreach (string piece in expected)
        {
            Assert.Contains(piece, run.Err);
        }
    }

    private async Task<string> WriteMags(string name, params InteractionGraph[] graphs)
    {
        string path = Path.Combine(fixture.NewDirectory("mags"), name);
        await MagFile.WriteJsonlAsync(path, graphs);
        return path;
    }

    private static InteractionGraphBuilder Mag(string id) =>
        InteractionGraph.CreateBuilder().WithId(id).WithTask("gsm8k").WithQuestion("Tom has 2 pens. He buys 3 more. How many pens?").WithGoldAnswer("5")
            .AddAgent("alpha").AddAgent("beta");

    // ---- 1. One error path: bad training data is exit 2 naming the MAG and its file; --verbose shows the trace ----

    [Fact]
    public async Task Train_NodeLongerThanMaxPositionEmbeddings_IsBadInputNamingTheFileAndElement()
    {
        string longReasoning = string.Join(' ', Enumerable.Repeat("Tom counts one more pen and writes it down.", 400));
        var ok = Mag("fine").AddNode("alpha", 0, "2 + 3 = 5.", "5").AddNode("beta", 0, "2 + 3 = 5.", "5").Build();
        var tooLong = Mag("long").AddNode("alpha", 0, longReasoning, "5").AddNode("beta", 0, "2 + 3 = 5.", "5").Build();
        string file = await WriteMags("long.jsonl", ok, tooLong);

        var run = await CliFixture.Run("train", "--model", fixture.ModelDirectory, "--mags", file, "--out", fixture.NewDirectory("t-long"), "--dtype", "f32", "--json");

        AssertBadInput(run, "longer than the maximum sequence length 1024", "MAG 'long'", $"element 1 of {file}");
    }

    [Fact]
    public async Task Train_AllNodesInvalid_IsBadInputNamingTheFile_VerboseAddsTheStackTrace()
    {
        var invalid = Mag("broken").AddInvalidNode("alpha", 0, "not json").AddInvalidNode("beta", 0, "neither").Build();
        string file = await WriteMags("invalid.jsonl", invalid);
        string[] args = ["train", "--model", fixture.ModelDirectory, "--mags", file, "--out", fixture.NewDirectory("t-invalid"), "--dtype", "f32", "--json"];

        var run = await CliFixture.Run(args);
        AssertBadInput(run, "No training data", "2 node(s) are invalid", $"element 0 of {file}");

        var verbose = await CliFixture.Run([.. args, "--verbose"]);
        Assert.Equal(2, verbose.Code);
        Assert.Contains(nameof(TrainingDataException), verbose.Err);
        Assert.Contains(StackFrame, verbose.Err);
    }

    [Fact]
    public async Task Train_RoundZeroWithoutACorrectRoundZeroNode_IsBadInput()
    {
        var wrongFirst = Mag("late").AddNode("alpha", 0, "2 + 3 = 6.", "6").AddNode("beta", 0, "2 + 3 = 4.", "4")
            .AddNode("alpha", 1, "2 + 3 = 5.", "5").AddNode("beta", 1, "2 + 3 = 5.", "5").Build();
        string file = await WriteMags("late.jsonl", wrongFirst);

        var run = await CliFixture.Run("train", "--model", fixture.ModelDirectory, "--mags", file, "--level", "round-zero", "--out", fixture.NewDirectory("t-r0"), "--dtype", "f32", "--json");

        AssertBadInput(run, "correct round-0 nodes only", $"element 0 of {file}");
    }

    [Fact]
    public async Task Train_OutIsAFile_IsRefusedBeforeReadingAnything()
    {
        string file = Path.Combine(fixture.NewDirectory("t-out"), "run");
        await File.WriteAllTextAsync(file, "mine");
        var run = await CliFixture.Run("train", "--model", fixture.ModelDirectory, "--mags", fixture.MagsPath, "--out", file);
        AssertBadInput(run, "--out", "is a file");
        Assert.Equal("mine", await File.ReadAllTextAsync(file));
    }

    [Fact]
    public void HandleError_Bug_IsExit1WithoutATrace_UnlessVerbose()
    {
        Exception bug;
        try
        {
            throw new InvalidOperationException("the invariant broke");
        }
        catch (InvalidOperationException e)
        {
            bug = e;
        }

        using var quiet = new StringWriter();
        Assert.Equal(ExitCodes.Failure, MagDiApp.HandleError(bug, quiet, verbose: false));
        Assert.Contains("unexpected InvalidOperationException: the invariant broke", quiet.ToString());
        Assert.Contains("bug in MagDi", quiet.ToString());
        Assert.Contains("--verbose", quiet.ToString());
        Assert.DoesNotContain(StackFrame, quiet.ToString());

        using var loud = new StringWriter();
        Assert.Equal(ExitCodes.Failure, MagDiApp.HandleError(bug, loud, verbose: true));
        Assert.Contains(StackFrame, loud.ToString());
    }

    [Fact]
    public void ExitCodeOf_BadInputIs2_CancelIs130_BugsAre1()
    {
        (Exception Exception, int Code)[] cases =
        [
            (new MagDataException("x"), 2),
            (new InvalidGraphException([new GraphProblem("f", "r")]), 2),
            (new TrainingDataException("x"), 2),
            (new NonFiniteException("x"), 2),
            (new TrainingDivergedException("x"), 2),
            (new InvalidDataException("x"), 2),
            (new FileNotFoundException("x"), 2),
            (new ArgumentOutOfRangeException("p", "x"), 2),
            (new JsonException("x"), 2),
            (new AggregateException(new InvalidDataException("x")), 2),
            (new OperationCanceledException(), 130),
            (new ArgumentNullException("p"), 1),
            (new KeyNotFoundException("x"), 1),
            (new InvalidOperationException("x"), 1),
        ];
        foreach (var (exception, code) in cases)
        {
            using var err = new StringWriter();
            Assert.True(code == MagDiApp.HandleError(exception, err, verbose: false), exception.GetType().Name);
        }
    }

    [Fact]
    public async Task ErrorMessages_EscapeControlCharacters_AndStayOneParagraph()
    {
        using var err = new StringWriter();
        MagDiApp.HandleError(new InvalidDataException("bad id 'a\u001b[2Jb'\n\n\nsecond line\r\n"), err, verbose: false);
        Assert.Equal("error: bad id 'a\\u001B[2Jb'\nsecond line" + Environment.NewLine, err.ToString());

        // --id is echoed in the error: no escape sequence reaches the terminal.
        var run = await CliFixture.Run("mags", "render", "--in", fixture.MagsPath, "--id", "x\u001b[31my", "--out", Path.Combine(fixture.NewDirectory("r-id"), "x.svg"));
        AssertBadInput(run, "no graph with id 'x\\u001B[31my'");
        Assert.DoesNotContain('\u001b', run.Err);
    }

    // ---- 2. --help on every verb and subverb ----

    public static TheoryData<string> HelpPaths()
    {
        var data = new TheoryData<string> { string.Empty, "mags" };
        foreach (var verb in MagDiApp.Verbs)
        {
            data.Add(verb.ToString());
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(HelpPaths))]
    public async Task Help_OfEveryVerb_PrintsUsage(string path)
    {
        string[] args = [.. path.Split(' ', StringSplitOptions.RemoveEmptyEntries), "--help"];
        var (code, output, err) = await CliFixture.Run(args);
        Assert.True(code == 0, err);
        Assert.Contains("USAGE:", output);
        Assert.Equal(string.Empty, err);
        if (path.Length > 0 && path != "mags")
        {
            Assert.Contains("--verbose", output);
        }
    }

    [Fact]
    public void Verbs_ListEveryCommand_AndEverySettingsClassTakesVerbose()
    {
        var commands = typeof(MagDiApp).Assembly.GetTypes()
            .Where(t => !t.IsAbstract && t.BaseType is { IsGenericType: true } b && b.GetGenericTypeDefinition() == typeof(AsyncCommand<>))
            .ToHashSet();
        Assert.Equal(commands, MagDiApp.Verbs.Select(v => v.Command).ToHashSet());
        Assert.All(MagDiApp.Verbs, v => Assert.True(typeof(CliSettings).IsAssignableFrom(v.Settings), v.ToString()));
    }

    [Fact]
    public async Task Help_ShowsBracketsInDescriptionsLiterally()
    {
        // Descriptions are Spectre markup; "[...]" used to crash tokenize --help and score --help.
        var tokenize = await CliFixture.Run("tokenize", "--help");
        Assert.Contains("{\"ids\": [...]}", tokenize.Out);
        var score = await CliFixture.Run("score", "--help");
        Assert.Contains("{\"token_logprobs\": [...]}", score.Out);
        var eval = await CliFixture.Run("eval", "--help");
        Assert.Contains("\"[label]\" for a DSS-MT adapter", eval.Out);
        var train = await CliFixture.Run("train", "--help");
        Assert.Contains("--preset", train.Out);
    }

    // ---- 3. Numeric options: option, value and range named; limits instead of overflows ----

    public static TheoryData<string[], string> OutOfRange() => new()
    {
        { ["mags", "render", "--in", "{mags}", "--index", "99999999999", "--out", "{dir}/x.svg"], "--index must be a whole number from 0 to 2147483647 (got '99999999999')" },
        { ["mags", "render", "--in", "{mags}", "--index=-1", "--out", "{dir}/x.svg"], "--index must be a whole number from 0 to 2147483647 (got '-1')" },
        { ["mags", "report", "--in", "{mags}", "--examples", "1000000", "--out", "{dir}/r.html"], "--examples must be a whole number from 0 to 100 (got '1000000')" },
        { ["generate", "--model", "{model}", "--prompt", "x", "--max-new-tokens", "0"], "--max-new-tokens must be a whole number from 1 to 2147483647 (got '0')" },
        { ["generate", "--model", "{model}", "--prompt", "x", "--top-p", "1.5"], "--top-p must be a number in (0, 1] (got '1.5')" },
        { ["generate", "--model", "{model}", "--prompt", "x", "--temperature", "NaN"], "--temperature must be a finite number of at least 0 (got 'NaN')" },
        { ["generate", "--model", "{model}", "--prompt", "x", "--top-k", "ten"], "--top-k must be a whole number from 1 to 2147483647 (got 'ten')" },
        { ["generate", "--model", "{model}", "--prompt", "x", "--seed", "1e3"], "--seed must be a whole number from -9223372036854775808 to 9223372036854775807 (got '1e3')" },
        { ["eval", "--model", "{model}", "--task", "gsm8k", "--test", "{bench}", "--samples", "100000"], "--samples must be a whole number from 1 to 1024 (got '100000')" },
        { ["eval", "--model", "{model}", "--task", "gsm8k", "--test", "{bench}", "--batch-size", "0"], "--batch-size must be a whole number from 1 to 4096 (got '0')" },
        { ["train", "--model", "{model}", "--mags", "{mags}", "--out", "{dir}", "--epochs", "99999999999"], "--epochs must be a whole number from 1 to 1000000 (got '99999999999')" },
        { ["train", "--model", "{model}", "--mags", "{mags}", "--out", "{dir}", "--lr", "Infinity"], "--lr must be a number in (0, 10] (got 'Infinity')" },
        { ["discuss", "--task", "synthetic-arithmetic", "--questions", "synthetic:2147483647", "--out", "{dir}/m.jsonl"], "--questions synthetic:N must be a whole number from 1 to 100000 (got 'synthetic:2147483647')" },
        { ["discuss", "--task", "synthetic-arithmetic", "--questions", "synthetic:1", "--out", "{dir}/m.jsonl", "--rounds", "1000"], "--rounds must be a whole number from 0 to 100 (got '1000')" },
        { ["discuss", "--task", "synthetic-arithmetic", "--questions", "synthetic:1", "--out", "{dir}/m.jsonl", "--concurrency", "0"], "--concurrency must be a whole number from 1 to 256 (got '0')" },
    };

    [Theory]
    [MemberData(nameof(OutOfRange))]
    public async Task NumericOptions_OutOfRangeOrMalformed_NameOptionValueAndRange(string[] template, string expected)
    {
        string dir = fixture.NewDirectory("num");
        string[] args = [.. template.Select(a => a.Replace("{mags}", fixture.MagsPath, StringComparison.Ordinal)
            .Replace("{model}", fixture.ModelDirectory, StringComparison.Ordinal)
            .Replace("{bench}", fixture.BenchmarkPath, StringComparison.Ordinal)
            .Replace("{dir}", dir, StringComparison.Ordinal))];
        AssertBadInput(await CliFixture.Run(args), expected);
    }

    [Fact]
    public async Task Generate_MaxNewTokensNearIntMax_SaysHowManyTokensFit()
    {
        var run = await CliFixture.Run("generate", "--model", fixture.ModelDirectory, "--prompt", "Tom has", "--max-new-tokens", "2147483647", "--dtype", "f32");
        AssertBadInput(run, "--max-new-tokens 2147483647", "max_position_embeddings 1024", "new tokens fit after this prompt");
    }

    [Fact]
    public void Index_AnyText_IsExit0Or2_NeverACrash_AndAnErrorNamesTheOption()
    {
        string dir = fixture.NewDirectory("index-prop");
        var values = Gen.OneOf(
            Gen.Long.Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            Gen.Int[-3, 10].Select(v => v.ToString(System.Globalization.CultureInfo.InvariantCulture)),
            Gen.Char["0123456789-+.eE ,x"].Array[1, 30].Select(c => new string(c)),
            Gen.String[0, 12]);
        values.Sample(
            value =>
            {
                var (code, _, err) = CliFixture.Run("mags", "render", "--in", fixture.MagsPath, $"--index={value}", "--out", Path.Combine(dir, "x.svg")).GetAwaiter().GetResult();
                Assert.True(code is 0 or 2, $"'{value}': exit {code}: {err}");
                Assert.DoesNotContain(StackFrame, err);
                if (code == 2)
                {
                    Assert.Contains("index", err);
                }
            },
            iter: 60,
            threads: 1);
    }

    [Fact]
    public async Task MagsStats_OnA100000RoundGraph_FinishesWithALimitedTable()
    {
        var b = InteractionGraph.CreateBuilder().WithId("deep").WithTask("gsm8k").WithQuestion("Q?").WithGoldAnswer("1").AddAgent("a");
        for (int r = 0; r < 100_000; r++)
        {
            b.AddNode("a", r, "r", "1");
        }

        string file = await WriteMags("deep.jsonl", b.Build());
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var (code, output, err) = await CliFixture.Run("mags", "stats", "--in", file);
        Assert.True(code == 0, err);
        Assert.Contains("1 graphs, 100000 nodes", output);
        Assert.Contains("per-agent accuracy shown for rounds 0 to 11 of 100000; --json has every round", output);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
    }

    [Fact]
    public async Task MagsStats_FullyConnectedPatternOverAHugeGraph_IsBadInputNotAHang()
    {
        var b = InteractionGraph.CreateBuilder().WithId("wide").WithTask("gsm8k").WithQuestion("Q?").WithGoldAnswer("1").AddAgent("a");
        for (int r = 0; r < 5_000; r++)
        {
            b.AddNode("a", r, "r", "1");
        }

        // Written with the cheap pattern, then relabelled: 5,000 x 4,999 fully connected edges exceed EdgeIndex.MaxEdges.
        string file = await WriteMags("wide.jsonl", b.Build());
        string text = (await File.ReadAllTextAsync(file)).Replace("\"pattern\":\"reconcile\"", "\"pattern\":\"fully-connected\"", StringComparison.Ordinal);
        Assert.Contains("fully-connected", text);
        await File.WriteAllTextAsync(file, text);

        AssertBadInput(await CliFixture.Run("mags", "stats", "--in", file), file, "EdgeIndex.MaxEdges");
    }

    // ---- 4. discuss prints why a question failed; empty choices are retried; over-long replies are re-asked ----

    [Fact]
    public async Task Discuss_401_PrintsTheServersReason()
    {
        using var server = new ScriptedChatServer((_, _) => (HttpStatusCode.Unauthorized, ScriptedChatServer.Error("Incorrect API key provided: sk-wrong.")));
        var run = await Discuss(server.BaseUrl, "--retries", "3");
        AssertBadInput(run, "401", "Incorrect API key provided", "1 question(s) failed");
        Assert.Equal(2, server.Requests); // one per agent: a 401 is not retried
    }

    [Fact]
    public async Task Discuss_Persistent500_PrintsTheRetriesAndTheReason()
    {
        using var server = new ScriptedChatServer((_, _) => (HttpStatusCode.InternalServerError, ScriptedChatServer.Error("The server had an error")));
        var run = await Discuss(server.BaseUrl, "--retries", "1");
        AssertBadInput(run, "transient error, retry 1", "500", "The server had an error", "1 question(s) failed");
    }

    [Fact]
    public async Task Discuss_RefusedConnection_PrintsTheReason()
    {
        var run = await Discuss($"http://127.0.0.1:{ScriptedChatServer.FreePort()}/v1", "--retries", "0");
        AssertBadInput(run, "refused", "1 question(s) failed");
    }

    [Fact]
    public async Task Discuss_200WithEmptyChoices_IsRetriedAndSucceeds()
    {
        using var server = new ScriptedChatServer((n, model) => n == 1
            ? (HttpStatusCode.OK, ScriptedChatServer.Completion(model, null))
            : (HttpStatusCode.OK, ScriptedChatServer.Completion(model, ScriptedChatServer.Reply("6 times 7 is 42."))));
        var run = await Discuss(server.BaseUrl, "--retries", "2");
        Assert.True(run.Code == 0, run.Err);
        Assert.Contains("no choices", run.Err);
        Assert.Contains("Wrote 1 MAG(s)", run.Out);
    }

    [Fact]
    public async Task Discuss_150000CharacterReply_IsReasked_AndTheCorpusReadsBack()
    {
        string huge = ScriptedChatServer.Reply(new string('x', 150_000));
        using var server = new ScriptedChatServer((n, model) => (HttpStatusCode.OK, ScriptedChatServer.Completion(model, n == 1 ? huge : ScriptedChatServer.Reply("6 times 7 is 42."))));
        string outPath = Path.Combine(fixture.NewDirectory("d-long"), "mags.jsonl");
        var run = await CliFixture.Run("discuss", "--task", "synthetic-arithmetic", "--questions", "synthetic:1", "--out", outPath, "--rounds", "0",
            "--agent", $"a={server.BaseUrl}|m", "--agent", $"b={server.BaseUrl}|m", "--concurrency", "1");
        Assert.True(run.Code == 0, run.Err);

        var stats = await CliFixture.Run("mags", "stats", "--in", outPath, "--json");
        Assert.True(stats.Code == 0, stats.Err);
        var read = await MagFile.ReadAsync(outPath);
        Assert.All(Assert.Single(read.Graphs).Nodes, n => Assert.Equal("6 times 7 is 42.", n.Reasoning));
    }

    private async Task<(int Code, string Out, string Err)> Discuss(string url, params string[] extra) =>
        await CliFixture.Run([
            "discuss", "--task", "synthetic-arithmetic", "--questions", "synthetic:1", "--out", Path.Combine(fixture.NewDirectory("d"), "mags.jsonl"),
            "--rounds", "0", "--agent", $"a={url}|m", "--agent", $"b={url}|m", .. extra]);

    // ---- 5. Terminal output: control characters escaped; outputs checked before work; score --ids needs no tokenizer ----

    [Fact]
    public async Task Render_And_Stats_EscapeControlCharactersInIdsAndAgents()
    {
        var evil = InteractionGraph.CreateBuilder().WithId("evil\u001b[31mRED\u001b[0m\nforged line").WithTask("gsm8k").WithQuestion("Q?").WithGoldAnswer("1")
            .AddAgent("a\u001b[2Jb").AddNode("a\u001b[2Jb", 0, "r", "1").Build();
        string file = await WriteMags("evil.jsonl", evil);

        var render = await CliFixture.Run("mags", "render", "--in", file, "--index", "0", "--out", Path.Combine(fixture.NewDirectory("evil"), "e.svg"));
        Assert.True(render.Code == 0, render.Err);
        Assert.Contains("Rendered evil\\u001B[31mRED\\u001B[0m\\u000Aforged line (G0", render.Out);
        Assert.DoesNotContain('\u001b', render.Out);
        Assert.Single(render.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));

        var stats = await CliFixture.Run("mags", "stats", "--in", file);
        Assert.True(stats.Code == 0, stats.Err);
        Assert.Contains("a\\u001B[2Jb", stats.Out);
        Assert.DoesNotContain('\u001b', stats.Out);
    }

    [Fact]
    public void Clean_NeverLeavesAControlCharacter() =>
        Gen.String.Sample(text =>
        {
            Assert.DoesNotContain(Terminal.Clean(text), c => char.IsControl(c) || c is '\u2028' or '\u2029');
            Assert.DoesNotContain(Terminal.Clean(text, keepLineBreaks: true), c => (char.IsControl(c) && c is not '\n' and not '\t') || c is '\u2028' or '\u2029');
        });

    [Fact]
    public async Task Tokenize_OutIsAFolder_FailsBeforeTokenizingAndNeverClaimsSuccess()
    {
        string dir = fixture.NewDirectory("tok-out");
        string input = Path.Combine(dir, "in.jsonl");
        await File.WriteAllLinesAsync(input, ["{\"text\": \"Tom has 5 pens.\"}", "{\"text\": \"He buys 3.\"}"]);
        string folder = Directory.CreateDirectory(Path.Combine(dir, "ids.jsonl")).FullName;

        var run = await CliFixture.Run("tokenize", "--tokenizer", fixture.ModelDirectory, "--in", input, "--out", folder);

        AssertBadInput(run, "--out", "is a folder");
        Assert.DoesNotContain("Tokenized", run.Err + run.Out);
        Assert.Empty(Directory.GetFileSystemEntries(folder));
        Assert.False(File.Exists(folder + ".tmp"));
    }

    [Fact]
    public async Task Tokenize_ReportsSuccessOnlyAfterTheOutputIsInPlace()
    {
        string dir = fixture.NewDirectory("tok-ok");
        string input = Path.Combine(dir, "in.jsonl");
        await File.WriteAllLinesAsync(input, ["{\"text\": \"Tom has 5 pens.\"}", "{\"text\": \"He buys 3.\"}"]);
        string output = Path.Combine(dir, "ids.jsonl");

        var run = await CliFixture.Run("tokenize", "--tokenizer", fixture.ModelDirectory, "--in", input, "--out", output);

        Assert.True(run.Code == 0, run.Err);
        Assert.Contains($"Tokenized 2 line(s) into {output}", run.Err);
        Assert.Equal(2, File.ReadAllLines(output).Length);
    }

    [Fact]
    public async Task Score_Ids_NeedNoTokenizer_ButAreCheckedAgainstVocabSize()
    {
        string bare = fixture.NewDirectory("bare");
        foreach (string file in new[] { "config.json", "model.safetensors" })
        {
            File.Copy(Path.Combine(fixture.ModelDirectory, file), Path.Combine(bare, file));
        }

        var full = await CliFixture.Run("score", "--model", fixture.ModelDirectory, "--ids", "1,40,41", "--json");
        var ids = await CliFixture.Run("score", "--model", bare, "--ids", "1,40,41", "--json");
        Assert.True(ids.Code == 0, ids.Err);
        Assert.Equal(full.Out, ids.Out);

        var table = await CliFixture.Run("score", "--model", bare, "--ids", "1,40,41");
        Assert.True(table.Code == 0, table.Err);
        Assert.Contains("perplexity", table.Out);

        int vocab = fixture.Tokenizer.VocabularySize;
        AssertBadInput(await CliFixture.Run("score", "--model", bare, "--ids", $"1,{vocab}"), $"item 2 ({vocab}) is outside the model's vocabulary", $"vocab_size {vocab}");
        AssertBadInput(await CliFixture.Run("score", "--model", bare, "--text", "Tom"), "no tokenizer found");
        AssertBadInput(await CliFixture.Run("score", "--model", bare, "--ids", "1,99999999999"), "item 2 ('99999999999') is not a whole number");
    }

    // ---- 6. Duplicate question ids in an eval test file ----

    [Fact]
    public async Task Eval_DuplicateIdsInTheTestFile_AreBadInputNamingFileLineAndId()
    {
        string dir = fixture.NewDirectory("dup");
        string test = Path.Combine(dir, "test.jsonl");
        await File.WriteAllLinesAsync(test,
        [
            "{\"id\": \"q1\", \"question\": \"Tom has 2 pens and buys 3. How many?\", \"answer\": \"2 + 3\\n#### 5\"}",
            "{\"id\": \"q1\", \"question\": \"Tom has 4 pens and buys 3. How many?\", \"answer\": \"4 + 3\\n#### 7\"}",
        ]);
        string predictions = Path.Combine(dir, "pred.jsonl");
        await File.WriteAllLinesAsync(predictions, ["{\"id\": \"q1\", \"answer\": \"5\"}"]);

        AssertBadInput(await CliFixture.Run("eval", "--task", "gsm8k", "--test", test, "--predictions", predictions), test, "line 2", "duplicate question id 'q1'");
        AssertBadInput(await CliFixture.Run("eval", "--model", fixture.ModelDirectory, "--task", "gsm8k", "--test", test, "--json"), test, "line 2", "'q1'");
    }

    // ---- 7. NaN weights fail loudly in generate, score and eval ----

    private string PoisonedModel()
    {
        string dir = fixture.NewDirectory("nan");
        foreach (string file in Directory.GetFiles(fixture.ModelDirectory).Where(f => Path.GetFileName(f) is not ("model.safetensors" or "config.json")))
        {
            File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
        }

        using var model = CausalLanguageModel.FromPretrained(fixture.ModelDirectory, new ModelLoadOptions { DType = ScalarType.Float32 });
        using (no_grad())
        {
            model.state_dict()["model.layers.1.mlp.down_proj.weight"].fill_(float.NaN);
        }

        model.SavePretrained(dir);
        return dir;
    }

    [Fact]
    public async Task NaNWeights_FailGenerateScoreAndEval_NamingTheWeight()
    {
        string nan = PoisonedModel();
        const string Weight = "model.layers.1.mlp.down_proj.weight";

        // Loading refuses the checkpoint before any token is produced (NaN weights could otherwise stay hidden behind
        // attention masking); the generation-time check is covered in MagDi.Core.Tests.
        var generate = await CliFixture.Run("generate", "--model", nan, "--prompt", "Tom has", "--max-new-tokens", "4", "--dtype", "f32");
        AssertBadInput(generate, "weight tensor(s) hold NaN or infinite values", "The checkpoint is damaged", Weight);
        Assert.Equal(string.Empty, generate.Out);

        var score = await CliFixture.Run("score", "--model", nan, "--ids", "1,40,41");
        AssertBadInput(score, "NaN or infinite", Weight);
        Assert.DoesNotContain("NaN", score.Out);

        var json = await CliFixture.Run("score", "--model", nan, "--ids", "1,40,41", "--json");
        AssertBadInput(json, "NaN or infinite", Weight);
        Assert.Equal(string.Empty, json.Out);

        var eval = await CliFixture.Run("eval", "--model", nan, "--task", "gsm8k", "--test", fixture.BenchmarkPath, "--limit", "2", "--max-new-tokens", "4", "--json");
        AssertBadInput(eval, "NaN or infinite", Weight);
        Assert.DoesNotContain("accuracy", eval.Out);
    }
}

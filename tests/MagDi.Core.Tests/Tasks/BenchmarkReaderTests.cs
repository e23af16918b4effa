using System.Text;
using CsCheck;
using MagDi.Tasks;

namespace MagDi.Core.Tests.Tasks;

public sealed class BenchmarkReaderTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "magdi-bench-" + Guid.NewGuid().ToString("N"));

    public BenchmarkReaderTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string Write(string name, string content)
    {
        var p = Path.Combine(_dir, name);
        Directory.CreateDirectory(Path.GetDirectoryName(p)!);
        File.WriteAllText(p, content);
        return p;
    }

    [Fact]
    public async Task Gsm8k_JsonLines_GoldFromHashLine()
    {
        var p = Write("test.jsonl", """
        {"question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did Natalia sell altogether in April and May?", "answer": "Natalia sold 48/2 = <<48/2=24>>24 clips in May.\nNatalia sold 48+24 = <<48+24=72>>72 clips altogether in April and May.\n#### 72"}

        {"question": "Big number?", "answer": "It is big.\n#### 1,250"}
        """);
        var data = await BenchmarkReader.ReadAsync(p, "gsm8k");
        Assert.Equal(["72", "1250"], data.Questions.Select(q => q.GoldAnswer));
        Assert.Equal(["gsm8k-0", "gsm8k-1"], data.Questions.Select(q => q.Id));
        Assert.All(data.Questions, q => Assert.Equal("gsm8k", q.Task));
        Assert.Equal(2, data.Report.RecordsRead);
    }

    [Fact]
    public async Task DuplicateQuestionIds_AreRejectedWithFileLineAndId_OrSkipped()
    {
        var p = Write("dup.jsonl", """
        {"id": "q1", "question": "One?", "answer": "x\n#### 1"}
        {"id": "q2", "question": "Two?", "answer": "x\n#### 2"}
        {"id": "q1", "question": "One again?", "answer": "x\n#### 3"}
        """);
        var error = await Assert.ThrowsAsync<MagDataException>(() => BenchmarkReader.ReadAsync(p, "gsm8k"));
        Assert.Equal(p, error.File);
        Assert.Equal(3, error.Line);
        Assert.Equal("id", error.Field);
        Assert.Contains("duplicate question id 'q1' (first at line 1", error.Reason);

        var skipped = await BenchmarkReader.ReadAsync(p, "gsm8k", new DataReadOptions { ErrorMode = ReadErrorMode.SkipInvalid });
        Assert.Equal(["q1", "q2"], skipped.Questions.Select(q => q.Id));
        Assert.Equal(3, Assert.Single(skipped.Report.Skipped).Line);

        // An explicit id equal to another record's default id is a duplicate too.
        var array = Write("dup.json", """[{"question": "A?", "answer": "x\n#### 1"}, {"id": "gsm8k-0", "question": "B?", "answer": "x\n#### 2"}]""");
        error = await Assert.ThrowsAsync<MagDataException>(() => BenchmarkReader.ReadAsync(array, "gsm8k"));
        Assert.Equal(1, error.Element);
        Assert.Contains("'gsm8k-0' (first at element 0", error.Reason);
    }

    [Fact]
    public async Task StrategyQA_JsonArray_BooleanAnswers()
    {
        var p = Write("strategyqa_train.json", """
        [{"qid": "b8677742616fef051f00", "term": "Genghis Khan", "description": "founder", "question": "Are more people today related to Genghis Khan than Julius Caesar?", "answer": true, "facts": ["a"], "decomposition": ["b"]},
         {"qid": "4668264df84fb7c25b39", "question": "Could a llama birth twice during War in Vietnam (1945-46)?", "answer": false, "facts": [], "decomposition": []}]
        """);
        var data = await BenchmarkReader.ReadAsync(p, "sqa");
        Assert.Equal("strategyqa", data.Task.Name);
        Assert.Equal(["b8677742616fef051f00", "4668264df84fb7c25b39"], data.Questions.Select(q => q.Id));
        Assert.Equal(["yes", "no"], data.Questions.Select(q => q.GoldAnswer));
    }

    [Fact]
    public async Task BoolQ_PassageAndQuestion()
    {
        var p = Write("dev.jsonl", """{"question": "is windows movie maker part of windows essentials", "title": "Windows Movie Maker", "answer": true, "passage": "Windows Movie Maker is a discontinued video editing software by Microsoft."}""");
        var q = Assert.Single((await BenchmarkReader.ReadAsync(p, "boolq")).Questions);
        Assert.Equal("Windows Movie Maker is a discontinued video editing software by Microsoft.\nQuestion: Is windows movie maker part of windows essentials?", q.Text);
        Assert.Equal("yes", q.GoldAnswer);
    }

    [Theory]
    [InlineData("commonsenseqa")]
    [InlineData("arc")]
    public async Task CsqaAndArc_ChoicesAndAnswerKey(string task)
    {
        var p = Write($"{task}.jsonl", """
        {"answerKey": "A", "id": "075e483d21c29a511267ef62bedc0461", "question": {"question_concept": "punishing", "choices": [{"label": "A", "text": "ignore"}, {"label": "B", "text": "enforce"}], "stem": "The sanctions against the school were a punishing blow. What did they do?"}}
        {"id": "Mercury_7175875", "question": {"stem": "An astronomer observes that a planet rotates faster. Which is most likely?", "choices": [{"text": "density", "label": "1"}, {"text": "gravity", "label": "2"}]}, "answerKey": "2"}
        """);
        var data = await BenchmarkReader.ReadAsync(p, task);
        Assert.Equal(2, data.Questions.Count);
        Assert.Equal([new AnswerChoice("A", "ignore"), new AnswerChoice("B", "enforce")], data.Questions[0].Choices);
        Assert.Equal("A", data.Questions[0].GoldAnswer);
        Assert.Equal("2", data.Questions[1].GoldAnswer);
        Assert.Equal("Mercury_7175875", data.Questions[1].Id);
    }

    [Fact]
    public async Task Aqua_LabelledOptions()
    {
        var p = Write("aqua.json", """{"question": "Two friends plan to walk along a 43-km trail. How many km will P have walked?", "options": ["A)21", "B)21.5", "C)22", "D)22.5", "E)23"], "rationale": "...", "correct": "E"}""");
        var q = Assert.Single((await BenchmarkReader.ReadAsync(p, "aqua")).Questions);
        Assert.Equal(5, q.Choices.Count);
        Assert.Equal(new AnswerChoice("B", "21.5"), q.Choices[1]);
        Assert.Equal("E", q.GoldAnswer);
    }

    [Fact]
    public async Task Math_DirectoryOfProblemFiles_BoxedGold()
    {
        Write("MATH/test/algebra/1.json", """
        {
          "problem": "What is $\\frac{1}{2} + \\frac{1}{4}$?",
          "level": "Level 1",
          "type": "Algebra",
          "solution": "We have $\\frac{1}{2} + \\frac{1}{4} = \\boxed{\\frac{3}{4}}$."
        }
        """);
        Write("MATH/test/geometry/2.json", """{"problem": "Area?", "level": "Level 2", "type": "Geometry", "solution": "The area is $\\boxed{10\\text{ cm}^2}$."}""");
        var data = await BenchmarkReader.ReadAsync(Path.Combine(_dir, "MATH"), "math");
        Assert.Equal(["\\frac{3}{4}", "10\\text{ cm}^2"], data.Questions.Select(q => q.GoldAnswer));
        Assert.Equal(Path.Combine("test", "algebra", "1.json"), data.Questions[0].Id);
        Assert.True(ReasoningTasks.Math.IsCorrect("0.75", data.Questions[0].GoldAnswer));
    }

    [Fact]
    public async Task Svamp_JsonArray_NumericGold()
    {
        var p = Write("SVAMP.json", """[{"ID": "chal-1", "Body": "Each pack of dvds costs 76 dollars. If there is a discount of 25 dollars on each pack", "Question": "How much do you have to pay to buy each pack?", "Equation": "( 76.0 - 25.0 )", "Answer": 51.0, "Type": "Subtraction"}]""");
        var q = Assert.Single((await BenchmarkReader.ReadAsync(p, "svamp")).Questions);
        Assert.Equal("51", q.GoldAnswer);
        Assert.Equal("chal-1", q.Id);
        Assert.EndsWith("pack How much do you have to pay to buy each pack?", q.Text);
    }

    [Fact]
    public async Task UserTask_GenericFields()
    {
        var task = new FreeTextTask("capitals-" + Guid.NewGuid().ToString("N"));
        ReasoningTasks.Register(task);
        var p = Write("capitals.jsonl", """{"id": 7, "question": "Capital of France?", "answer": "Paris"}""");
        var q = Assert.Single((await BenchmarkReader.ReadAsync(p, task.Name)).Questions);
        Assert.Equal("7", q.Id);
        Assert.Equal("Paris", q.GoldAnswer);
    }

    [Theory]
    [InlineData("gsm8k", """{"question": "q", "answer": "no hash line"}""", "answer", "#### <number>")]
    [InlineData("gsm8k", """{"answer": "#### 3"}""", "question", "missing")]
    [InlineData("gsm8k", """{"question": "q", "answer": "#### many"}""", "answer", "not a valid gsm8k answer")]
    [InlineData("boolq", """{"question": "q", "answer": "perhaps"}""", "answer", "expected a boolean")]
    [InlineData("arc", """{"id": "x", "question": {"stem": "s", "choices": [{"label": "A", "text": "t"}]}, "answerKey": "C"}""", "answerKey", "not one of the choice labels")]
    [InlineData("arc", """{"id": "x", "question": {"stem": "s", "choices": []}, "answerKey": "A"}""", "question.choices", "no choices")]
    [InlineData("arc", """{"id": "x", "question": "s", "answerKey": "A"}""", "question", "expected a JSON object")]
    [InlineData("math", """{"problem": "p", "solution": "no box"}""", "solution", "boxed")]
    [InlineData("aqua", """{"question": "q", "options": ["21"], "correct": "A"}""", "options[0]", "labelled option")]
    public async Task BadRecords_FailWithLineFieldAndReason(string task, string line, string field, string reason)
    {
        var p = Write("bad.jsonl", """{"question": "ok", "answer": "#### 1"}""" + "\n" + line + "\n");
        if (task != "gsm8k")
        {
            p = Write("bad.jsonl", line + "\n");
        }

        var ex = await Assert.ThrowsAsync<MagDataException>(() => BenchmarkReader.ReadAsync(p, task));
        Assert.Equal(p, ex.File);
        Assert.Equal(task == "gsm8k" ? 2 : 1, ex.Line);
        Assert.Equal(field, ex.Field);
        Assert.Contains(reason, ex.Reason);
    }

    [Fact]
    public async Task SkipInvalid_ListsEverySkippedRecord()
    {
        var bytes = Encoding.UTF8.GetBytes("""
        {"question": "a", "answer": "#### 1"}
        {"question": "b"}
        {not json
        """ + "\n").Concat(new byte[] { (byte)'{', 0xFF, (byte)'}', (byte)'\n' }).Concat(Encoding.UTF8.GetBytes("""{"question": "e", "answer": "#### 5"}""")).ToArray();
        var p = Path.Combine(_dir, "mixed.jsonl");
        await File.WriteAllBytesAsync(p, bytes);
        var data = await BenchmarkReader.ReadAsync(p, "gsm8k", new DataReadOptions { ErrorMode = ReadErrorMode.SkipInvalid });
        Assert.Equal(["a", "e"], data.Questions.Select(q => q.Text));
        Assert.Equal([2, 3, 4], data.Report.Skipped.Select(e => e.Line!.Value));
        Assert.Equal("invalid UTF-8", data.Report.Skipped[2].Reason);
        Assert.Contains("malformed JSON", data.Report.Skipped[1].Reason);
    }

    [Fact]
    public async Task UnknownTaskMissingFileAndEmptyFile_AreClearErrors()
    {
        var p = Write("x.jsonl", "{}");
        Assert.Contains("Known tasks", (await Assert.ThrowsAsync<ArgumentException>(() => BenchmarkReader.ReadAsync(p, "chess"))).Message);
        Assert.Contains("not found", (await Assert.ThrowsAsync<MagDataException>(() => BenchmarkReader.ReadAsync(Path.Combine(_dir, "none.jsonl"), "gsm8k"))).Reason);
        Assert.Contains("empty", (await Assert.ThrowsAsync<MagDataException>(() => BenchmarkReader.ReadAsync(Write("e.jsonl", " \n "), "gsm8k"))).Reason);
        Assert.Contains("malformed JSON", (await Assert.ThrowsAsync<MagDataException>(() => BenchmarkReader.ReadAsync(Write("a.json", "[{\"x\": ]"), "gsm8k"))).Reason);
    }

    [Fact]
    public void RandomInput_OnlyThrowsMagDataException()
    {
        var tasks = new[] { "gsm8k", "strategyqa", "boolq", "commonsenseqa", "arc", "aqua", "math", "svamp" };
        var jsonish = Gen.OneOf(Gen.OneOf("{}[]\":,\\-.0123456789 \n#abtrue".Select(c => (byte)c).ToArray()), Gen.OneOf((byte)0xFF, (byte)0xC3), Gen.Byte);
        var seeds = new[]
        {
            """{"question": "q", "answer": "#### 1", "qid": "x", "passage": "p", "Body": "b", "Question": "q", "Answer": 1, "problem": "p", "solution": "\\boxed{1}", "options": ["A)1"], "correct": "A"}""",
            """[{"id": "x", "question": {"stem": "s", "choices": [{"label": "A", "text": "t"}]}, "answerKey": "A"}]""",
        }.Select(Encoding.UTF8.GetBytes).ToArray();
        Gen.Select(Gen.Int[0, 1], Gen.Int[0, 400].Array[1, 6], jsonish.Array[6], Gen.Int[0, tasks.Length - 1]).Sample((seed, positions, bytes, t) =>
        {
            var list = seeds[seed].ToList();
            for (var i = 0; i < positions.Length; i++)
            {
                list[Math.Min(positions[i], list.Count - 1)] = bytes[i];
            }

            foreach (var mode in new[] { ReadErrorMode.FailFast, ReadErrorMode.SkipInvalid })
            {
                try
                {
                    BenchmarkReader.ReadAsync(new MemoryStream(list.ToArray()), tasks[t], new DataReadOptions { ErrorMode = mode }).GetAwaiter().GetResult();
                }
                catch (MagDataException)
                {
                }
            }
        }, iter: 1500);
    }
}

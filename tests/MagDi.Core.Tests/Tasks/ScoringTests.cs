using MagDi.Tasks;

namespace MagDi.Core.Tests.Tasks;

public sealed class ScoringTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "magdi-score-" + Guid.NewGuid().ToString("N"));

    public ScoringTests() => Directory.CreateDirectory(_dir);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static readonly Question[] Questions =
    [
        new("q1", "gsm8k", "a", "72"),
        new("q2", "gsm8k", "b", "10"),
        new("q3", "gsm8k", "c", "5"),
        new("q4", "gsm8k", "d", "1"),
    ];

    [Fact]
    public void Score_ById_ExtractsAnswersAndCountsMissing()
    {
        var result = Scoring.Score(ReasoningTasks.Gsm8k, Questions,
        [
            new Prediction("q2", "I think 5 + 5 = 10. So the answer is 10.", null),
            new Prediction("q1", null, "72.0"),
            new Prediction("q3", "I do not know.", null),
        ]);
        Assert.Equal(4, result.Count);
        Assert.Equal(2, result.Correct);
        Assert.Equal(1, result.Missing);
        Assert.Equal(1, result.Unanswered);
        Assert.Equal(0.5, result.Accuracy);
        Assert.Equal(["q1", "q2", "q3", "q4"], result.Questions.Select(q => q.Id));
        Assert.True(result.Questions[3].IsMissing);
        Assert.Equal("10", result.Questions[1].Predicted);
    }

    [Fact]
    public void Score_ByPosition_WhenNoIds()
    {
        var result = Scoring.Score(ReasoningTasks.Gsm8k, Questions, [new Prediction(null, "#### 72", null), new Prediction(null, "11", null)]);
        Assert.Equal(1, result.Correct);
        Assert.Equal(2, result.Missing);
    }

    [Fact]
    public void Score_RejectsUnknownDuplicateAndMixedIds()
    {
        Assert.Contains("unknown question id 'zz'", Assert.Throws<ArgumentException>(() => Scoring.Score(ReasoningTasks.Gsm8k, Questions, [new Prediction("zz", "1", null)])).Message);
        Assert.Contains("More than one prediction", Assert.Throws<ArgumentException>(() => Scoring.Score(ReasoningTasks.Gsm8k, Questions, [new Prediction("q1", "1", null), new Prediction("q1", "2", null)])).Message);
        Assert.Contains("have no id", Assert.Throws<ArgumentException>(() => Scoring.Score(ReasoningTasks.Gsm8k, Questions, [new Prediction("q1", "1", null), new Prediction(null, "2", null)])).Message);
        Assert.Contains("only 4 questions", Assert.Throws<ArgumentException>(() => Scoring.Score(ReasoningTasks.Gsm8k, Questions, Enumerable.Repeat(new Prediction(null, "1", null), 5).ToArray())).Message);
    }

    [Fact]
    public void Score_EmptyBenchmark_HasZeroAccuracy() =>
        Assert.Equal(0, Scoring.Score(ReasoningTasks.Gsm8k, [], []).Accuracy);

    [Fact]
    public async Task ScoreFilesAsync_ReadsBenchmarkAndPredictions()
    {
        var bench = Path.Combine(_dir, "csqa.jsonl");
        await File.WriteAllTextAsync(bench, """
        {"id": "a", "question": {"stem": "Where?", "choices": [{"label": "A", "text": "bank"}, {"label": "B", "text": "river"}]}, "answerKey": "A"}
        {"id": "b", "question": {"stem": "What?", "choices": [{"label": "A", "text": "cat"}, {"label": "B", "text": "dog"}]}, "answerKey": "B"}
        """);
        var preds = Path.Combine(_dir, "pred.jsonl");
        await File.WriteAllTextAsync(preds, """
        {"id": "a", "prediction": "Money goes to the bank. So the answer is (A)."}
        {"id": "b", "answer": "a"}
        """);
        var result = await Scoring.ScoreFilesAsync("ecqa", bench, preds);
        Assert.Equal("commonsenseqa", result.Task);
        Assert.Equal(2, result.Count);
        Assert.Equal(1, result.Correct);
    }

    [Theory]
    [InlineData("{\"id\": \"a\"}", "prediction", "missing")]
    [InlineData("{\"id\": \"a\", \"prediction\": 5}", "prediction", "expected a string")]
    [InlineData("not json", null, "malformed JSON")]
    public async Task ReadPredictionsAsync_BadLines(string line, string? field, string reason)
    {
        var preds = Path.Combine(_dir, "p.jsonl");
        await File.WriteAllTextAsync(preds, "{\"id\": \"x\", \"answer\": 1}\n" + line + "\n");
        var ex = await Assert.ThrowsAsync<MagDataException>(() => Scoring.ReadPredictionsAsync(preds));
        Assert.Equal(2, ex.Line);
        Assert.Equal(field, ex.Field);
        Assert.Contains(reason, ex.Reason);
    }
}

public sealed class PredictionsFileTests : IDisposable
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), "magdi-pred-" + Guid.NewGuid().ToString("N") + ".jsonl");

    public void Dispose() => File.Delete(_path);

    [Fact]
    public async Task WriteThenRead_RoundTrips()
    {
        Prediction[] predictions = [new("q1", "So the answer is 72.\n\"quoted\" ✓", null), new("q2", null, "10"), new("q3", "x", "y")];
        Assert.Equal(3, await Scoring.WritePredictionsAsync(_path, predictions));
        IReadOnlyList<Prediction> read = await Scoring.ReadPredictionsAsync(_path);
        Assert.Equal(predictions.Select(p => (p.Id, p.Output, p.Answer)), read.Select(p => (p.Id, p.Output, p.Answer)));
    }
}

public class VoteTests
{
    [Fact]
    public void MajorityVote_PoolsEquivalentAnswers()
    {
        Assert.Equal("42", ReasoningTasks.Gsm8k.MajorityVote(["42", "$42.00", "41", null, "no idea", "41", "42.0"]));
        Assert.Equal("yes", ReasoningTasks.StrategyQA.MajorityVote(["no", "Yes", "true", "maybe"]));
        Assert.Equal("\\frac{1}{2}", ReasoningTasks.Math.MajorityVote(["0.5", "\\frac12", "\\frac{1}{3}"]));
        Assert.Null(ReasoningTasks.Gsm8k.MajorityVote([null, "none"]));
        Assert.Equal("1", ReasoningTasks.Gsm8k.MajorityVote(["1", "2"])); // tie: first seen
    }

    [Fact]
    public void WeightedVote_UsesConfidences()
    {
        // ReConcile-style: two weak votes for 41 lose to one confident vote for 42.
        Assert.Equal("42", ReasoningTasks.Gsm8k.WeightedVote([("41", 0.1), ("41", 0.3), ("42", 1.0)]));
        Assert.Equal("41", ReasoningTasks.Gsm8k.WeightedVote([("41", 0.5), ("41", 0.6), ("42", 1.0)]));
        Assert.Null(ReasoningTasks.Gsm8k.WeightedVote([("41", 0), ("42", double.NaN), ("43", -1)]));
    }
}

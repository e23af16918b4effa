using MagDi.Tasks;

namespace MagDi.Core.Tests.Tasks;

public class ReasoningTasksTests
{
    [Theory]
    [InlineData("strategyqa", "strategyqa")]
    [InlineData("SQA", "strategyqa")]
    [InlineData("boolq", "boolq")]
    [InlineData("ECQA", "commonsenseqa")]
    [InlineData("csqa", "commonsenseqa")]
    [InlineData("CommonsenseQA", "commonsenseqa")]
    [InlineData("ARC", "arc")]
    [InlineData("arc-challenge", "arc")]
    [InlineData("aqua", "aqua")]
    [InlineData("GSM8K", "gsm8k")]
    [InlineData("svamp", "svamp")]
    [InlineData("MATH", "math")]
    public void Get_ResolvesNamesAndAliasesIgnoringCase(string name, string expected)
    {
        Assert.Equal(expected, ReasoningTasks.Get(name).Name);
    }

    [Fact]
    public void Get_UnknownName_ListsKnownNames()
    {
        var ex = Assert.Throws<ArgumentException>(() => ReasoningTasks.Get("nope"));
        Assert.Contains("Unknown task 'nope'", ex.Message);
        Assert.Contains("gsm8k", ex.Message);
        Assert.Contains("strategyqa", ex.Message);
        Assert.False(ReasoningTasks.TryGet("nope", out _));
        Assert.False(ReasoningTasks.TryGet(null, out _));
    }

    [Fact]
    public void Register_UserTask_IsFoundByNameAndAlias_AndConflictsAreRejected()
    {
        var task = new FreeTextTask("capitals-" + Guid.NewGuid().ToString("N"), ["cap-" + Guid.NewGuid().ToString("N")]);
        ReasoningTasks.Register(task);
        Assert.Same(task, ReasoningTasks.Get(task.Name.ToUpperInvariant()));
        Assert.Same(task, ReasoningTasks.Get(task.Aliases[0]));
        Assert.Contains(task, ReasoningTasks.All);
        ReasoningTasks.Register(task); // idempotent for the same instance
        Assert.Throws<InvalidOperationException>(() => ReasoningTasks.Register(new NumericTask(task.Name)));
        Assert.Throws<InvalidOperationException>(() => ReasoningTasks.Register(new NumericTask("gsm8k")));
    }

    [Theory]
    [InlineData("strategyqa", AnswerKind.YesNo)]
    [InlineData("boolq", AnswerKind.YesNo)]
    [InlineData("commonsenseqa", AnswerKind.MultipleChoice)]
    [InlineData("arc", AnswerKind.MultipleChoice)]
    [InlineData("aqua", AnswerKind.MultipleChoice)]
    [InlineData("gsm8k", AnswerKind.Number)]
    [InlineData("svamp", AnswerKind.Number)]
    [InlineData("math", AnswerKind.Math)]
    public void BuiltIns_HaveExpectedKindAndInstruction(string name, AnswerKind kind)
    {
        var task = ReasoningTasks.Get(name);
        Assert.Equal(kind, task.Kind);
        Assert.False(string.IsNullOrWhiteSpace(task.AnswerFormatInstruction));
    }

    [Fact]
    public void FormatQuestion_RendersChoicesOnePerLine()
    {
        var q = new Question("1", "csqa", "Where do you keep money?", [new("A", "bank"), new("B", "river")], "A");
        var text = ReasoningTasks.CommonsenseQA.FormatQuestion(q);
        Assert.Equal("Where do you keep money?\nAnswer Choices:\n(A) bank\n(B) river", text);
        Assert.Equal("What is 2+2?", ReasoningTasks.Gsm8k.FormatQuestion(new Question("2", "gsm8k", "What is 2+2?", "4")));
    }

    [Fact]
    public void Question_EqualityComparesChoicesByValue()
    {
        var a = new Question("1", "csqa", "Q", [new("A", "x")], "A");
        var b = new Question("1", "csqa", "Q", new List<AnswerChoice> { new("A", "x") }, "A");
        Assert.Equal(a, b);
        Assert.Equal(a.GetHashCode(), b.GetHashCode());
        Assert.NotEqual(a, b with { Choices = [new("A", "y")] });
        Assert.Empty(new Question("1", "gsm8k", "Q", "1").Choices);
    }
}

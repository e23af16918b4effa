using MagDi.Tasks;

namespace MagDi.Core.Tests.Tasks;

public class YesNoAnswerTests
{
    private static readonly ReasoningTask Task = ReasoningTasks.StrategyQA;

    [Theory]
    [InlineData("yes", "yes")]
    [InlineData("Yes.", "yes")]
    [InlineData("YES", "yes")]
    [InlineData("  no  ", "no")]
    [InlineData("No, because penguins cannot fly.", "no")]
    [InlineData("True", "yes")]
    [InlineData("false", "no")]
    [InlineData("**Yes**", "yes")]
    [InlineData("\"no\"", "no")]
    [InlineData("(yes)", "yes")]
    [InlineData("maybe", null)]
    [InlineData("", null)]
    [InlineData("nobody knows", null)]
    [InlineData("yesterday", null)]
    public void Normalize_YesNoForms(string input, string? expected) => Assert.Equal(expected, Task.Normalize(input));

    [Theory]
    [InlineData("Penguins are birds but cannot fly. So the answer is no.", "no")]
    [InlineData("{\"reasoning\": \"Aristotle died before laptops.\", \"answer\": \"no\", \"confidence_level\": 0.9}", "no")]
    [InlineData("```json\n{'reasoning': 'x', 'answer': 'Yes', 'confidence_level': '0.8'}\n```", "yes")]
    [InlineData("Answer: Yes", "yes")]
    [InlineData("The answer is: **No**", "no")]
    [InlineData("I think so. Yes.", "yes")]
    [InlineData("{\"answer\": true}", "yes")]
    [InlineData("Nothing to see here", null)]
    public void ExtractAnswer_RealWorldReplies(string reply, string? expected) => Assert.Equal(expected, Task.ExtractAnswer(reply));

    [Theory]
    [InlineData("Yes", "true", true)]
    [InlineData("no", "False", true)]
    [InlineData("yes", "no", false)]
    [InlineData(null, "yes", false)]
    [InlineData("unsure", "yes", false)]
    public void IsCorrect_ComparesNormalisedAnswers(string? predicted, string gold, bool expected) => Assert.Equal(expected, Task.IsCorrect(predicted, gold));
}

public class MultipleChoiceAnswerTests
{
    private static readonly MultipleChoiceTask Task = ReasoningTasks.CommonsenseQA;

    [Theory]
    [InlineData("B", "B")]
    [InlineData("b", "B")]
    [InlineData("(b)", "B")]
    [InlineData("(B)", "B")]
    [InlineData("B)", "B")]
    [InlineData("B.", "B")]
    [InlineData("B: bank", "B")]
    [InlineData("(C) bank", "C")]
    [InlineData("Option D", "D")]
    [InlineData("choice (E)", "E")]
    [InlineData("The correct option is A", "A")]
    [InlineData("3", "3")]
    [InlineData("(2) a river", "2")]
    [InlineData("bank", "bank")]
    [InlineData("  Bank  Account. ", "bank account")]
    [InlineData("", null)]
    public void Normalize_LabelForms(string input, string? expected) => Assert.Equal(expected, Task.Normalize(input));

    [Theory]
    [InlineData("People keep money safe in banks. So the answer is (A).", "A")]
    [InlineData("So the answer is A", "A")]
    [InlineData("{\"reasoning\": \"...\", \"answer\": \"(C) grocery store\"}", "C")]
    [InlineData("The answer is bank (B).", "B")]
    [InlineData("Among (A) and (D), the best is (D) because it is warm.", "D")]
    [InlineData("Answer: e", "E")]
    [InlineData("no label here", null)]
    public void ExtractAnswer_RealWorldReplies(string reply, string? expected) => Assert.Equal(expected, Task.ExtractAnswer(reply));

    [Fact]
    public void ResolveLabel_AcceptsOptionTextOrLabel()
    {
        var q = new Question("1", "csqa", "Where?", [new("A", "bank"), new("B", "river bed")], "A");
        Assert.Equal("B", Task.ResolveLabel("River  bed", q));
        Assert.Equal("A", Task.ResolveLabel("(a)", q));
        Assert.Null(Task.ResolveLabel("ocean", q));
    }

    [Theory]
    [InlineData("(b)", "B", true)]
    [InlineData("B", "A", false)]
    [InlineData("4", "4", true)]
    [InlineData("bank", "Bank", true)]
    public void IsCorrect(string predicted, string gold, bool expected) => Assert.Equal(expected, Task.IsCorrect(predicted, gold));
}

public class NumericAnswerTests
{
    private static readonly ReasoningTask Task = ReasoningTasks.Gsm8k;

    [Theory]
    [InlineData("42", "42")]
    [InlineData("42.0", "42")]
    [InlineData("42.50", "42.5")]
    [InlineData("$1,234.50", "1234.5")]
    [InlineData("1,234,567", "1234567")]
    [InlineData("18 dollars", "18")]
    [InlineData("$18.", "18")]
    [InlineData("-5", "-5")]
    [InlineData("-$5", "-5")]
    [InlineData("−7", "-7")]
    [InlineData("25%", "25")]
    [InlineData(".5", "0.5")]
    [InlineData("3/4", "0.75")]
    [InlineData("\\frac{1}{4}", "0.25")]
    [InlineData("5 + 3 = 8", "8")]
    [InlineData("€20 per hour", "20")]
    [InlineData("twelve apples", "12")]
    [InlineData("**70000**", "70000")]
    [InlineData("no number", null)]
    public void Normalize_NumberForms(string input, string? expected) => Assert.Equal(expected, Task.Normalize(input));

    [Theory]
    [InlineData("Natalia sold 48/2 = 24 clips in May. 48+24 = 72. So the answer is 72.", "72")]
    [InlineData("Janet makes 9 * $2 = $18 every day.\n#### 18", "18")]
    [InlineData("{\"reasoning\": \"...\", \"answer\": 1080, \"confidence_level\": 0.95}", "1080")]
    [InlineData("{\"reasoning\": \"...\", \"answer\": \"$1,080\"}", "1080")]
    [InlineData("The final answer is $\\boxed{3}$.", "3")]
    [InlineData("Total cost: 3 * 4 = 12 dollars, then 12 + 8 = 20.", "20")]
    [InlineData("The answer is 5 apples and she is happy.", "5")]
    [InlineData("**Answer:** 1,000", "1000")]
    [InlineData("There is no answer", null)]
    public void ExtractAnswer_RealWorldReplies(string reply, string? expected) => Assert.Equal(expected, Task.ExtractAnswer(reply));

    [Theory]
    [InlineData("42.0", "42", true)]
    [InlineData("$42", "42", true)]
    [InlineData("0.3333333", "1/3", true)]
    [InlineData("41", "42", false)]
    [InlineData("42 apples", "42", true)]
    [InlineData(null, "42", false)]
    [InlineData("forty-two", "42", false)]
    public void IsCorrect(string? predicted, string gold, bool expected) => Assert.Equal(expected, Task.IsCorrect(predicted, gold));
}

public class MathAnswerTests
{
    private static readonly ReasoningTask Task = ReasoningTasks.Math;

    [Theory]
    [InlineData("\\frac{1}{2}", "\\frac{1}{2}")]
    [InlineData("\\dfrac{1}{2}", "\\frac{1}{2}")]
    [InlineData("\\tfrac12", "\\frac{1}{2}")]
    [InlineData("\\frac12", "\\frac{1}{2}")]
    [InlineData("\\frac1{2}", "\\frac{1}{2}")]
    [InlineData("0.5", "\\frac{1}{2}")]
    [InlineData("1/2", "\\frac{1}{2}")]
    [InlineData("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})")]
    [InlineData("x = 5", "5")]
    [InlineData("10\\text{ cm}", "10")]
    [InlineData("10 \\mbox{ inches}", "10")]
    [InlineData("90^\\circ", "90")]
    [InlineData("50\\%", "50")]
    [InlineData("\\$18.90", "18.9")]
    [InlineData("\\sqrt3", "\\sqrt{3}")]
    [InlineData("2\\sqrt{2}", "2\\sqrt{2}")]
    [InlineData("\\text{(C)}", "(C)")]
    [InlineData("1,000", "1000")]
    [InlineData("\\boxed{7}", "7")]
    [InlineData("", null)]
    public void Normalize_LatexForms(string input, string? expected) => Assert.Equal(expected, Task.Normalize(input));

    [Theory]
    [InlineData("Thus the probability is $\\boxed{\\dfrac{3}{8}}$.", "\\dfrac{3}{8}")]
    [InlineData("We get \\boxed{\\left(1, \\frac{\\sqrt{3}}{2}\\right)} at last", "\\left(1, \\frac{\\sqrt{3}}{2}\\right)")]
    [InlineData("\\fbox{12}", "12")]
    [InlineData("so $x = \\boxed 5$", "5")]
    [InlineData("{\"reasoning\": \"...\", \"answer\": \"\\\\frac{1}{3}\"}", "\\frac{1}{3}")]
    [InlineData("So the answer is $\\frac{2}{3}$.", "\\frac{2}{3}")]
    [InlineData("Since $a=2$ and $b=3$, we have $a+b=5$", "a+b=5")]
    [InlineData("\\boxed{", null)]
    public void ExtractAnswer_BoxedAndPhrases(string reply, string? expected) => Assert.Equal(expected, Task.ExtractAnswer(reply));

    [Theory]
    [InlineData("0.5", "\\frac12", true)]
    [InlineData("\\dfrac{3}{4}", "0.75", true)]
    [InlineData("\\frac{6}{8}", "\\frac34", true)]
    [InlineData("\\left(1,2\\right)", "(1, 2)", true)]
    [InlineData("10 \\text{ cm}", "10", true)]
    [InlineData("2.50", "\\frac{5}{2}", true)]
    [InlineData("-\\frac{1}{2}", "-0.5", true)]
    [InlineData("\\sqrt{2}", "\\sqrt{3}", false)]
    [InlineData("\\frac{1}{3}", "0.33", false)]
    [InlineData("The final answer is $\\boxed{\\frac{1}{2}}$", "\\frac{1}{2}", true)]
    public void IsCorrect(string predicted, string gold, bool expected) => Assert.Equal(expected, Task.IsCorrect(predicted, gold));
}

public class FreeTextAnswerTests
{
    [Fact]
    public void FreeText_ComparesCaseAndWhitespaceInsensitively()
    {
        var task = new FreeTextTask("capital");
        Assert.True(task.IsCorrect("  New   York. ", "new york"));
        Assert.False(task.IsCorrect("Boston", "new york"));
        Assert.Equal("paris", task.ExtractAnswer("The capital of France... So the answer is Paris."));
        Assert.Null(task.Normalize("  ..  "));
    }
}

using MagDi.Tasks;

namespace MagDi.Core.Tests.Tasks;

/// <summary>Replies shaped like real teacher and student outputs, scored against gold answers.</summary>
public class RealWorldAnswerTests
{
    [Theory]
    // GSM8K / SVAMP
    [InlineData("gsm8k", "Janet sells 16 - 3 - 4 = 9 duck eggs a day. She makes 9 * $2 = $18 every day at the farmer's market.\n#### 18", "18", true)]
    [InlineData("gsm8k", "Therefore, Janet makes $18 every day at the farmers' market.", "18", true)]
    [InlineData("gsm8k", "So, the answer is 1,600 square feet.", "1600", true)]
    [InlineData("gsm8k", "The answer is: 3.5 hours", "3.5", true)]
    [InlineData("gsm8k", "The answer is 10%.", "10", true)]
    [InlineData("gsm8k", "So the answer is 5 (five).", "5", true)]
    [InlineData("gsm8k", "{\"reasoning\": \"48/2 = 24, 48 + 24 = 72\", \"answer\": \"72\", \"confidence_level\": 0.9}", "72", true)]
    [InlineData("gsm8k", "```json\n{\"reasoning\": \"...\", \"answer\": 70000.0, \"confidence_level\": \"0.95\"}\n```", "70000", true)]
    [InlineData("gsm8k", "He ends with 20 - 5 = 15 marbles. So the answer is 15 marbles. Let me double-check: 20 - 5 = 15.", "15", true)]
    [InlineData("gsm8k", "The answer is -3 degrees.", "-3", true)]
    [InlineData("gsm8k", "So the answer is 16.", "18", false)]
    [InlineData("svamp", "Each pack costs 76 - 25 = 51 dollars. The answer is 51.0", "51", true)]
    // StrategyQA / BoolQ
    [InlineData("strategyqa", "Aristotle died in 322 BC, long before laptops were invented. So the answer is no.", "no", true)]
    [InlineData("strategyqa", "Thus, the answer is No", "false", true)]
    [InlineData("strategyqa", "No, Aristotle never used a laptop.", "no", true)]
    [InlineData("strategyqa", "{\"reasoning\": \"...\", \"answer\": \"Yes\", \"confidence_level\": 0.8}", "true", true)]
    [InlineData("boolq", "The passage says it was discontinued in 2017. Answer: False", "no", true)]
    [InlineData("boolq", "Yes. The passage states that it is part of the suite.", "yes", true)]
    // CommonsenseQA / ARC / AQuA
    [InlineData("commonsenseqa", "A bank is where people keep money. So the answer is (e) bank.", "E", true)]
    [InlineData("commonsenseqa", "{\"reasoning\": \"...\", \"answer\": \"A\"}", "A", true)]
    [InlineData("commonsenseqa", "The answer is E.", "A", false)]
    [InlineData("arc", "Density does not change rotation. So the answer is 2.", "2", true)]
    [InlineData("arc", "The correct answer is (C) gravity.", "C", true)]
    [InlineData("aqua", "Speed ratio 1.15, so P walks 23 km. Answer: E) 23", "E", true)]
    // MATH
    [InlineData("math", "The final answer is $\\boxed{\\frac{\\sqrt{3}}{2}}$. I hope it is correct.", "\\frac{\\sqrt{3}}{2}", true)]
    [InlineData("math", "Expanding gives $\\boxed{x^2+2x+1}$.", "x^2 + 2x + 1", true)]
    [InlineData("math", "So $\\boxed{3\\sqrt{2}}$.", "3\\sqrt2", true)]
    [InlineData("math", "The answer is $\\boxed{\\text{(A)}}$", "\\text{(A)}", true)]
    [InlineData("math", "The angle is $\\boxed{10^\\circ}$.", "10", true)]
    [InlineData("math", "She pays $\\boxed{\\$18.90}$.", "18.90", true)]
    [InlineData("math", "So the rate is $\\boxed{5\\%}$.", "5", true)]
    [InlineData("math", "The solution set is $\\boxed{(-\\infty, 2]}$.", "(-\\infty,2]", true)]
    [InlineData("math", "Therefore $\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}$", "\\left( 3, \\frac{\\pi}{2} \\right)", true)]
    [InlineData("math", "$\\boxed{\\dfrac{14}{3}}$", "\\frac{14}{3}", true)]
    [InlineData("math", "$\\boxed{4.67}$", "\\frac{14}{3}", false)]
    [InlineData("math", "The area is $\\boxed{25\\text{ square units}}$.", "25", true)]
    public void ExtractThenCompare(string task, string reply, string gold, bool correct)
    {
        var t = ReasoningTasks.Get(task);
        var extracted = t.ExtractAnswer(reply);
        Assert.NotNull(extracted);
        Assert.Equal(correct, t.IsCorrect(extracted, gold));
    }
}

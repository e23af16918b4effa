using CsCheck;
using MagDi.Tasks;

namespace MagDi.Core.Tests.Tasks;

public class AnswerPropertyTests
{
    private static readonly ReasoningTask[] Tasks = [.. ReasoningTasks.All];

    [Fact]
    public void AnswerLogic_NeverThrows_OnArbitraryText() =>
        Gen.OneOf(Gen.String, Gen.String[Gen.Char["\\{}$()0123456789.,-=/ abcdefxyABCDE"], 0, 60]).Sample(s =>
        {
            foreach (var t in Tasks)
            {
                t.ExtractAnswer(s);
                var n = t.Normalize(s);
                var correct = t.IsCorrect(s, s);
                // Anything that normalises to an answer is equal to itself.
                Assert.True(n is null || correct, $"{t.Name}: '{s}' normalises to '{n}' but is not equal to itself");
            }
        }, iter: 3000);

    [Fact]
    public void Numbers_FormattingVariantsAreEqual() =>
        Gen.Select(Gen.Int[-1_000_000, 1_000_000], Gen.Int[0, 99]).Sample((whole, cents) =>
        {
            var value = whole + (cents / 100m);
            var gold = value.ToString(System.Globalization.CultureInfo.InvariantCulture);
            var text = value.ToString("#,0.00", System.Globalization.CultureInfo.InvariantCulture);
            var currency = value < 0 ? "-$" + text.TrimStart('-') : "$" + text;
            Assert.True(ReasoningTasks.Gsm8k.IsCorrect(text, gold), text);
            Assert.True(ReasoningTasks.Gsm8k.IsCorrect(currency + " in total", gold), currency);
            Assert.True(ReasoningTasks.Gsm8k.IsCorrect(ReasoningTasks.Gsm8k.ExtractAnswer($"Thinking... So the answer is {currency}.")!, gold), currency);
        }, iter: 2000);

    [Fact]
    public void Math_FractionsEqualTheirDecimal() =>
        Gen.Select(Gen.Int[1, 99], Gen.Int[1, 16]).Sample((n, d) =>
        {
            var decimalText = (n / (double)d).ToString("R", System.Globalization.CultureInfo.InvariantCulture);
            Assert.True(ReasoningTasks.Math.IsCorrect($"\\dfrac{{{n}}}{{{d}}}", $"\\frac{{{n}}}{{{d}}}"));
            Assert.True(ReasoningTasks.Math.IsCorrect(decimalText, $"\\frac{{{n}}}{{{d}}}"), decimalText);
        }, iter: 1000);
}

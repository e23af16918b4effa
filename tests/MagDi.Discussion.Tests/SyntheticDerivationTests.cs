using MagDi.Tasks.Synthetic;

namespace MagDi.Discussion.Tests;

/// <summary>The numbers behind the simulated teachers' chains (src/Shared/Synthetic, compiled into MagDi.Graphs).</summary>
public class SyntheticDerivationTests
{
    private static readonly ProblemStructure Problem = new(
        "p", SyntheticFamily.Arithmetic, "Tom has 12 apples. He buys 25 more. Then he gives away 3. Then he doubles them. How many apples does Tom have now?",
        "Tom", "apples", 12, [new ArithmeticStep('+', 25), new ArithmeticStep('-', 3), new ArithmeticStep('*', 2)], null)
    {
        StepVerbs = ["buys", "gives away", "doubles"],
    };

    [Fact]
    public void Correct_WalksThroughEveryStep()
    {
        var d = SyntheticDerivation.Correct(Problem);
        Assert.Equal([37, 34, 68], d.Steps.Select(s => s.After));
        Assert.Equal("68", d.Answer);
        Assert.True(d.IsCorrect);
        Assert.Null(d.Mistake);
    }

    [Theory]
    [InlineData(ReasoningMistake.OffByOne)]
    [InlineData(ReasoningMistake.OffByTen)]
    [InlineData(ReasoningMistake.WrongOperation)]
    [InlineData(ReasoningMistake.SkippedStep)]
    [InlineData(ReasoningMistake.MisreadQuantity)]
    public void WithMistake_MakesThatMistake_AndLaterStepsBuildOnIt(ReasoningMistake kind)
    {
        int made = 0;
        for (int seed = 0; seed < 30; seed++)
        {
            var d = SyntheticDerivation.WithMistake(Problem, kind, new Random(seed));
            // Where the kind does not fit the drawn step (a misread "doubles", 12 - 25 below zero), a slip is made instead.
            Assert.True(d.Mistake == kind || d.Mistake == ReasoningMistake.OffByOne, $"{d.Mistake}");
            made += d.Mistake == kind ? 1 : 0;
            ReasoningMistake actual = d.Mistake!.Value;
            Assert.False(d.IsCorrect);
            int k = d.MistakeIndex!.Value;
            DerivationStep? step = k >= 0 ? d.Steps[k] : null;
            switch (actual)
            {
                case ReasoningMistake.OffByOne: Assert.Equal(1, Math.Abs(step!.Slip)); break;
                case ReasoningMistake.OffByTen: Assert.Equal(10, Math.Abs(step!.Slip)); break;
                case ReasoningMistake.WrongOperation: Assert.NotEqual(step!.Stated.Operator, step.Used.Operator); break;
                case ReasoningMistake.SkippedStep: Assert.True(step!.Skipped); break;
                case ReasoningMistake.MisreadQuantity:
                    Assert.True(k < 0 ? d.Start != Problem.Start : step!.Used.Operand != step.Stated.Operand);
                    break;
            }

            // Every other step applies its operation to the running value exactly.
            for (int i = 0; i < d.Steps.Count; i++)
            {
                DerivationStep s = d.Steps[i];
                Assert.Equal(i == 0 ? d.Start : d.Steps[i - 1].After, s.Before);
                if (i != k)
                {
                    Assert.Equal(0, s.Slip);
                    Assert.Equal(s.Stated, s.Used);
                }
            }
        }

        Assert.True(made >= 10, $"{made} of 30");
    }

    [Theory]
    [InlineData("68")]
    [InlineData("69")]
    [InlineData("74")]
    [InlineData("20")]
    [InlineData("1000")]
    public void Reaching_LeadsToTheAnswer_WithOneMistakeAtMost(string answer)
    {
        var d = SyntheticDerivation.Reaching(Problem, answer, new Random(1))!;
        Assert.Equal(answer, d.Answer);
        Assert.True(answer == "68" ? d.Mistake is null : d.Mistake is not null);
    }

    [Fact]
    public void Reaching_AnAnswerNoDerivationCanGive_IsNull()
    {
        Assert.Null(SyntheticDerivation.Reaching(Problem, "12.5", new Random(1)));
        Assert.Null(SyntheticDerivation.Reaching(Problem, "many", new Random(1)));
    }

    [Fact]
    public void FirstDifference_NamesTheStepWhereTwoDerivationsPart()
    {
        var correct = SyntheticDerivation.Correct(Problem);
        var skipped = SyntheticDerivation.SingleMistakes(Problem).First(d => d.Mistake == ReasoningMistake.SkippedStep && d.MistakeIndex == 1);
        Assert.Equal(1, correct.FirstDifference(skipped));
        Assert.Null(correct.FirstDifference(SyntheticDerivation.Correct(Problem)));
        var misreadStart = SyntheticDerivation.SingleMistakes(Problem).First(d => d.Mistake == ReasoningMistake.MisreadQuantity && d.MistakeIndex == -1);
        Assert.Equal(-1, misreadStart.FirstDifference(correct));
    }
}

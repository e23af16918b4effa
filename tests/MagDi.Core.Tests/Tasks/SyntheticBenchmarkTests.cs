using MagDi.Tasks.Synthetic;

namespace MagDi.Core.Tests.Tasks;

public sealed class SyntheticBenchmarkTests
{
    [Theory]
    [InlineData(SyntheticFamily.Arithmetic)]
    [InlineData(SyntheticFamily.Comparison)]
    public void Generate_IsDeterministicForASeed_AndProblemsAreDistinct(SyntheticFamily family)
    {
        var a = SyntheticBenchmark.Generate(family, 300, new SyntheticBenchmarkOptions { Seed = 7 });
        var b = SyntheticBenchmark.Generate(family, 300, new SyntheticBenchmarkOptions { Seed = 7 });
        var c = SyntheticBenchmark.Generate(family, 300, new SyntheticBenchmarkOptions { Seed = 8 });

        Assert.Equal(a.Select(p => p.Text), b.Select(p => p.Text));
        Assert.NotEqual(a.Select(p => p.Text), c.Select(p => p.Text));
        Assert.Equal(300, a.Select(p => p.Text).Distinct().Count());
        Assert.Equal(300, a.Select(p => p.Id).Distinct().Count());
    }

    [Theory]
    [InlineData(SyntheticFamily.Arithmetic)]
    [InlineData(SyntheticFamily.Comparison)]
    public void Parse_RecoversTheStructureOfEveryGeneratedProblem(SyntheticFamily family)
    {
        foreach (var p in SyntheticBenchmark.Generate(family, 200))
        {
            var parsed = SyntheticBenchmark.Parse(p.Text, p.Id);
            Assert.NotNull(parsed);
            Assert.Equal(p.Family, parsed.Family);
            Assert.Equal(p.Start, parsed.Start);
            Assert.Equal(p.Steps, parsed.Steps);
            Assert.Equal(p.Threshold, parsed.Threshold);
            Assert.Equal(p.GoldAnswer, parsed.GoldAnswer);
        }
    }

    [Fact]
    public void Generate_RespectsTheValueBounds()
    {
        var options = new SyntheticBenchmarkOptions { MaxOperand = 10, MaxValue = 40, MinSteps = 2, MaxSteps = 3 };
        foreach (var p in SyntheticBenchmark.Generate(SyntheticFamily.Arithmetic, 200, options))
        {
            Assert.InRange(p.Steps.Count, 2, 3);
            int v = p.Start;
            foreach (var s in p.Steps)
            {
                v = s.Apply(v);
                Assert.InRange(v, 0, 40);
            }
        }
    }

    [Fact]
    public void GoldReasoning_WalksThroughEveryStep()
    {
        var p = new SyntheticProblem("x", SyntheticFamily.Arithmetic, "Tom has 7 pens. He buys 5 more. Then he gives away 3. How many pens does Tom have now?",
            "Tom", "pens", 7, [new ArithmeticStep('+', 5), new ArithmeticStep('-', 3)], null);
        Assert.Equal("Tom starts with 7 pens. 7 + 5 = 12. 12 - 3 = 9.", p.GoldReasoning);
        Assert.Equal("9", p.GoldAnswer);
        Assert.Equal(p.Steps, SyntheticBenchmark.Parse(p.Text)!.Steps);
    }

    [Fact]
    public void Explain_WithASlip_CarriesTheWrongValueForward()
    {
        var p = new SyntheticProblem("x", SyntheticFamily.Comparison, "", "Ana", "cards", 4,
            [new ArithmeticStep('*', 2), new ArithmeticStep('+', 3)], 11);
        string wrong = SyntheticBenchmark.Explain(p, [(p.Steps[0], 9), (p.Steps[1], null)]);
        Assert.Equal("Ana starts with 4 cards. 4 * 2 = 9. 9 + 3 = 12. 12 is more than 11.", wrong);
        Assert.Equal("yes", SyntheticBenchmark.AnswerFor(p, 12));
        Assert.Equal("no", p.GoldAnswer);
    }

    [Fact]
    public void GenerateSplits_AreDisjoint()
    {
        var (train, test) = SyntheticBenchmark.GenerateSplits(SyntheticFamily.Arithmetic, 400, 100);
        Assert.Equal(400, train.Count);
        Assert.Equal(100, test.Count);
        Assert.Empty(train.Select(p => p.Text).Intersect(test.Select(p => p.Text)));
    }

    [Fact]
    public void Parse_ReturnsNullForForeignText()
    {
        Assert.Null(SyntheticBenchmark.Parse("What is the capital of France?"));
    }

    [Fact]
    public void Options_AreValidated()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            SyntheticBenchmark.Generate(SyntheticFamily.Arithmetic, 1, new SyntheticBenchmarkOptions { MinSteps = 3, MaxSteps = 1 }));
        Assert.Contains("MaxSteps", error.Message);
    }
}

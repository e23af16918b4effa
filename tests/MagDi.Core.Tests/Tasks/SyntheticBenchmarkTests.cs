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
            var parsed = ProblemStructure.Parse(p.Text, p.Id);
            Assert.NotNull(parsed);
            Assert.Equal(p.Family, parsed.Family);
            Assert.Equal(p.Structure.Start, parsed.Start);
            Assert.Equal(p.Structure.Steps, parsed.Steps);
            Assert.Equal(p.Structure.Threshold, parsed.Threshold);
            Assert.Equal(p.Structure.Subject, parsed.Subject);
            Assert.Equal(p.Structure.Items, parsed.Items);
            Assert.Equal(p.Structure.StepVerbs, parsed.StepVerbs);
            Assert.Equal(p.GoldAnswer, parsed.GoldAnswer);
        }
    }

    [Fact]
    public void Generate_RespectsTheValueBounds()
    {
        var options = new SyntheticBenchmarkOptions { MaxOperand = 10, MaxValue = 40, MinSteps = 2, MaxSteps = 3 };
        foreach (var p in SyntheticBenchmark.Generate(SyntheticFamily.Arithmetic, 200, options))
        {
            Assert.InRange(p.Structure.Steps.Count, 2, 3);
            int v = p.Structure.Start;
            foreach (var s in p.Structure.Steps)
            {
                v = s.Apply(v);
                Assert.InRange(v, 0, 40);
            }
        }
    }

    [Fact]
    public void Parse_RecoversTheStepsAndTheGoldAnswer()
    {
        var p = ProblemStructure.Parse("Tom has 7 pens. He buys 5 more. Then he gives away 3. How many pens does Tom have now?", "x")!;
        Assert.Equal([new ArithmeticStep('+', 5), new ArithmeticStep('-', 3)], p.Steps);
        Assert.Equal(["buys", "gives away"], p.StepVerbs);
        Assert.Equal("9", p.GoldAnswer);
    }

    [Fact]
    public void AnswerFor_AComparison_ComparesWithTheThreshold()
    {
        var p = new ProblemStructure("x", SyntheticFamily.Comparison, "", "Ana", "cards", 4,
            [new ArithmeticStep('*', 2), new ArithmeticStep('+', 3)], 11);
        Assert.Equal("yes", p.AnswerFor(12));
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
        Assert.Null(ProblemStructure.Parse("What is the capital of France?"));
    }

    [Fact]
    public void Options_AreValidated()
    {
        var error = Assert.Throws<ArgumentException>(() =>
            SyntheticBenchmark.Generate(SyntheticFamily.Arithmetic, 1, new SyntheticBenchmarkOptions { MinSteps = 3, MaxSteps = 1 }));
        Assert.Contains("MaxSteps", error.Message);
    }
}

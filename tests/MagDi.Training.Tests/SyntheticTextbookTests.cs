using MagDi.Tasks.Synthetic;

namespace MagDi.Training.Tests;

/// <summary>The synthetic base model's pretraining corpus.</summary>
public class SyntheticTextbookTests
{
    [Fact]
    public void Textbook_HasTheMistakeRateAsked_AndSolutionsStateTheirOwnAnswer()
    {
        var problems = SyntheticBenchmark.Generate(SyntheticFamily.Arithmetic, 2000, new SyntheticBenchmarkOptions { Seed = 3 });
        var examples = SyntheticTextbook.Write(problems, new SyntheticTextbookOptions { MistakeRate = 0.2, Seed = 5 }).ToList();

        double withMistake = examples.Count(e => e.Derivation.Mistake is not null) / (double)examples.Count;
        Assert.InRange(withMistake, 0.17, 0.23);
        Assert.All(examples, e => Assert.Equal(e.Derivation.Answer, e.Answer));
        // Written by several authors: no one sentence opens most solutions.
        var openings = examples.GroupBy(e => e.Reasoning.Split(' ')[0]).Max(g => g.Count());
        Assert.True(openings < examples.Count / 2, $"{openings} of {examples.Count} solutions open the same way");
        // The same seed writes the same text.
        Assert.Equal(examples.Select(e => e.Reasoning), SyntheticTextbook.Write(problems, new SyntheticTextbookOptions { MistakeRate = 0.2, Seed = 5 }).Select(e => e.Reasoning));
    }
}

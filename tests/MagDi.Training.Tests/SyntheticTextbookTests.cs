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

    [Fact]
    public void Textbook_WritesInEveryTeacherForm_AndItsOwn()
    {
        var problems = SyntheticBenchmark.Generate(SyntheticFamily.Arithmetic, 700, new SyntheticBenchmarkOptions { Seed = 4, MinSteps = 2 });
        string text = string.Join("\n", SyntheticTextbook.Write(problems, new SyntheticTextbookOptions { Seed = 1 }).Select(e => e.Reasoning));

        // The four teacher forms, written by the teachers' own writer ...
        Assert.Matches(@"After \w+[^:]*: \d+ [-+*] \d+ = \d+\.", text);                          // labelled equations (gpt4)
        Assert.Matches(@"(First|Then|Next|After that|Second|Finally), \w+ [a-z ]+[^.]* \d+ [-+*] \d+ = \d+", text); // prose with equations (claude)
        Assert.Matches(@"- \w+ [a-z ]+ (\d+|them): \d+ [-+*] \d+ = \d+ \w+", text);                 // bullets (claude)
        Assert.Matches(@"(Gains|Added|Losses|Removed): \d+ \+ \d+ = \d+", text);                      // gains and losses first
        Assert.Matches(@"Therefore, \w+ (has|ends up with) \d+", text);                               // explained steps (bard)
        Assert.Matches(@"\d\. After \w+[^,]*, \w+ has \d+ \w+ because \d+ [-+*] \d+ = \d+\.", text);   // numbered reasons (bard)
        // ... and the textbook's own.
        Assert.Matches(@"\d+ plus \d+, which is \d+", text);
        Assert.Matches(@"(Plus|Minus|Times) \d+: \d+\.", text);
    }
}

using MagDi.Tasks.Synthetic;

namespace MagDi.Quickstart.Tests;

public sealed class ReproducibilityTests
{
    /// <summary>
    /// The quickstart's table must be reproducible from its seed in any process. The benchmark used to seed its
    /// generator with HashCode.Combine, which .NET randomises per process, so every run drew different problems.
    /// A pinned problem catches that (an in-process comparison of two runs cannot).
    /// </summary>
    [Fact]
    public void SyntheticBenchmark_SameSeed_GivesTheSameProblemsInEveryProcess()
    {
        var options = new SyntheticBenchmarkOptions { Seed = 7, MinSteps = 1, MaxSteps = 2, MaxOperand = 9, MaxValue = 30, AllowMultiplication = false };
        var train = SyntheticBenchmark.Generate(SyntheticFamily.Arithmetic, 4, options);
        Assert.Equal("Leo has 5 books. He gives away 3. Then he sells 1. How many books does Leo have now?", train[0].Text);
        Assert.Equal("1", train[0].GoldAnswer);
    }
}

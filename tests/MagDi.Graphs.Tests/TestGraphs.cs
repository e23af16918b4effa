using MagDi.Graphs;
using MagDi.Tasks;

namespace MagDi.Graphs.Tests;

/// <summary>Small graphs shared by the tests.</summary>
internal static class TestGraphs
{
    public static readonly string[] Agents = ["claude", "gpt4", "bard"];

    /// <summary>A GSM8K graph of type G_k with three agents; agent i answers "42" in round r when (i + r) is even.</summary>
    public static InteractionGraph Gsm8k(int interactionRounds, string id = "q1", InteractionPattern? pattern = null)
    {
        var b = InteractionGraph.CreateBuilder()
            .ForQuestion(new Question(id, "gsm8k", "What is 6 * 7?", "42"))
            .WithPattern(pattern ?? InteractionPattern.ReConcile);
        for (var r = 0; r <= interactionRounds; r++)
        {
            for (var a = 0; a < Agents.Length; a++)
            {
                var answer = (a + r) % 2 == 0 ? "42" : "48";
                b.AddNode(Agents[a], r, $"{Agents[a]} thinks in round {r} that 6 * 7 = {answer}.", answer, 0.5 + (0.1 * a));
            }
        }

        return b.Build();
    }
}

using System.Globalization;
using MagDi.Graphs;

namespace MagDi.Testing;

/// <summary>Small MAG corpora and files for tests and benchmarks.</summary>
public static class SampleMags
{
    /// <summary>
    /// Shaped like the authors' <c>MAG/SQA_1000.json</c>: a G1 graph (with "I agree"/"I disagree" sentences and a
    /// confidence given as a string), then a G0 graph (consensus in round 0, answers as booleans and in other cases).
    /// </summary>
    public const string ReleasedStrategyQa = """
    [
      {
        "question": "Could a llama birth twice during the War in Vietnam (1945-46)?",
        "gold_answer": false,
        "claude_output_0": {"reasoning": "The war lasted months. A llama gestation is 11 months.", "answer": "no", "confidence_level": 0.9},
        "gpt4_output_0": {"reasoning": "Llama gestation is about a year.", "answer": "yes", "confidence_level": "0.6"},
        "bard_output_0": {"reasoning": "Two births need two years.", "answer": "No", "confidence_level": 0.95},
        "claude_output_1": {"reasoning": "I agree with bard. Gestation is 11 months, so no.", "answer": "no", "confidence_level": 0.95},
        "gpt4_output_1": {"reasoning": "I disagree with my earlier answer. Two births take too long.", "answer": "no", "confidence_level": 0.8},
        "bard_output_1": {"reasoning": "Still no.", "answer": "no", "confidence_level": 1}
      },
      {
        "question": "Is water wet?",
        "gold_answer": "yes",
        "claude_output_0": {"reasoning": "Yes.", "answer": "yes"},
        "gpt4_output_0": {"reasoning": "Yes.", "answer": true},
        "bard_output_0": {"reasoning": "Yes.", "answer": "Yes"}
      }
    ]
    """;

    /// <summary>
    /// GSM8K-style addition MAGs <c>q0</c>, <c>q1</c>, ... among agents alpha, beta and gamma over 1 to 3 rounds
    /// (G0 to G2): in every round but the last, one agent answers one too many (an incorrect node).
    /// </summary>
    /// <param name="count">How many MAGs.</param>
    public static List<InteractionGraph> Arithmetic(int count)
    {
        var graphs = new List<InteractionGraph>();
        string[] agents = ["alpha", "beta", "gamma"];
        for (int q = 0; q < count; q++)
        {
            int a = 2 + q, b = 3 + (q % 4);
            int gold = a + b;
            var builder = InteractionGraph.CreateBuilder()
                .WithId($"q{q}")
                .WithTask("gsm8k")
                .WithQuestion($"Tom has {a} pens. He buys {b} more. How many pens?")
                .WithGoldAnswer(gold.ToString(CultureInfo.InvariantCulture));
            foreach (string agent in agents)
            {
                builder.AddAgent(agent);
            }

            int rounds = 1 + (q % 3);
            for (int r = 0; r < rounds; r++)
            {
                for (int i = 0; i < agents.Length; i++)
                {
                    bool wrong = r < rounds - 1 && i == (q % 3);
                    int answer = wrong ? gold + 1 : gold;
                    builder.AddNode(agents[i], r, $"{a} + {b} = {answer}.", answer.ToString(CultureInfo.InvariantCulture), 0.9);
                }
            }

            graphs.Add(builder.Build());
        }

        return graphs;
    }
}

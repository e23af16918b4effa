namespace MagDi.Cli.Tests;

/// <summary>Small released-format MAG files (a copy of the Graphs tests' sample).</summary>
internal static class SampleFiles
{
    // Shaped like the authors' MAG/SQA_1000.json: a G1 graph, then a G0 graph (consensus in round 0).
    internal const string SqaSample = """
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
}

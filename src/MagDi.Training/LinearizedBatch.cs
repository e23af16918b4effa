using MagDi.Graphs.Heads;
using MagDi.Modeling;
using static TorchSharp.torch;

namespace MagDi.Training;

/// <summary>
/// The token-attention graph head's input: every MAG of a micro-batch written as one token sequence and run through the
/// student. The sequence is the question's prompt once, then each selected node's answer text (reasoning, "So the answer
/// is X", EOS) in round order; the EOS that ends each answer separates the nodes. No agent or round markers are added:
/// as in the paper, the token sequence has no node boundaries, and only the pooling of each node's span knows them.
/// </summary>
internal static class LinearizedBatch
{
    /// <summary>Token count of <paramref name="graph"/>'s linearisation.</summary>
    public static int Length(PreparedGraph graph) =>
        graph.Nodes[0].PromptLength + graph.Nodes.Sum(n => n.Ids.Length - n.PromptLength);

    /// <summary>
    /// Fails before training when a MAG's linearisation is longer than the student can take, naming the setting, the
    /// MAGs, their lengths and by how much they exceed the limit.
    /// </summary>
    public static void EnsureFits(IReadOnlyList<PreparedGraph> graphs, int limit, string limitName)
    {
        var tooLong = graphs.Select(g => (Graph: g, Length: Length(g))).Where(x => x.Length > limit).OrderByDescending(x => x.Length).ToList();
        if (tooLong.Count == 0)
        {
            return;
        }

        string examples = string.Join("; ", tooLong.Take(5).Select(x =>
            $"MAG '{x.Graph.Graph.Id}' ({x.Graph.Nodes.Count} nodes) linearises to {x.Length} tokens, {x.Length - limit} more than {limit}"));
        throw new TrainingDataException(
            $"GraphHead TokenAttention writes each MAG as one token sequence, which must fit {limitName} ({limit} tokens): " +
            $"{tooLong.Count} of {graphs.Count} training MAG(s) do not. {examples}" + (tooLong.Count > 5 ? $"; and {tooLong.Count - 5} more." : ".") +
            " Use a student with a longer context, MAGs with fewer rounds, or GraphHead NodeAttention or Gcn, which encode each node on its own.")
        {
            GraphIds = [.. tooLong.Take(10).Select(x => x.Graph.Graph.Id)],
        };
    }

    /// <summary>Runs the student over the linearised MAGs; hidden states in float32 for the head.</summary>
    public static LinearizedGraphStates Forward(CausalLanguageModel model, IReadOnlyList<PreparedGraph> graphs, int padId)
    {
        int length = graphs.Max(Length);
        var ids = new long[graphs.Count * length];
        var mask = new long[graphs.Count * length];
        Array.Fill(ids, padId);
        var spans = new List<TokenSpan>();
        for (int g = 0; g < graphs.Count; g++)
        {
            PreparedGraph graph = graphs[g];
            int row = g * length;
            int position = 0;
            void Put(int id)
            {
                ids[row + position] = id;
                mask[row + position] = 1;
                position++;
            }

            PreparedNode first = graph.Nodes[0];
            for (int j = 0; j < first.PromptLength; j++)
            {
                Put(first.Ids[j]);
            }

            foreach (PreparedNode node in graph.Nodes)
            {
                spans.Add(new TokenSpan(g, position, node.Ids.Length - node.PromptLength));
                for (int j = node.PromptLength; j < node.Ids.Length; j++)
                {
                    Put(node.Ids[j]);
                }
            }
        }

        Device device = model.Device;
        Tensor inputIds = tensor(ids, [graphs.Count, length], ScalarType.Int64, device);
        Tensor attentionMask = tensor(mask, [graphs.Count, length], ScalarType.Int64, device);
        CausalLMOutput output = model.forward(new CausalLMInput(inputIds, attentionMask, OutputHiddenStates: true, LogitsToKeep: 0));
        return new LinearizedGraphStates(output.LastHiddenState!.to(ScalarType.Float32), attentionMask, spans);
    }
}

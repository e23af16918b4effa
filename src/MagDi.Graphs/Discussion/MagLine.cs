using System.Text;
using System.Text.Json;

namespace MagDi.Graphs.Discussion;

/// <summary>Serialises a MAG as one JSON line of the corpus.</summary>
internal static class MagLine
{
    public static string Serialize(InteractionGraph graph)
    {
        var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("id", graph.Id);
            w.WriteString("task", graph.Task);
            w.WriteString("question", graph.Question);
            w.WriteStartArray("choices");
            foreach (var c in graph.Choices)
            {
                w.WriteStartObject();
                w.WriteString("label", c.Label);
                w.WriteString("text", c.Text);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteString("gold_answer", graph.GoldAnswer);
            w.WriteString("pattern", graph.Pattern.Name);
            w.WriteStartArray("agents");
            foreach (string a in graph.Agents)
            {
                w.WriteStringValue(a);
            }

            w.WriteEndArray();
            w.WriteStartArray("nodes");
            foreach (var n in graph.Nodes)
            {
                w.WriteStartObject();
                w.WriteString("agent", n.Agent);
                w.WriteNumber("round", n.Round);
                w.WriteString("reasoning", n.Reasoning);
                if (n.Answer is null) w.WriteNull("answer"); else w.WriteString("answer", n.Answer);
                if (n.Confidence is { } conf) w.WriteNumber("confidence_level", conf); else w.WriteNull("confidence_level");
                w.WriteBoolean("is_correct", n.IsCorrect);
                w.WriteBoolean("is_valid", n.IsValid);
                if (n.RawText is not null) w.WriteString("raw_text", n.RawText);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }
}

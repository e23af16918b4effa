using System.Text.Json;
using Json.Schema;
using MagDi.Graphs.IO;
using MagDi.Tasks;

namespace MagDi.Graphs.Tests;

/// <summary>docs/mag.schema.json describes what the JSON Lines writer writes and rejects what the reader rejects structurally.</summary>
public class SchemaTests
{
    private static readonly Lazy<JsonSchema> Schema = new(() => JsonSchema.FromText(File.ReadAllText(FindSchema())));

    private static string FindSchema()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "docs", "mag.schema.json");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new FileNotFoundException("docs/mag.schema.json not found above " + AppContext.BaseDirectory);
    }

    private static bool Valid(string json)
    {
        using var doc = JsonDocument.Parse(json);
        return Schema.Value.Evaluate(doc.RootElement).IsValid;
    }

    [Fact]
    public void WrittenGraphs_ConformToTheSchema()
    {
        var custom = InteractionPattern.Custom("star", s => Enumerable.Range(1, s.NodeCount - 1).Select(i => (0, i)));
        var graphs = InteractionPattern.BuiltIns.Select(p => TestGraphs.Gsm8k(2, pattern: p)).Append(
            InteractionGraph.CreateBuilder().ForQuestion(new Question("c", "csqa", "Where?", [new("A", "bank"), new("B", "river")], "A"))
                .AddNode("a", 0, "r", "A", 0.5).AddInvalidNode("b", 0, "{oops").WithPattern(custom).Build());
        Assert.All(graphs, g => Assert.True(Valid(MagJsonl.Serialize(g)), MagJsonl.Serialize(g)));
    }

    [Theory]
    [InlineData("""{"task":"gsm8k","question":"q","gold_answer":"1","nodes":[{"agent":"a","round":0,"reasoning":"r"}]}""")]
    [InlineData("""{"id":"x","task":"gsm8k","question":"q","gold_answer":"1","nodes":[]}""")]
    [InlineData("""{"id":"x","task":"gsm8k","question":"q","gold_answer":"1","nodes":[{"agent":"a","round":-1,"reasoning":"r"}]}""")]
    [InlineData("""{"id":"x","task":"gsm8k","question":"q","gold_answer":"1","nodes":[{"agent":"a","round":0,"reasoning":"r","confidence":1.5}]}""")]
    [InlineData("""{"id":"x","task":"gsm8k","question":"q","gold_answer":"1","nodes":[{"agent":"a","round":"0","reasoning":"r"}]}""")]
    [InlineData("""{"id":"x","task":"gsm8k","question":"q","gold_answer":"1","nodes":[{"agent":"a","round":0,"reasoning":"r","correct":"yes"}]}""")]
    public void StructurallyBadRecords_FailTheSchemaAndTheReader(string json)
    {
        Assert.False(Valid(json));
        Assert.Throws<MagDataException>(() => MagJsonl.Parse(json));
    }
}

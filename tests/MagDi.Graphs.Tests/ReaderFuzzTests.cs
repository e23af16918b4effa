using System.Text;
using CsCheck;
using MagDi.Graphs.IO;
using MagDi.Tasks;

namespace MagDi.Graphs.Tests;

/// <summary>Property tests: no input makes a reader throw anything but <see cref="MagDataException"/>.</summary>
public class ReaderFuzzTests
{
    private static readonly byte[] JsonlSeed = Encoding.UTF8.GetBytes(
        MagJsonl.Serialize(TestGraphs.Gsm8k(1, "a")) + "\n" + MagJsonl.Serialize(TestGraphs.Gsm8k(0, "b")) + "\n");

    private static readonly byte[] ReleaseSeed = Encoding.UTF8.GetBytes(SampleMags.ReleasedStrategyQa);

    private static readonly Gen<byte> JsonishByte = Gen.OneOf(
        Gen.OneOf("{}[]\":,\\-.0123456789eEtrufalsn \n\r\t".Select(c => (byte)c).ToArray()),
        Gen.OneOf((byte)0xFF, (byte)0xC3, (byte)0x80, (byte)0xEF, (byte)0xBB, (byte)0xBF, (byte)0),
        Gen.Byte);

    /// <summary>A seed document with 1..8 bytes replaced, inserted or removed.</summary>
    private static Gen<byte[]> Mutations(byte[] seed) =>
        Gen.Select(Gen.Int[0, seed.Length - 1].Array[1, 8], JsonishByte.Array[8], Gen.Int[0, 2], (positions, bytes, op) =>
        {
            var list = seed.ToList();
            for (var i = 0; i < positions.Length; i++)
            {
                var p = Math.Min(positions[i], list.Count - 1);
                switch (op)
                {
                    case 0: list[p] = bytes[i]; break;
                    case 1: list.Insert(p, bytes[i]); break;
                    default: list.RemoveAt(p); break;
                }
            }

            return list.ToArray();
        });

    private static async Task<int> ReadJsonl(byte[] bytes, ReadErrorMode mode)
    {
        var report = new ReadReport();
        var n = 0;
        await foreach (var _ in MagJsonl.ReadAsync(new MemoryStream(bytes), new MagReadOptions { ErrorMode = mode, MaxTextLength = 500, MaxRecordBytes = 10_000 }, report, "fuzz.jsonl"))
        {
            n++;
        }

        Assert.Equal(n, report.RecordsRead);
        return n;
    }

    private static async Task OnlyDocumentedExceptions(Func<Task> read)
    {
        try
        {
            await read();
        }
        catch (MagDataException ex)
        {
            Assert.False(string.IsNullOrWhiteSpace(ex.Reason));
        }
    }

    [Fact]
    public void Jsonl_MutatedInput_OnlyThrowsMagDataException() =>
        Mutations(JsonlSeed).Sample(bytes =>
        {
            OnlyDocumentedExceptions(() => ReadJsonl(bytes, ReadErrorMode.FailFast)).GetAwaiter().GetResult();
            // Skip mode never throws for line-level problems and accounts for every non-blank line.
            var lines = Encoding.UTF8.GetString(bytes).Split('\n').Count(l => l.Trim(' ', '\t', '\r', '\uFEFF').Length > 0);
            var report = new ReadReport();
            var n = 0;
            var e = MagJsonl.ReadAsync(new MemoryStream(bytes), new MagReadOptions { ErrorMode = ReadErrorMode.SkipInvalid, MaxTextLength = 500, MaxRecordBytes = 10_000 }, report).GetAsyncEnumerator();
            while (e.MoveNextAsync().AsTask().GetAwaiter().GetResult())
            {
                n++;
            }

            Assert.True(n + report.Skipped.Count >= lines - 1 && n + report.Skipped.Count <= lines + 1, $"read {n} + skipped {report.Skipped.Count} vs {lines} lines");
        }, iter: 1500);

    [Fact]
    public void Jsonl_RandomBytes_OnlyThrowsMagDataException() =>
        JsonishByte.Array[0, 400].Sample(bytes =>
            OnlyDocumentedExceptions(() => ReadJsonl(bytes, ReadErrorMode.FailFast)).GetAwaiter().GetResult(), iter: 1500);

    [Fact]
    public void Release_MutatedInput_OnlyThrowsMagDataException() =>
        Mutations(ReleaseSeed).Sample(bytes =>
        {
            foreach (var mode in new[] { ReadErrorMode.FailFast, ReadErrorMode.SkipInvalid })
            {
                try
                {
                    var result = MagReleaseFormat.Read(bytes, new MagReadOptions { ErrorMode = mode }, "SQA_1000.json");
                    Assert.Equal(result.Graphs.Count, result.Report.RecordsRead);
                }
                catch (MagDataException)
                {
                }
            }
        }, iter: 1500);

    [Fact]
    public void Release_RandomBytes_OnlyThrowsMagDataException() =>
        JsonishByte.Array[0, 400].Sample(bytes =>
        {
            try
            {
                MagReleaseFormat.Read(bytes, new MagReadOptions { ErrorMode = ReadErrorMode.SkipInvalid }, "GSM8K.json");
            }
            catch (MagDataException)
            {
            }
        }, iter: 1500);

    [Fact]
    public void Jsonl_GeneratedGraphs_RoundTripLosslessly()
    {
        var genNode = Gen.Select(Gen.String[0, 30], Gen.OneOf(Gen.Const((string?)null), Gen.String[0, 8].Select(s => (string?)s)), Gen.Select(Gen.Bool, Gen.Double[0, 1], (has, d) => has ? d : (double?)null), Gen.Bool);
        var genGraph = Gen.Select(Gen.Int[1, 4], Gen.Int[1, 3], genNode.Array[12], Gen.String[1, 40], Gen.OneOf(InteractionPattern.BuiltIns.ToArray()));
        genGraph.Sample((agents, rounds, nodes, question, pattern) =>
        {
            var b = InteractionGraph.CreateBuilder().WithId("id-" + question.Length).WithTask("math").WithQuestion(question).WithGoldAnswer("\\frac{1}{2}").WithPattern(pattern);
            var k = 0;
            for (var r = 0; r < rounds; r++)
            {
                for (var a = 0; a < agents; a++)
                {
                    (string reasoning, string? answer, double? confidence, bool correct) = nodes[k++ % nodes.Length];
                    b.AddNode($"agent{a}", r, reasoning, answer, confidence, correct);
                }
            }

            if (string.IsNullOrWhiteSpace(question))
            {
                return;
            }

            var g = b.Build();
            var line = MagJsonl.Serialize(g);
            var back = MagJsonl.Parse(line);
            Assert.Equal(g.Nodes, back.Nodes);
            Assert.Equal(g.Question, back.Question);
            Assert.Equal(line, MagJsonl.Serialize(back));
        }, iter: 300);
    }
}

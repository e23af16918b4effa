using MagDi.Graphs;
using MagDi.Graphs.Gcn;
using MagDi.Losses;
using MagDi.Modeling;
using MagDi.Tasks;
using MagDi.Tokenization;
using Microsoft.Extensions.Options;
using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Training.Tests;

/// <summary>
/// The Release preset against a reference written here from the released code's semantics (utils.py, model.py and
/// get_node_emb.py of the authors' release): pair rows, step count, 12-node graphs and the three loss terms.
/// </summary>
public sealed class ReleasePresetTests : IDisposable
{
    /// <summary>The release's edge list, copied from its construct_graph (agent-major slots: agent a, round r is 4a + r).</summary>
    private static readonly int[,] ReleaseEdges =
    {
        { 0, 1 }, { 1, 2 }, { 2, 3 }, { 4, 5 }, { 5, 6 }, { 6, 7 }, { 8, 9 }, { 9, 10 }, { 10, 11 },
        { 0, 5 }, { 5, 8 }, { 1, 4 }, { 1, 8 }, { 0, 9 }, { 4, 9 }, { 2, 5 }, { 2, 9 }, { 1, 6 }, { 6, 9 },
        { 1, 10 }, { 5, 10 }, { 3, 6 }, { 3, 10 }, { 2, 7 }, { 7, 10 }, { 2, 11 }, { 6, 11 },
    };

    private readonly string _out = TestStudent.TempDirectory();

    public void Dispose()
    {
        try
        {
            Directory.Delete(_out, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    /// <summary>Five arithmetic MAGs (G0 to G2; a G0 has no incorrect node) and one whose every node is wrong.</summary>
    private static List<InteractionGraph> Mags()
    {
        List<InteractionGraph> graphs = TestStudent.Graphs(5);
        var wrong = InteractionGraph.CreateBuilder().WithId("all-wrong").WithTask("gsm8k")
            .WithQuestion("Tom has 2 pens. He buys 2 more. How many pens?").WithGoldAnswer("4")
            .AddAgent("alpha").AddAgent("beta").AddAgent("gamma");
        foreach (string agent in new[] { "alpha", "beta", "gamma" })
        {
            wrong.AddNode(agent, 0, "2 + 2 = 5.", "5", 0.9);
        }

        graphs.Add(wrong.Build());
        return graphs;
    }

    private MagDiTrainerBuilder Builder(CausalLanguageModel model, TrainingPreset preset, string name) => MagDiTrainer.CreateBuilder()
        .UseStudent(model, new CharTokenizer())
        .WithTrainingGraphs(Mags())
        .WithPreset(preset)
        .WithLora(rank: 4, alpha: 8, dropout: 0, "q_proj", "v_proj")
        .WithSeed(5)
        .Configure(o =>
        {
            o.GcnHiddenSize = 16;
            o.GcnDropout = 0;
        })
        .WithOutputDirectory(Path.Combine(_out, name));

    /// <summary>A reference row: the MAG, the positive's (agent, round) and the negative's, or null for the "NA" placeholder.</summary>
    private sealed record RefRow(InteractionGraph Graph, MagNode Positive, MagNode? Negative);

    /// <summary>
    /// The release's prepare_contrastive_samples over its generate_ordered_list order: agent-major (agent a's rounds 0..3),
    /// positives and negatives each in that order, the smaller list repeated to the larger's length, "NA" for no negative,
    /// nothing for no positive.
    /// </summary>
    private static List<RefRow> ReferenceRows(IEnumerable<InteractionGraph> graphs)
    {
        var rows = new List<RefRow>();
        foreach (InteractionGraph g in graphs)
        {
            var ordered = g.Agents.SelectMany(agent => Enumerable.Range(0, 4).Select(r => g.Nodes.FirstOrDefault(n => n.Agent == agent && n.Round == r)))
                .OfType<MagNode>().ToList();
            var positives = ordered.Where(n => n.IsCorrect).ToList();
            var negatives = ordered.Where(n => !n.IsCorrect).Cast<MagNode?>().ToList();
            if (positives.Count == 0)
            {
                continue;
            }

            if (negatives.Count == 0)
            {
                negatives.Add(null);
            }

            if (positives.Count > negatives.Count)
            {
                negatives = Enumerable.Repeat(negatives, (positives.Count / negatives.Count) + 1).SelectMany(x => x).Take(positives.Count).ToList();
            }
            else if (negatives.Count > positives.Count)
            {
                positives = Enumerable.Repeat(positives, (negatives.Count / positives.Count) + 1).SelectMany(x => x).Take(negatives.Count).ToList();
            }

            rows.AddRange(positives.Zip(negatives, (p, n) => new RefRow(g, p, n)));
        }

        return rows;
    }

    /// <summary>The release's node labels of a MAG: 1 correct, 0 incorrect, 2 for a slot nobody filled.</summary>
    private static int[] ReferenceLabels(InteractionGraph g)
    {
        var labels = new int[12];
        for (int a = 0; a < 3; a++)
        {
            for (int r = 0; r < 4; r++)
            {
                MagNode? n = g.Nodes.FirstOrDefault(x => x.Agent == g.Agents[a] && x.Round == r);
                labels[(4 * a) + r] = n is null ? 2 : n.IsCorrect ? 1 : 0;
            }
        }

        return labels;
    }

    [Fact]
    public void Build_ReleaseWithAContradictingExplicitSetting_ThrowsOneOptionsValidationExceptionNamingEachSetting()
    {
        using var model = TestStudent.Model();
        var error = Assert.Throws<OptionsValidationException>(() => Builder(model, TrainingPreset.Release, "x")
            .WithLevel(DistillationLevel.AllNodes)
            .Configure(o => o.Pairing = PairingStrategyKind.Paper)
            .Configure(o => o.NodeFeatures = NodeFeatureSource.Live)
            .Build());

        Assert.Contains("Level = AllNodes", error.Message);
        Assert.Contains("Pairing = Paper", error.Message);
        Assert.Contains("NodeFeatures = Live", error.Message);
        Assert.Equal(3, error.Failures.Count());

        // Options bound from configuration: a value that is neither preset's is named too.
        var bound = new MagDiTrainingOptions { Preset = TrainingPreset.Release, Pooling = PoolingKind.Mean, OutputDirectory = Path.Combine(_out, "y") };
        var poco = Assert.Throws<OptionsValidationException>(() => MagDiTrainer.CreateBuilder().UseStudent(model, new CharTokenizer())
            .WithTrainingGraphs(Mags()).WithOptions(bound).Build());
        Assert.Contains("Pooling = Mean", poco.Message);

        // The same explicit settings are fine with the Paper preset, and an explicit value equal to the Release one is no conflict.
        Builder(model, TrainingPreset.Paper, "paper").WithLevel(DistillationLevel.AllNodes).Configure(o => o.Pairing = PairingStrategyKind.Paper).Build();
        Builder(model, TrainingPreset.Release, "agree").Configure(o => o.Pairing = PairingStrategyKind.Cyclic).Configure(o => o.NodeClasses = 3).Build();
    }

    [Fact]
    public void Build_Release_SetsEveryReleaseSettingAndRefusesMagsThatDoNotFitTheTemplate()
    {
        using var model = TestStudent.Model();
        MagDiTrainingOptions o = Builder(model, TrainingPreset.Release, "r").Build().Options;

        Assert.Equal(TrainingPreset.Release, o.Preset);
        Assert.True(o.IncludePromptInLoss);
        Assert.Equal(PairingStrategyKind.Cyclic, o.Pairing);
        Assert.Equal(3, o.NodeClasses);
        Assert.Equal(NodeFeatureSource.Frozen, o.NodeFeatures);
        Assert.Equal(GcnNormalizationKind.Symmetric, o.GcnNormalization);
        Assert.True(o.StripAgreementSentences);
        MagDiLossWeights effective = o.EffectiveWeights();
        Assert.Equal((1.0, 0.1, 1.0), (effective.Alpha, effective.Beta, effective.Gamma));

        var four = InteractionGraph.CreateBuilder().WithId("four").WithTask("gsm8k").WithQuestion("1 + 1?").WithGoldAnswer("2");
        foreach (string agent in new[] { "a", "b", "c", "d" })
        {
            four.AddAgent(agent).AddNode(agent, 0, "1 + 1 = 2.", "2", 0.9);
        }

        var error = Assert.Throws<OptionsValidationException>(() => Builder(model, TrainingPreset.Release, "four").WithTrainingGraphs([four.Build()]).Build());
        Assert.Contains("MAG 'four' has 4 agents", error.Message);
    }

    [Fact]
    public void Release_FormsTheReleasesPairRowsAndTwelveNodeGraphs()
    {
        using var model = TestStudent.Model();
        MagDiTrainer trainer = Builder(model, TrainingPreset.Release, "rows").Build();
        var tokenizer = new CharTokenizer();
        List<InteractionGraph> mags = Mags();
        var (prepared, _) = TrainingSet.Prepare(mags, trainer.Options, tokenizer, trainer.Template, 512, "training");

        List<PreparedGraph> rows = ReleaseRows.Expand(prepared, tokenizer, trainer.Template, trainer.Options.StripAgreementSentences, out var layouts);

        List<RefRow> expected = ReferenceRows(mags);
        Assert.Equal(expected.Count, rows.Count);
        int[] placeholder = [CharTokenizer.Bos, .. tokenizer.Encode("NA"), CharTokenizer.Eos];
        for (int i = 0; i < rows.Count; i++)
        {
            Assert.Equal(expected[i].Graph.Id, rows[i].Graph.Id);
            Assert.Same(expected[i].Positive, rows[i].Nodes[0].Node);
            if (expected[i].Negative is null)
            {
                Assert.True(rows[i].Release!.PlaceholderNegative);
                Assert.Equal(placeholder, rows[i].Nodes[1].Ids);
            }
            else
            {
                Assert.Same(expected[i].Negative, rows[i].Nodes[1].Node);
            }
        }

        Assert.DoesNotContain(rows, r => r.Graph.Id == "all-wrong");     // no correct node: no row
        Assert.Contains(rows, r => r.Release!.PlaceholderNegative);       // a G0 MAG: every positive with "NA"

        // Every MAG (with or without rows) is laid out on the 12 slots with the release's edges, directions included.
        Assert.Equal(mags.Select(g => g.Id), layouts.Select(l => l.Graph.Id));
        foreach (var (graph, layout) in layouts)
        {
            Assert.Equal(12, layout.Graph.NodeCount);
            Assert.Equal(ReferenceLabels(graph), layout.Graph.Labels);
            Assert.Equal(Enumerable.Range(0, 27).Select(e => ReleaseEdges[e, 0]), layout.Graph.Sources);
            Assert.Equal(Enumerable.Range(0, 27).Select(e => ReleaseEdges[e, 1]), layout.Graph.Targets);
            Assert.Equal(9, Enumerable.Range(0, 27).Count(e => layout.Graph.Sources[e] % 4 > layout.Graph.Targets[e] % 4)); // backwards in time
            for (int slot = 0; slot < 12; slot++)
            {
                string text = tokenizer.Decode(layout.SlotIds[slot]);
                if (layout.Graph.Labels[slot] == NodeLabels.Missing)
                {
                    // The release's placeholder: reasoning "None" and the previous slot's answer.
                    Assert.EndsWith("### Answer: None So the answer is " + PreviousAnswer(graph, slot), text);
                }
            }
        }
    }

    /// <summary>The answer the release's loop still holds when it reaches a missing slot: the last filled slot's, agent-major.</summary>
    private static string PreviousAnswer(InteractionGraph g, int slot)
    {
        for (int s = slot - 1; s >= 0; s--)
        {
            MagNode? n = g.Nodes.FirstOrDefault(x => x.Agent == g.Agents[s / 4] && x.Round == s % 4);
            if (n is not null)
            {
                return n.Answer!;
            }
        }

        throw new InvalidOperationException("slot 0 is always filled");
    }

    [Fact]
    public async Task Release_CountsStepsInPairRows_AboutThreeTimesThePaperPresetsMagBatches()
    {
        using var model = TestStudent.Model();
        using var model2 = TestStudent.Model();
        TrainingResult release = await Builder(model, TrainingPreset.Release, "steps-release").WithSchedule(epochs: 2, warmupSteps: 0).WithBatchSize(2, gradientAccumulationSteps: 2).Build().TrainAsync();
        TrainingResult paper = await Builder(model2, TrainingPreset.Paper, "steps-paper").WithSchedule(epochs: 2, warmupSteps: 0).WithBatchSize(2, gradientAccumulationSteps: 2).Build().TrainAsync();

        int rows = ReferenceRows(Mags()).Count;
        int mags = Mags().Count;
        Assert.Equal(2 * (int)Math.Ceiling(Math.Ceiling(rows / 2.0) / 2.0), release.Steps);
        Assert.Equal(2 * (int)Math.Ceiling(Math.Ceiling(mags / 2.0) / 2.0), paper.Steps);
        Assert.True(release.Steps > paper.Steps, $"{release.Steps} release steps vs {paper.Steps}");
    }

    [Fact]
    public async Task Release_FirstStepLossTerms_EqualTheReferenceComputation()
    {
        using var model = TestStudent.Model();
        var tokenizer = new CharTokenizer();
        List<RefRow> reference = ReferenceRows(Mags());
        MagDiTrainer trainer = Builder(model, TrainingPreset.Release, "loss")
            .WithBatchSize(reference.Count, gradientAccumulationSteps: 1)   // one micro-batch: every row in the first step
            .WithSchedule(epochs: 1, warmupSteps: 0, maxSteps: 1)
            .WithLearningRate(1e-12)                                         // the weights after the step are those of the step
            .Build();
        TrainingResult result = await trainer.TrainAsync();
        IReadOnlyDictionary<string, double> step = result.History[0];

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        model.eval();
        MagDiPromptTemplate template = trainer.Template;
        int[] Text(InteractionGraph g, string reasoning, string? answer) =>
            [.. tokenizer.TokenizeExample(template.RenderNode(ReasoningTasks.Get(g.Task), g.ToQuestion(), reasoning, answer, stripAgreementSentences: true), appendEos: true).Ids];

        // Left padding (padding_side='left'), then the decoder, as MAGDi.forward does for the pos and the neg batch.
        (Tensor Hidden, Tensor Logits, Tensor Ids, Tensor Mask) Encode(List<int[]> rows)
        {
            int t = rows.Max(r => r.Length);
            var ids = new long[rows.Count, t];
            var mask = new long[rows.Count, t];
            for (int r = 0; r < rows.Count; r++)
            {
                for (int j = 0; j < rows[r].Length; j++)
                {
                    ids[r, t - rows[r].Length + j] = rows[r][j];
                    mask[r, t - rows[r].Length + j] = 1;
                }
            }

            Tensor idT = tensor(ids), maskT = tensor(mask);
            CausalLMOutput o = model.forward(new CausalLMInput(idT, maskT, OutputHiddenStates: true));
            return (o.LastHiddenState!, o.Logits!, idT, maskT);
        }

        // Weights 1..T over the padded row's positions, zero on padding (the release's weighted mean).
        static Tensor Pool(Tensor hidden, Tensor mask)
        {
            Tensor w = mask.to(ScalarType.Float32) * arange(1, hidden.shape[1] + 1, dtype: ScalarType.Float32).unsqueeze(0);
            return (hidden * w.unsqueeze(-1)).sum(1) / w.sum(1, keepdim: true);
        }

        int[] placeholder = [CharTokenizer.Bos, .. tokenizer.Encode("NA"), CharTokenizer.Eos];
        var pos = Encode(reference.Select(r => Text(r.Graph, r.Positive.Reasoning, r.Positive.Answer)).ToList());
        var neg = Encode(reference.Select(r => r.Negative is null ? placeholder : Text(r.Graph, r.Negative.Reasoning, r.Negative.Answer)).ToList());

        // Next-token loss over every token of the positives, prompt included (labels = input ids); a row's first token has
        // nothing before it (MagDi does not score it from the padding before it, see docs/training.md).
        double nllSum = 0;
        int nllCount = 0;
        Tensor logProbs = pos.Logits.log_softmax(-1);
        for (int r = 0; r < reference.Count; r++)
        {
            for (long t = 1; t < pos.Ids.shape[1]; t++)
            {
                if (pos.Mask[r, t].item<long>() == 1 && pos.Mask[r, t - 1].item<long>() == 1)
                {
                    nllSum -= logProbs[r, t - 1, pos.Ids[r, t].item<long>()].item<float>();
                    nllCount++;
                }
            }
        }

        // Margin ranking: tanh(mlp2(relu(mlp1(h)))) scores, margin 1, mean, without negatives of 5 tokens or fewer.
        Tensor sp = trainer.Objective!.Scorer!.forward(Pool(pos.Hidden, pos.Mask));
        Tensor sn = trainer.Objective.Scorer.forward(Pool(neg.Hidden, neg.Mask));
        var keep = Enumerable.Range(0, reference.Count).Where(i => neg.Mask[i].sum().item<long>() > 5).ToList();
        double margin = keep.Average(i => Math.Max(0, 1 - sp[i].item<float>() + sn[i].item<float>()));

        // Node loss: frozen base-model features of every MAG's 12 slot texts (get_node_emb: batches of 50, left padding,
        // the same pooling), one graph per row with the release's edges, 3 classes, cross-entropy over every node.
        var slotTexts = new List<int[]>();
        foreach (InteractionGraph g in Mags())
        {
            for (int slot = 0; slot < 12; slot++)
            {
                MagNode? n = g.Nodes.FirstOrDefault(x => x.Agent == g.Agents[slot / 4] && x.Round == slot % 4);
                slotTexts.Add(n is null ? Text(g, "None", PreviousAnswer(g, slot)) : Text(g, n.Reasoning, n.Answer));
            }
        }

        Tensor features = cat(slotTexts.Chunk(50).Select(c => { var e = Encode([.. c]); return Pool(e.Hidden, e.Mask); }).ToList(), 0);
        var mags = Mags();
        var graphRows = reference.Select(r => mags.FindIndex(g => g.Id == r.Graph.Id)).ToList();
        Tensor rowFeatures = cat(graphRows.Select(g => features.narrow(0, g * 12, 12)).ToList(), 0);
        var samples = reference.Select(r => new GraphSample(12,
            Enumerable.Range(0, 27).Select(e => ReleaseEdges[e, 0]).ToArray(),
            Enumerable.Range(0, 27).Select(e => ReleaseEdges[e, 1]).ToArray(),
            ReferenceLabels(r.Graph))).ToList();
        GraphBatch graphs = GraphBatch.BlockDiagonal(samples);
        Tensor nodeLogits = trainer.Objective.NodeClassifier!.Classify(rowFeatures, graphs);
        double node = nn.functional.cross_entropy(nodeLogits, graphs.LabelsTensor()).item<float>();

        Assert.Equal(nllCount, (int)step[LossReport.Keys.NllTokens]);
        Assert.Equal(nllSum / nllCount, step[LossReport.Keys.Nll], 3);
        Assert.Equal(keep.Count, (int)step[LossReport.Keys.MarginPairs]);
        Assert.Equal(margin, step[LossReport.Keys.Margin], 3);
        Assert.Equal(12 * reference.Count, (int)step[LossReport.Keys.NodeCount]);
        Assert.Equal(node, step[LossReport.Keys.Node], 3);
        Assert.Equal(step[LossReport.Keys.Nll] + (0.1 * step[LossReport.Keys.Margin]) + step[LossReport.Keys.Node], step[LossReport.Keys.Total], 4);
        Assert.True(keep.Count < reference.Count, "the placeholder negatives are left out of the margin loss");
    }
}

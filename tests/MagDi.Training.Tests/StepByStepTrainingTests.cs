using MagDi.Graphs;
using MagDi.Losses;
using MagDi.Tasks;

namespace MagDi.Training.Tests;

public sealed class StepByStepTrainingTests : IDisposable
{
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

    private MagDiTrainerBuilder Builder(double lambda = 1.0) => MagDiTrainer.CreateBuilder()
        .UseStudent(TestStudent.Model(), new CharTokenizer())
        .WithTrainingGraphs(TestStudent.Graphs())
        .WithStepByStepObjective(lambda)
        .WithLora(rank: 4, alpha: 8, dropout: 0.1, "q_proj", "v_proj")
        .WithLearningRate(5e-3)
        .WithSchedule(epochs: 50, warmupSteps: 1, maxSteps: 4)
        .WithBatchSize(2)
        .WithSeed(3)
        .WithOutputDirectory(_out);

    [Fact]
    public void Prepare_EveryValidNodeOfEveryTeacherAndRound_GivesALabelAndARationaleRow()
    {
        MagDiTrainer trainer = Builder().Build();
        var tokenizer = new CharTokenizer();
        List<InteractionGraph> mags = TestStudent.Graphs();
        var (prepared, summary) = TrainingSet.Prepare(mags, trainer.Options, tokenizer, trainer.Template, 512, "training");

        int valid = mags.Sum(g => g.Nodes.Count(n => n.IsValid));
        Assert.Equal(valid, summary.NodesUsed);                    // incorrect and post-interaction nodes included
        Assert.Equal(2 * valid, prepared.Sum(g => g.Nodes.Count));
        foreach (PreparedGraph g in prepared)
        {
            foreach (var node in g.Nodes)
            {
                string prompt = tokenizer.Decode(node.Ids.Take(node.PromptLength));
                string target = tokenizer.Decode(node.Ids.Skip(node.PromptLength));
                if (node.Kind == ExampleKind.Label)
                {
                    Assert.Contains("[label] ### Question:", prompt);
                    Assert.Equal(" So the answer is " + g.Graph.GoldAnswer, target);   // the gold answer, also for incorrect nodes
                }
                else
                {
                    Assert.Equal(ExampleKind.Rationale, node.Kind);
                    Assert.Contains("[rationale] ### Question:", prompt);
                    Assert.Equal(" " + node.Node.Reasoning, target);                 // the teacher's rationale alone
                }
            }
        }
    }

    [Fact]
    public async Task TrainAsync_StepByStep_TrainsLabelAndRationaleLossesWithTheirWeight()
    {
        MagDiTrainer trainer = Builder(lambda: 0.5).Build();
        TrainingResult result = await trainer.TrainAsync();

        Assert.Equal(4, result.Steps);
        Assert.Null(trainer.Objective!.Scorer);
        Assert.Null(trainer.Objective.NodeClassifier);
        foreach (var m in result.History)
        {
            Assert.True(m[LossReport.Keys.Label] > 0 && m[LossReport.Keys.Rationale] > 0);
            Assert.Equal(m[LossReport.Keys.Label] + (0.5 * m[LossReport.Keys.Rationale]), m[LossReport.Keys.Total], 5);
            Assert.True(m["rationale/tokens"] > 0 && m["label/tokens"] > 0);
        }

    }

    [Fact]
    public void TaskPrefix_PutsTheLabelPrefixBeforeTheQuestion()
    {
        var template = new MagDiPromptTemplate(MagDi.Tokenization.PromptFormat.Mistral);
        var question = new Question("q", "gsm8k", "1 + 1?", "2");
        ReasoningTask task = ReasoningTasks.Get("gsm8k");

        Assert.Equal("[INST] [label] ### Question: 1 + 1? [/INST] ### Answer:", template.RenderPrompt(task, question, StepByStepLoss.LabelPrefix));
        Assert.Equal(template.RenderPrompt(task, question), template.RenderPrompt(task, question, null));
    }
}

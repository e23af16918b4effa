using MagDi.Graphs;
using MagDi.Graphs.Discussion;
using MagDi.Graphs.Discussion.Simulation;
using MagDi.Tasks;
using Microsoft.Extensions.AI;

namespace MagDi.Discussion.Tests;

public class SimulatedTeacherTests
{
    [Fact]
    public async Task GetResponse_SameConversation_SameReplyAndWordCountUsage()
    {
        var q = TestData.Synthetic(1)[0];
        var messages = new List<ChatMessage> { new(ChatRole.User, $"Question: {q.Text}\n\nAnswer in JSON.") };
        var a = new SimulatedTeacher(SimulatedTeacherProfile.Average(), seed: 3);
        var b = new SimulatedTeacher(SimulatedTeacherProfile.Average(), seed: 3);

        var ra = await a.GetResponseAsync(messages);
        var rb = await b.GetResponseAsync(messages);

        Assert.Equal(ra.Text, rb.Text);
        Assert.Equal(messages[0].Text.Split(' ', '\n').Count(w => w.Length > 0), ra.Usage!.InputTokenCount);
        Assert.True(ra.Usage.OutputTokenCount > 0);
    }

    [Fact]
    public async Task PerfectTeacher_SolvesSyntheticQuestionsFromThePromptAlone()
    {
        var teacher = new SimulatedTeacher(new SimulatedTeacherProfile { Name = "p", Accuracy = 1, FormatNoiseRate = 0, MalformedRate = 0 });
        foreach (var q in TestData.Synthetic(5))
        {
            var task = ReasoningTasks.Get(q.Task);
            var prompt = new DiscussionPrompts().FormatInitial(q, task, [new DiscussionDemonstration("Ann has 2 pens. She buys 3 more. How many pens does Ann have now?", "2 + 3 = 5.", "5")]);
            var response = await teacher.GetResponseAsync([new ChatMessage(ChatRole.User, prompt)]);

            var reply = DiscussionReplyParser.Parse(response.Text, task).Reply!;
            Assert.True(task.IsCorrect(reply.Answer, q.GoldAnswer), $"{q.Text} -> {response.Text}");
        }
    }

    [Fact]
    public async Task WeakTeacher_MakesSlipsInItsReasoning()
    {
        var teacher = new SimulatedTeacher(new SimulatedTeacherProfile { Name = "w", Accuracy = 0, FormatNoiseRate = 0, MalformedRate = 0 });
        var questions = TestData.Synthetic(10).Where(q => q.Task == "synthetic-arithmetic").ToList();
        int wrong = 0;
        foreach (var q in questions)
        {
            var response = await teacher.GetResponseAsync([new ChatMessage(ChatRole.User, "Question: " + q.Text)]);
            var reply = DiscussionReplyParser.Parse(response.Text, ReasoningTasks.Gsm8k).Reply!;
            wrong += reply.Answer == q.GoldAnswer ? 0 : 1;
        }

        Assert.True(wrong >= questions.Count - 1, $"{wrong} of {questions.Count} wrong");
    }

    [Fact]
    public async Task OracleQuestions_AreAnsweredFromTheOracle()
    {
        var q = new Question("c1", "commonsenseqa", "Where do you keep money?", [new AnswerChoice("A", "bank"), new AnswerChoice("B", "river")], "A");
        var teacher = new SimulatedTeacher(new SimulatedTeacherProfile { Name = "o", Accuracy = 1, FormatNoiseRate = 0, MalformedRate = 0 }, oracle: SimulatedTeacher.OracleFor([q]));
        var prompt = new DiscussionPrompts().FormatInitial(q, ReasoningTasks.CommonsenseQA, []);

        var response = await teacher.GetResponseAsync([new ChatMessage(ChatRole.User, prompt)]);

        Assert.Equal("A", DiscussionReplyParser.Parse(response.Text, ReasoningTasks.CommonsenseQA).Reply!.Answer);
    }

    [Fact]
    public async Task DefaultTeam_GraphTypeMix_IsMostlyG0WithSomeDiscussions()
    {
        var runner = new DiscussionRunner(SimulatedTeacher.CreateTeam(seed: 1), TestData.FastOptions());
        var counts = new int[4];
        int teamCorrect = 0, invalid = 0, nodesCorrectRound0 = 0;
        foreach (var q in TestData.Synthetic(100))
        {
            var result = await runner.DiscussAsync(q);
            counts[result.Graph.InteractionRounds]++;
            teamCorrect += result.TeamCorrect ? 1 : 0;
            invalid += result.InvalidNodes;
            nodesCorrectRound0 += result.Graph.Nodes.Count(n => n.Round == 0 && n.IsCorrect);
        }

        Assert.True(counts[0] > 100, $"G0..G3 = {string.Join(",", counts)}");
        Assert.True(counts[0] > counts[1] && counts[1] > 0, $"G0..G3 = {string.Join(",", counts)}");
        Assert.True(counts[2] + counts[3] > 0, $"G0..G3 = {string.Join(",", counts)}");
        // Discussion helps: the team is right more often than an average round-0 agent.
        Assert.True(teamCorrect / 200.0 > nodesCorrectRound0 / 600.0, $"team {teamCorrect}/200, round 0 {nodesCorrectRound0}/600");
        Assert.True(invalid < 10, $"{invalid} invalid nodes");
    }

    [Fact]
    public async Task DiscussionRound_StubbornlessTeacherInTheMinority_FollowsTheMajority()
    {
        var q = TestData.Synthetic(1)[0];
        var task = ReasoningTasks.Get(q.Task);
        var prompts = new DiscussionPrompts();
        var follower = new SimulatedTeacher(new SimulatedTeacherProfile { Name = "f", Accuracy = 0, Stubbornness = 0, FormatNoiseRate = 0, MalformedRate = 0 });
        var history = new List<ChatMessage> { new(ChatRole.User, prompts.FormatInitial(q, task, [])) };
        var first = await follower.GetResponseAsync(history);
        string own = DiscussionReplyParser.Parse(first.Text, task).Reply!.Answer;
        history.Add(new ChatMessage(ChatRole.Assistant, first.Text));
        var groups = new List<AnswerGroup>
        {
            new(q.GoldAnswer, [("The right steps.", 0.9), ("The same steps.", 0.95)]),
            new(own, [("My steps.", 0.8)]),
        };
        history.Add(new ChatMessage(ChatRole.User, prompts.FormatDiscussion(q, task, groups)));

        var second = await follower.GetResponseAsync(history);

        Assert.NotEqual(q.GoldAnswer, own);
        Assert.Equal(q.GoldAnswer, DiscussionReplyParser.Parse(second.Text, task).Reply!.Answer);
    }

    [Fact]
    public void Constructor_InvalidProfile_ListsEveryProblem()
    {
        var ex = Assert.Throws<ArgumentException>(() => new SimulatedTeacher(new SimulatedTeacherProfile { Name = "x", Accuracy = 2, Stubbornness = -1 }));

        Assert.Contains("Accuracy", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Stubbornness", ex.Message, StringComparison.Ordinal);
    }
}

public class SimulatedCorpusDiversityTests
{
    private static async Task<List<InteractionGraph>> DefaultTeamMags(int count, int seed = 3)
    {
        var options = new MagDi.Tasks.Synthetic.SyntheticBenchmarkOptions { Seed = seed, MinSteps = 2, MaxSteps = 4, MaxOperand = 30, MaxValue = 99 };
        var runner = new DiscussionRunner(SimulatedTeacher.CreateTeam(seed), TestData.FastOptions());
        var graphs = new List<InteractionGraph>();
        foreach (var p in MagDi.Tasks.Synthetic.SyntheticBenchmark.Generate(MagDi.Tasks.Synthetic.SyntheticFamily.Arithmetic, count, options))
        {
            graphs.Add((await runner.DiscussAsync(MagDi.Tasks.Synthetic.SyntheticTasks.ToQuestion(p))).Graph);
        }

        return graphs;
    }

    [Fact]
    public async Task DefaultTeam_DifferentTeachersNeverWriteTheSameCorrectChain()
    {
        var graphs = await DefaultTeamMags(150);
        MagDiversity d = MagDiversity.Compute(graphs);

        Assert.True(d.CrossTeacherPairs > 150, $"{d.CrossTeacherPairs} pairs");
        Assert.Equal(0, d.IdenticalCrossTeacherShare);
        Assert.True(d.CrossTeacherOverlap < 0.25, $"word-bigram overlap {d.CrossTeacherOverlap:F3}");
        // Every correct node of a MAG is its own text (a kept answer is restated, not copied).
        Assert.Equal(d.CorrectChainsPerGraph, d.DistinctCorrectChainsPerGraph, 6);
    }

    [Fact]
    public async Task ChangedAnswers_AreDerivedAgain_NeverACopyOfAnEarlierChain()
    {
        var graphs = await DefaultTeamMags(200, seed: 5);
        MagDiversity d = MagDiversity.Compute(graphs);
        Assert.True(d.ChangedAnswers > 20, $"{d.ChangedAnswers} changed answers");
        Assert.Equal(0, d.RevisedCopyShare);

        foreach (InteractionGraph g in graphs)
        {
            for (int round = 1; round < g.RoundCount; round++)
            {
                foreach (MagNode node in g.NodesInRound(round).Where(n => n.IsValid))
                {
                    MagNode before = g.Nodes[g.IndexOf(node.Agent, round - 1)];
                    if (before.IsValid && before.Answer != node.Answer)
                    {
                        // No fixed agreement boilerplate, no text of the previous round; the repaired step is named.
                        Assert.DoesNotContain("I reviewed the solutions of the other agents", node.Reasoning, StringComparison.Ordinal);
                        Assert.All(g.NodesInRound(round - 1), p => Assert.DoesNotContain(p.Reasoning, node.Reasoning, StringComparison.Ordinal));
                        Assert.Matches(@"Correction|went wrong|my error|Rechecked|Fixing my count|I revise|I made a mistake", node.Reasoning);
                    }
                }
            }
        }
    }

    [Fact]
    public async Task EveryLaterRoundAnswer_StatesItsStance_AndTheReleasesCleaningLeavesTheSolution()
    {
        // ReConcile's debate prompt: "Clearly state which point of view you agree or disagree with and why." The release
        // removes those sentences before training; what is left must still be a worked solution.
        var graphs = await DefaultTeamMags(120, seed: 6);
        int later = 0, changed = 0;
        foreach (InteractionGraph g in graphs)
        {
            for (int round = 1; round < g.RoundCount; round++)
            {
                foreach (MagNode node in g.NodesInRound(round).Where(n => n.IsValid))
                {
                    later++;
                    MagNode before = g.Nodes[g.IndexOf(node.Agent, round - 1)];
                    bool isChange = before.IsValid && before.Answer != node.Answer;
                    changed += isChange ? 1 : 0;
                    string[] sentences = System.Text.RegularExpressions.Regex.Split(node.Reasoning, @"(?<=[.!?])\s+");
                    Assert.Contains(sentences, s => s.StartsWith("I agree", StringComparison.Ordinal) || s.StartsWith("I disagree", StringComparison.Ordinal));
                    if (isChange)
                    {
                        // A changed answer agrees with the answer it adopts, before naming its error.
                        Assert.StartsWith("I agree", node.Reasoning, StringComparison.Ordinal);
                    }

                    string cleaned = MagDi.Graphs.IO.ReasoningCleaner.RemoveAgreementSentences(node.Reasoning);
                    Assert.DoesNotContain("I agree", cleaned, StringComparison.Ordinal);
                    Assert.DoesNotContain("I disagree", cleaned, StringComparison.Ordinal);
                    Assert.Matches(@"\d+ [-+*] \d+ = \d+", cleaned);
                    Assert.Contains(node.Answer!, cleaned, StringComparison.Ordinal);
                }
            }
        }

        Assert.True(later > 60 && changed > 10, $"{later} later-round answers, {changed} changed");
    }

    [Fact]
    public async Task DefaultTeachers_WriteInTheirOwnStyles()
    {
        var graphs = await DefaultTeamMags(60, seed: 8);
        string Text(string agent) => string.Join(" ", graphs.SelectMany(g => g.NodesInRound(0)).Where(n => n.Agent == agent && n.IsValid).Select(n => n.Reasoning));

        string gpt4 = Text("gpt4"), claude = Text("claude"), bard = Text("bard");
        // All three compute in the question's order with equations, as the ReConcile agents do; no default teacher groups
        // the gains and losses first, and none writes the operations in words.
        foreach (string text in new[] { gpt4, claude, bard })
        {
            Assert.Matches(@"\d+ [-+*] \d+ = \d+", text);
            Assert.DoesNotMatch(@"(Gains|Added|Losses|Removed): \d+ \+ \d+ = \d+", text);
            Assert.DoesNotContain(" plus ", text, StringComparison.Ordinal);
        }

        Assert.Matches(@"After \w+[^:]*: \d+ [-+*] \d+ = \d+\.", gpt4);                                  // labelled equations
        Assert.Matches(@"(First|Then|Next|After that|Second|Finally), \w+ ", claude);                      // prose ...
        Assert.Matches(@"- \w+ [a-z ]+ (\d+|them): \d+ [-+*] \d+ = \d+ \w+", claude);                     // ... or bullets
        Assert.Matches(@"\d\. After \w+[^,]*, \w+ has \d+ \w+ because \d+ [-+*] \d+ = \d+\.", bard);     // numbered reasons ...
        Assert.Matches(@"(so \w+ has|This gives us|: )\d* ?\d+ [-+*] \d+ = \d+", bard);                     // ... or "so" sentences
        Assert.Contains("Therefore, ", bard, StringComparison.Ordinal);
        Assert.DoesNotContain("Therefore, ", gpt4 + claude, StringComparison.Ordinal);
        Assert.True(claude.Length > 1.5 * gpt4.Length, "claude is the verbose one");
    }

    [Fact]
    public void GroupedStyle_StillSumsGainsAndLossesFirst()
    {
        var profile = SimulatedTeacherProfile.Weak() with { Style = TeacherStyle.Grouped, Accuracy = 1, FormatNoiseRate = 0, MalformedRate = 0 };
        var questions = MagDi.Tasks.Synthetic.SyntheticBenchmark.Generate(
            MagDi.Tasks.Synthetic.SyntheticFamily.Arithmetic, 40, new MagDi.Tasks.Synthetic.SyntheticBenchmarkOptions { Seed = 3, MinSteps = 3, MaxSteps = 4 });
        string text = string.Join(" ", questions.Select(q => DiscussionReplyParser.Parse(
            new SimulatedTeacher(profile, seed: 1).Reply([new ChatMessage(ChatRole.User, "Question: " + q.Text)]), ReasoningTasks.Gsm8k).Reply!.Reasoning));
        Assert.Matches(@"(Gains|Added|Losses|Removed): \d+ \+ \d+ = \d+", text);
    }

    [Fact]
    public void ErrorCorrelation_KeepsEachTeachersAccuracy_AndMakesErrorsCoincide()
    {
        var questions = MagDi.Tasks.Synthetic.SyntheticBenchmark.Generate(
            MagDi.Tasks.Synthetic.SyntheticFamily.Arithmetic, 1500, new MagDi.Tasks.Synthetic.SyntheticBenchmarkOptions { Seed = 2, MinSteps = 2, MaxSteps = 4, MaxOperand = 30, MaxValue = 99 });
        bool[] Wrong(SimulatedTeacherProfile profile) => questions
            .Select(p => new SimulatedTeacher(profile with { FormatNoiseRate = 0, MalformedRate = 0 }, seed: 4)
                .Reply([new ChatMessage(ChatRole.User, "Question: " + p.Text)]))
            .Select((reply, i) => DiscussionReplyParser.Parse(reply, ReasoningTasks.Gsm8k).Reply!.Answer != questions[i].GoldAnswer)
            .ToArray();

        bool[] a = Wrong(SimulatedTeacherProfile.Strong()), b = Wrong(SimulatedTeacherProfile.Weak());
        double errA = a.Average(x => x ? 1.0 : 0), errB = b.Average(x => x ? 1.0 : 0);
        Assert.InRange(errA, 0.12 - 0.03, 0.12 + 0.03);
        Assert.InRange(errB, 0.26 - 0.04, 0.26 + 0.04);
        double both = a.Zip(b).Average(x => x.First && x.Second ? 1.0 : 0);
        Assert.True(both > 1.5 * errA * errB, $"P(both wrong) {both:F3} vs independent {errA * errB:F3}");
    }
}

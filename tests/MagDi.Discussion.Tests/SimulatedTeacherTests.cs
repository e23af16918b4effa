using MagDi.Graphs;
using MagDi.Graphs.Discussion;
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

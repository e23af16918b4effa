using MagDi.Graphs.Discussion;

namespace MagDi.Discussion.Tests;

public class ConfidenceVoteTests
{
    [Theory]
    [InlineData(0.0, 0.1)]
    [InlineData(0.6, 0.1)]
    [InlineData(0.61, 0.3)]
    [InlineData(0.79, 0.3)]
    [InlineData(0.8, 0.5)]
    [InlineData(0.89, 0.5)]
    [InlineData(0.9, 0.8)]
    [InlineData(0.99, 0.8)]
    [InlineData(1.0, 1.0)]
    public void Recalibrate_FollowsReConcileBins(double confidence, double expected) =>
        Assert.Equal(expected, ConfidenceVote.Recalibrate(confidence));

    [Fact]
    public void TeamAnswer_OneConfidentAgent_OutweighsTwoUnsureOnes()
    {
        var votes = new[] { new AgentVote("a", "8", 0.5), new AgentVote("b", "8", 0.6), new AgentVote("c", "9", 1.0) };

        Assert.Equal("9", ConfidenceVote.TeamAnswer(votes)); // 1.0 beats 0.1 + 0.1
    }

    [Fact]
    public void TeamAnswer_EqualWeight_GoesToMoreVotesThenFirstVoter()
    {
        Assert.Equal("x", ConfidenceVote.TeamAnswer([new AgentVote("a", "x", 0.85), new AgentVote("b", "y", 0.95), new AgentVote("c", "x", 0.95)]));
        Assert.Equal("x", ConfidenceVote.TeamAnswer([new AgentVote("a", "x", 0.95), new AgentVote("b", "y", 0.95)]));
        Assert.Null(ConfidenceVote.TeamAnswer([]));
    }

    [Fact]
    public void TeamAnswer_MissingConfidence_WeighsLikeZero()
    {
        Assert.Equal("y", ConfidenceVote.TeamAnswer([new AgentVote("a", "x", null), new AgentVote("b", "y", 0.7)]));
    }
}

using MagDi.Graphs.Discussion;
using MagDi.Tasks;

namespace MagDi.Discussion.Tests;

public class ReplyParserTests
{
    [Theory]
    [InlineData("{\"reasoning\": \"5 + 3 = 8.\", \"answer\": \"8\", \"confidence_level\": 0.9}")]
    [InlineData("```json\n{\"reasoning\": \"5 + 3 = 8.\", \"answer\": 8, \"confidence_level\": \"0.9\"}\n```")]
    [InlineData("Here is my answer:\n{'reasoning': '5 + 3 = 8.', 'answer': '8', 'confidence_level': 0.9}\nHope this helps! {not json}")]
    [InlineData("{reasoning: \"5 + 3 = 8.\", answer: \"$8.00\", confidence: \"90%\",}")]
    [InlineData("{\"reasoning\": \"5 + 3 = 8.\", \"answer\": \"8\", \"confidence_level\": 90}")]
    public void Parse_TolerantForms_GiveTheSameReply(string text)
    {
        var result = DiscussionReplyParser.Parse(text, ReasoningTasks.Gsm8k);

        Assert.True(result.Success, result.Error);
        AgentReply reply = Assert.IsType<AgentReply>(result.Reply);
        Assert.Equal(("5 + 3 = 8.", "8", (double?)0.9), (reply.Reasoning, reply.Answer, reply.Confidence));
    }

    [Fact]
    public void Parse_ReplyLongerThanTheReadersLimit_IsRejected_AtTheLimitIsAccepted()
    {
        string Reply(int length)
        {
            const string Head = "{\"reasoning\": \"", Tail = "\", \"answer\": \"8\"}";
            return Head + new string('r', length - Head.Length - Tail.Length) + Tail;
        }

        var over = DiscussionReplyParser.Parse(Reply(DiscussionReplyParser.MaxReplyLength + 1), ReasoningTasks.Gsm8k);
        Assert.False(over.Success);
        Assert.Contains("over the limit of 100000", over.Error);

        var at = DiscussionReplyParser.Parse(Reply(DiscussionReplyParser.MaxReplyLength), ReasoningTasks.Gsm8k);
        Assert.True(at.Success, at.Error);
    }

    [Fact]
    public void Parse_ApostropheInsideSingleQuotedString_IsKept()
    {
        var result = DiscussionReplyParser.Parse("{'reasoning': 'It's not more than 7.', 'answer': 'no', 'confidence_level': 0.8}", ReasoningTasks.StrategyQA);

        Assert.Equal("It's not more than 7.", result.Reply!.Reasoning);
        Assert.Equal("no", result.Reply.Answer);
    }

    [Fact]
    public void Parse_JsonBooleanAnswer_BecomesYesNo()
    {
        var result = DiscussionReplyParser.Parse("{\"reasoning\": \"r\", \"answer\": true, \"confidence_level\": 1}", ReasoningTasks.StrategyQA);

        Assert.Equal("yes", result.Reply!.Answer);
        Assert.Equal(1.0, result.Reply.Confidence);
    }

    [Fact]
    public void Parse_MissingConfidence_IsAllowedAsNull()
    {
        var result = DiscussionReplyParser.Parse("{\"reasoning\": \"r\", \"answer\": \"B\"}", ReasoningTasks.CommonsenseQA);

        Assert.True(result.Success);
        Assert.Null(result.Reply!.Confidence);
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("I think the answer is 8.", "JSON object")]
    [InlineData("{\"reasoning\": \"r\", \"answer\": \"maybe\", \"confidence_level\": 0.5}", "not a valid answer")]
    [InlineData("{\"reasoning\": \"\", \"answer\": \"yes\", \"confidence_level\": 0.5}", "reasoning")]
    [InlineData("{\"reasoning\": \"r\", \"answer\": \"yes\", \"confidence_level\": \"very\"}", "confidence_level")]
    [InlineData("{\"reasoning\": \"r\", \"answer\": \"yes\", \"confidence_level\": 250}", "confidence_level")]
    public void Parse_Unusable_ReportsWhy(string text, string reason)
    {
        var result = DiscussionReplyParser.Parse(text, ReasoningTasks.StrategyQA);

        Assert.False(result.Success);
        Assert.Contains(reason, result.Error, StringComparison.Ordinal);
    }
}

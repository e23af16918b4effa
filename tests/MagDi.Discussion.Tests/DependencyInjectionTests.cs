using MagDi.Graphs.Discussion;
using MagDi.Graphs.Discussion.Simulation;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MagDi.Discussion.Tests;

/// <summary>Discussion runners from a container configured by appsettings.json, as an application builds them.</summary>
public class DependencyInjectionTests
{
    private static IConfiguration AppSettings(params (string Key, string? Value)[] overrides) =>
        new ConfigurationBuilder()
            .SetBasePath(AppContext.BaseDirectory)
            .AddJsonFile("appsettings.json", optional: false)
            .AddInMemoryCollection(overrides.Select(o => new KeyValuePair<string, string?>(o.Key, o.Value)))
            .Build();

    [Fact]
    public async Task Factory_FromAppSettings_RunsADiscussionOverKeyedClientsWithDefaultResilience()
    {
        var questions = TestData.Synthetic(3, seed: 31);
        var team = SimulatedTeacher.CreateTeam(seed: 6).Where(a => a.Name is "gpt4" or "bard").ToList();
        string reference = TestData.TempFile("reference.jsonl");
        await new DiscussionRunner(team, new DiscussionOptions { MaxRounds = 2 }).RunAsync(questions, reference);
        // Every 4th request is a 429: the resilience the factory adds must absorb it.
        await using var server = await FakeOpenAIServer.StartAsync(team.ToDictionary(a => a.Name, a => a.Client), n => n % 4 == 0 ? Fault.TooManyRequests : Fault.None);

        var services = new ServiceCollection();
        services.AddKeyedChatClient("gpt4", server.ClientFor("gpt4"));
        services.AddKeyedChatClient("bard", server.ClientFor("bard"));
        services.AddMagDiDiscussions(AppSettings().GetSection("MagDi:Discussions"));
        await using var provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();

        var runner = provider.GetRequiredService<IDiscussionRunnerFactory>().Create();
        string output = TestData.TempFile("di.jsonl");
        var summary = await runner.RunAsync(questions, output);

        Assert.Equal(["gpt4", "bard"], runner.Agents.Select(a => a.Name));
        Assert.Equal(2, runner.Options.MaxRounds);
        var gpt4 = runner.Agents[0].Client.GetService<ResilientChatClient>();
        var bard = runner.Agents[1].Client.GetService<ResilientChatClient>();
        Assert.NotNull(gpt4);
        Assert.NotNull(bard);
        Assert.Equal(("gpt4", 8, TimeSpan.FromSeconds(20), (double?)null), (gpt4.Options.Name, gpt4.Options.MaxRetries, gpt4.Options.CallTimeout, gpt4.Options.RequestsPerMinute));
        Assert.Equal(("bard", (double?)6000), (bard.Options.Name, bard.Options.RequestsPerMinute));
        Assert.Empty(summary.FailedQuestionIds);
        Assert.True(server.FaultCount(Fault.TooManyRequests) > 0);
        Assert.Equal(TestData.SortedLines(reference), TestData.SortedLines(output));
    }

    [Fact]
    public void Factory_KeepsAClientsOwnResilience()
    {
        var services = new ServiceCollection();
        services.AddKeyedChatClient("gpt4", new SimulatedTeacher(SimulatedTeacherProfile.Strong())).UseMagDiResilience(o => o.MaxRetries = 1);
        services.AddKeyedChatClient("bard", new SimulatedTeacher(SimulatedTeacherProfile.Weak()));
        services.AddMagDiDiscussions(AppSettings().GetSection("MagDi:Discussions"));
        using var provider = services.BuildServiceProvider();

        var runner = provider.GetRequiredService<IDiscussionRunnerFactory>().Create();

        Assert.Equal(1, runner.Agents[0].Client.GetService<ResilientChatClient>()!.Options.MaxRetries);
        Assert.Equal(8, runner.Agents[1].Client.GetService<ResilientChatClient>()!.Options.MaxRetries);
    }

    [Fact]
    public void ValidateOnStart_ListsEveryProblem_IncludingAnAgentWithoutAClient()
    {
        var config = AppSettings(
            ("MagDi:Discussions:MaxRounds", "-1"),
            ("MagDi:Discussions:Resilience:CallTimeout", "00:00:00"),
            ("MagDi:Discussions:Agents:1", "ghost"));
        var services = new ServiceCollection();
        services.AddKeyedChatClient("gpt4", new SimulatedTeacher(SimulatedTeacherProfile.Strong()));
        services.AddMagDiDiscussions(config.GetSection("MagDi:Discussions"));
        using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());

        Assert.Equal(3, ex.Failures.Count());
        Assert.Contains(ex.Failures, f => f.Contains("MaxRounds", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("Resilience:CallTimeout", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("'ghost'", StringComparison.Ordinal));
        // The factory refuses too, with the same exception type.
        Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IDiscussionRunnerFactory>().Create());
    }

    [Fact]
    public void ValidateOnStart_WithoutAgents_Fails()
    {
        var services = new ServiceCollection();
        services.AddMagDiDiscussions(o => o.MaxRounds = 1);
        using var provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStartupValidator>().Validate());

        Assert.Contains(ex.Failures, f => f.StartsWith("Agents must name at least one agent", StringComparison.Ordinal));
    }

    [Fact]
    public void AddMagDiDiscussions_Twice_RegistersOneFactoryAndOneOfEachValidator()
    {
        var services = new ServiceCollection();
        services.AddMagDiDiscussions(o => o.Agents.Add("a"));
        services.AddMagDiDiscussions(o => o.MaxRounds = 1);

        Assert.Single(services, d => d.ServiceType == typeof(IDiscussionRunnerFactory));
        Assert.Equal(2, services.Count(d => d.ServiceType == typeof(IValidateOptions<DiscussionOptions>)));
    }

    [Fact]
    public void Binding_AConfiguredAgentList_ReplacesTheDefault()
    {
        var options = new DiscussionOptions();
        AppSettings().GetSection("MagDi:Discussions").Bind(options);

        Assert.Equal(["gpt4", "bard"], options.Agents);
        Assert.Equal(TimeSpan.FromMilliseconds(5), options.Resilience.RetryBaseDelay);
        Assert.Equal(6000, options.AgentRequestsPerMinute["bard"]);
    }
}

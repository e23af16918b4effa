using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MagDi.Training.Tests;

public sealed class OptionsTests
{
    [Fact]
    public void Defaults_FollowThePapersRecipe()
    {
        var o = new MagDiTrainingOptions();
        Assert.Equal(16, o.LoraRank);
        Assert.Equal(32, o.LoraAlpha);
        Assert.Equal(0.05, o.LoraDropout);
        Assert.Null(o.LoraTargetModules);
        Assert.Equal(["q_proj", "v_proj"], MagDiTrainingOptions.DefaultLoraTargetModules);
        Assert.Equal(5e-6, o.LearningRate);
        Assert.Equal(10, o.Epochs);
        Assert.Equal(16, o.BatchSize * o.GradientAccumulationSteps);
        Assert.Equal(100, o.WarmupSteps);
        Assert.Equal(DistillationLevel.Structure, o.Level);
    }

    [Fact]
    public void Options_BindFromConfiguration_AndInvalidValuesFailWithEveryProblem()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MagDi:Training:Level"] = "AllNodes",
            ["MagDi:Training:LoraRank"] = "0",
            ["MagDi:Training:Beta"] = "1.5",
            ["MagDi:Training:OutputDirectory"] = "out",
        }).Build();
        var services = new ServiceCollection();
        services.AddMagDiTraining(config.GetSection(MagDiTrainingOptions.SectionName));
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<MagDiTrainingOptions>>().Value);
        Assert.Contains(error.Failures, f => f.Contains("LoraRank"));
        Assert.Contains(error.Failures, f => f.Contains("Beta"));
    }

    [Fact]
    public void Options_BindValidValues()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["MagDi:Training:Level"] = "RoundZero",
            ["MagDi:Training:SingleTeacher"] = "gpt4",
            ["MagDi:Training:LearningRate"] = "0.0001",
            ["MagDi:Training:OutputDirectory"] = "out",
        }).Build();
        var services = new ServiceCollection();
        services.AddMagDiTraining(config.GetSection(MagDiTrainingOptions.SectionName));
        using var provider = services.BuildServiceProvider();
        var o = provider.GetRequiredService<IOptions<MagDiTrainingOptions>>().Value;
        Assert.Equal(DistillationLevel.RoundZero, o.Level);
        Assert.Equal("gpt4", o.SingleTeacher);
        Assert.Equal(1e-4, o.LearningRate);
    }

    [Fact]
    public void RenderTarget_StrippingAgreement_DropsOnlyAgreementSentences()
    {
        Assert.Equal(" The sum is 5. So 5 it is. So the answer is 5",
            MagDiPromptTemplate.RenderTarget("I agree with Bard. The sum is 5. I disagree with Claude's steps! So 5 it is.", "5", stripAgreementSentences: true));
    }
}

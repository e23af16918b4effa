using System.Text;
using MagDi.Generation;
using MagDi.Graphs;
using MagDi.Graphs.Discussion;
using MagDi.Graphs.Discussion.Simulation;
using MagDi.Graphs.IO;
using MagDi.Lora;
using MagDi.Losses;
using MagDi.Tasks;
using MagDi.Tasks.Synthetic;
using MagDi.Tokenization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace MagDi.Training.Tests;

/// <summary>
/// Options bound from JSON configuration as an application binds appsettings.json, the DI registration of training, and
/// who disposes what.
/// </summary>
public sealed class ConfigurationAndServicesTests(ExperimentFixture fixture) : IClassFixture<ExperimentFixture>, IDisposable
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

    private static IConfiguration Json(string json) =>
        new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();

    /// <summary>Every collection option of the training, losses and core options, bound from JSON: the configured list replaces the default.</summary>
    [Fact]
    public void CollectionOptions_BoundFromJson_ReplaceTheDefaultWithoutDuplicates()
    {
        IConfiguration config = Json("""
            {
              "MagDi": {
                "Training": { "LoraTargetModules": [ "q_proj", "k_proj", "o_proj" ] },
                "Lora": { "TargetModules": [ "up_proj", "down_proj" ] },
                "Tokenizer": { "AdditionalSpecialTokens": [ "<|im_start|>", "<|im_end|>" ] },
                "Generation": { "EosTokenIds": [ 2, 7 ], "StopTokenSequences": [ [ 1, 2 ], [ 3 ] ] }
              }
            }
            """);

        var training = new MagDiTrainingOptions();
        config.GetSection(MagDiTrainingOptions.SectionName).Bind(training);
        Assert.Equal(["q_proj", "k_proj", "o_proj"], training.LoraTargetModules);
        Assert.Equal(["q_proj", "k_proj", "o_proj"], config.GetSection(MagDiTrainingOptions.SectionName).Get<MagDiTrainingOptions>()!.LoraTargetModules);
        Assert.Equal(["q_proj", "k_proj", "o_proj"], training.EffectiveLoraTargetModules);
        Assert.DoesNotContain(training.GetProblems(), p => p.Contains("Lora", StringComparison.Ordinal));

        var lora = new LoraOptions();
        config.GetSection("MagDi:Lora").Bind(lora);
        Assert.Equal(["up_proj", "down_proj"], lora.TargetModules);

        var tokenizer = new ByteLevelBpeTrainerOptions();
        config.GetSection("MagDi:Tokenizer").Bind(tokenizer);
        Assert.Equal(["<|im_start|>", "<|im_end|>"], tokenizer.AdditionalSpecialTokens);

        var generation = new GenerationOptions();
        config.GetSection("MagDi:Generation").Bind(generation);
        Assert.Equal([2, 7], generation.EosTokenIds);
        Assert.Equal(2, generation.StopTokenSequences.Count);
        Assert.Equal([1, 2], generation.StopTokenSequences[0]);
        Assert.Equal([3], generation.StopTokenSequences[1]);
    }

    [Fact]
    public void CollectionOptions_NotConfigured_KeepTheirDefaults()
    {
        IConfiguration config = Json("""{ "MagDi": { "Training": { "LoraRank": 8 }, "Lora": { "Rank": 4 } } }""");
        var training = new MagDiTrainingOptions();
        config.GetSection(MagDiTrainingOptions.SectionName).Bind(training);
        Assert.Equal(8, training.LoraRank);
        Assert.Null(training.LoraTargetModules);
        Assert.Equal(["q_proj", "v_proj"], training.EffectiveLoraTargetModules);

        var lora = new LoraOptions();
        config.GetSection("MagDi:Lora").Bind(lora);
        Assert.Null(lora.TargetModules);
        Assert.Equal(["q_proj", "v_proj"], lora.EffectiveTargetModules);
    }

    [Fact]
    public void EnumChoices_BindByNameCaseInsensitively_AndAnUnknownNameFailsBinding()
    {
        IConfiguration config = Json("""
            {
              "MagDi": {
                "Training": { "Pairing": "AllPairs", "PromptFormat": "chatml", "Level": "allnodes" },
                "Evaluation": { "PromptFormat": "Llama2Chat", "Decoding": "Paper" }
              }
            }
            """);
        var training = config.GetSection(MagDiTrainingOptions.SectionName).Get<MagDiTrainingOptions>()!;
        Assert.Equal(PairingStrategyKind.AllPairs, training.Pairing);
        Assert.Equal(PromptFormatKind.ChatMl, training.PromptFormat);
        Assert.Equal(DistillationLevel.AllNodes, training.Level);
        Assert.Same(PairingStrategy.AllPairs, PairingStrategy.FromKind(training.Pairing));

        var evaluation = config.GetSection("MagDi:Evaluation").Get<EvaluationOptions>()!;
        Assert.Equal(PromptFormatKind.Llama2Chat, evaluation.PromptFormat);
        Assert.Equal(DecodingStrategy.Paper, evaluation.Decoding);

        IConfiguration bad = Json("""{ "MagDi": { "Training": { "Pairing": "random" } } }""");
        var error = Assert.Throws<InvalidOperationException>(() => bad.GetSection(MagDiTrainingOptions.SectionName).Get<MagDiTrainingOptions>());
        Assert.Contains("Pairing", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ValidateOnStart_WithBadConfiguration_ThrowsOneOptionsValidationExceptionListingEveryFailure()
    {
        IConfiguration config = Json("""
            {
              "MagDi": {
                "Training": {
                  "Level": "Structure",
                  "LoraRank": 0,
                  "Gamma": 0,
                  "LoraTargetModules": [ "q_proj", "q_proj" ],
                  "OutputDirectory": ""
                }
              }
            }
            """);
        var services = new ServiceCollection();
        services.AddMagDiTraining(config.GetSection(MagDiTrainingOptions.SectionName));
        using ServiceProvider provider = services.BuildServiceProvider();

        // What the host does on start for ValidateOnStart registrations.
        var startup = provider.GetRequiredService<IStartupValidator>();
        var error = Assert.Throws<OptionsValidationException>(startup.Validate);
        Assert.Equal(typeof(MagDiTrainingOptions), error.OptionsType);
        Assert.Equal(4, error.Failures.Count());
        Assert.Contains(error.Failures, f => f.Contains("LoraRank", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Gamma > 0", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("more than once", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("OutputDirectory is required", StringComparison.Ordinal));

        // The factory cannot hand out a trainer with these options either.
        var factory = provider.GetRequiredService<IMagDiTrainerFactory>();
        Assert.Throws<OptionsValidationException>(() => factory.CreateBuilder());
    }

    [Fact]
    public void AddMagDiTraining_UsesTryAdd_SoAUserRegistrationIsKeptAndRepeatedCallsRegisterOnce()
    {
        var services = new ServiceCollection();
        var mine = new RecordingFactory();
        services.AddSingleton<IMagDiTrainerFactory>(mine);
        services.AddMagDiTraining(o => o.OutputDirectory = "out");
        services.AddMagDiTraining(o => o.LoraRank = 8);
        using ServiceProvider provider = services.BuildServiceProvider();
        Assert.Same(mine, provider.GetRequiredService<IMagDiTrainerFactory>());
        Assert.Single(provider.GetServices<IValidateOptions<MagDiTrainingOptions>>().OfType<MagDiTrainingOptionsValidator>());
        Assert.Equal(8, provider.GetRequiredService<IOptions<MagDiTrainingOptions>>().Value.LoraRank);
    }

    /// <summary>An application: appsettings.json, a service collection, the factory from the container, a short run.</summary>
    [Fact]
    public async Task Factory_FromAppSettingsJson_TrainsAStudentWithTheConfiguredSettings()
    {
        string appsettings = Path.Combine(_out, "appsettings.json");
        string output = Path.Combine(_out, "run").Replace("\\", "\\\\", StringComparison.Ordinal);
        await File.WriteAllTextAsync(appsettings, $$"""
            {
              "MagDi": {
                "Training": {
                  "Level": "Structure",
                  "LoraRank": 4,
                  "LoraAlpha": 8,
                  "LoraTargetModules": [ "q_proj", "k_proj", "o_proj" ],
                  "Pairing": "AllPairs",
                  "LearningRate": 0.001,
                  "WarmupSteps": 1,
                  "MaxSteps": 3,
                  "BatchSize": 2,
                  "GradientAccumulationSteps": 1,
                  "GcnHiddenSize": 16,
                  "OutputDirectory": "{{output}}"
                }
              }
            }
            """);
        IConfiguration configuration = new ConfigurationBuilder().AddJsonFile(appsettings).Build();
        var services = new ServiceCollection();
        services.AddMagDiTraining(configuration.GetSection(MagDiTrainingOptions.SectionName));
        using ServiceProvider provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();

        var factory = provider.GetRequiredService<IMagDiTrainerFactory>();
        using MagDiTrainer trainer = factory.Create(fixture.BaseDirectory, fixture.Graphs, device: "cpu", dtype: ModelDType.F32);
        TrainingResult result = await trainer.TrainAsync();

        Assert.Equal(TrainingStatus.Completed, result.Status);
        Assert.Equal(3, result.Steps);
        Assert.Equal(PairingStrategy.AllPairs, trainer.Objective!.Options.Pairing);
        Assert.Equal(4, trainer.Adapter!.Options.Rank);
        // Exactly the configured layers, in both decoder layers: no default v_proj, no duplicate.
        Assert.Equal(
            ["k_proj", "k_proj", "o_proj", "o_proj", "q_proj", "q_proj"],
            trainer.Adapter.Layers.Select(l => l.Path.Split('.')[^1]).Order(StringComparer.Ordinal));
        string adapterConfig = await File.ReadAllTextAsync(Path.Combine(result.FinalModelDirectory, "adapter_config.json"));
        Assert.DoesNotContain("v_proj", adapterConfig, StringComparison.Ordinal);
    }

    /// <summary>
    /// One application, one appsettings.json: the container builds a discussion runner over keyed teachers and a trainer,
    /// the teachers discuss, and the student trains on the MAGs they wrote, each with its configured settings.
    /// </summary>
    [Fact]
    public async Task OneAppSettingsJson_ResolvesAndRunsADiscussionRunnerAndATrainer()
    {
        string appsettings = Path.Combine(_out, "appsettings.json");
        string output = Path.Combine(_out, "run").Replace("\\", "\\\\", StringComparison.Ordinal);
        await File.WriteAllTextAsync(appsettings, $$"""
            {
              "MagDi": {
                "Discussions": { "Agents": [ "gpt4", "bard", "claude" ], "MaxRounds": 2, "MaxConcurrentQuestions": 2 },
                "Training": {
                  "Level": "Structure",
                  "LoraRank": 4,
                  "LoraTargetModules": [ "q_proj", "o_proj" ],
                  "LearningRate": 0.001,
                  "WarmupSteps": 1,
                  "MaxSteps": 2,
                  "BatchSize": 2,
                  "GradientAccumulationSteps": 1,
                  "GcnHiddenSize": 16,
                  "OutputDirectory": "{{output}}"
                }
              }
            }
            """);
        IConfiguration configuration = new ConfigurationBuilder().AddJsonFile(appsettings).Build();
        var services = new ServiceCollection();
        foreach (DiscussionAgent teacher in SimulatedTeacher.CreateTeam(seed: 3))
        {
            services.AddKeyedChatClient(teacher.Name, teacher.Client);
        }

        services.AddMagDiDiscussions(configuration.GetSection("MagDi:Discussions"));
        services.AddMagDiTraining(configuration.GetSection(MagDiTrainingOptions.SectionName));
        using ServiceProvider provider = services.BuildServiceProvider();
        provider.GetRequiredService<IStartupValidator>().Validate();

        List<Question> questions = [.. SyntheticBenchmark.Generate(SyntheticFamily.Arithmetic, 4, new SyntheticBenchmarkOptions { Seed = 5 }).Select(p => p.ToQuestion())];
        DiscussionRunner runner = provider.GetRequiredService<IDiscussionRunnerFactory>().Create();
        string mags = Path.Combine(_out, "mags.jsonl");
        DiscussionRunSummary summary = await runner.RunAsync(questions, mags);
        Assert.Empty(summary.FailedQuestionIds);
        Assert.Equal(["gpt4", "bard", "claude"], runner.Agents.Select(a => a.Name));
        Assert.Equal(2, runner.Options.MaxRounds);

        IReadOnlyList<InteractionGraph> graphs = (await MagFile.ReadAsync(mags)).Graphs;
        Assert.Equal(questions.Count, graphs.Count);
        using MagDiTrainer trainer = provider.GetRequiredService<IMagDiTrainerFactory>().Create(fixture.BaseDirectory, graphs, device: "cpu", dtype: ModelDType.F32);
        TrainingResult result = await trainer.TrainAsync();

        Assert.Equal(TrainingStatus.Completed, result.Status);
        Assert.Equal(2, result.Steps);
        Assert.Equal(
            ["o_proj", "o_proj", "q_proj", "q_proj"],
            trainer.Adapter!.Layers.Select(l => l.Path.Split('.')[^1]).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task EvaluatorFactory_FromJson_UsesTheConfiguredOptions_AndBadOptionsFailOnStart()
    {
        IConfiguration config = Json("""{ "MagDi": { "Evaluation": { "MaxNewTokens": 3, "BatchSize": 2, "PromptFormat": "Plain" } } }""");
        var services = new ServiceCollection();
        services.AddMagDiEvaluation(config.GetSection(EvaluationOptions.SectionName));
        using (ServiceProvider provider = services.BuildServiceProvider())
        {
            provider.GetRequiredService<IStartupValidator>().Validate();
            using var model = TestStudent.Model();
            MagDiEvaluator evaluator = provider.GetRequiredService<IMagDiEvaluatorFactory>().Create(model, new CharTokenizer());
            EvaluationResult result = await evaluator.EvaluateAsync([new MagDi.Tasks.Question("q", "gsm8k", "1 + 1?", "2")]);
            Assert.InRange(result.Questions[0].GeneratedTokens, 0, 3); // the default MaxNewTokens (300) would run on
        }

        IConfiguration bad = Json("""{ "MagDi": { "Evaluation": { "MaxNewTokens": 0, "Samples": 4, "BatchSize": 0 } } }""");
        var badServices = new ServiceCollection();
        badServices.AddMagDiEvaluation(bad.GetSection(EvaluationOptions.SectionName));
        using ServiceProvider badProvider = badServices.BuildServiceProvider();
        var error = Assert.Throws<OptionsValidationException>(badProvider.GetRequiredService<IStartupValidator>().Validate);
        Assert.Equal(typeof(EvaluationOptions), error.OptionsType);
        Assert.Equal(3, error.Failures.Count()); // MaxNewTokens, Samples without sampling, BatchSize
    }

    [Fact]
    public async Task Dispose_OfATrainerThatLoadedItsStudent_DisposesTheModel()
    {
        MagDiTrainer trainer = MagDiTrainer.CreateBuilder()
            .UseStudentFromDirectory(fixture.BaseDirectory, "cpu", ModelDType.F32)
            .WithTrainingGraphs(fixture.Graphs)
            .WithLora(rank: 2, alpha: 4)
            .WithSchedule(epochs: 1, warmupSteps: 0, maxSteps: 1)
            .Configure(o => o.GcnHiddenSize = 8)
            .WithOutputDirectory(Path.Combine(_out, "owned"))
            .Build();
        await trainer.TrainAsync();
        var model = trainer.Adapter!.Model;
        var embedding = model.parameters().First();
        var head = trainer.Objective!.parameters().First();
        Assert.False(embedding.IsInvalid);

        trainer.Dispose();

        Assert.True(embedding.IsInvalid);
        Assert.True(head.IsInvalid);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => trainer.TrainAsync());
        trainer.Dispose(); // a second Dispose does nothing
    }

    [Fact]
    public async Task Dispose_OfATrainerGivenAModel_LeavesTheModelUsable()
    {
        using var model = TestStudent.Model();
        using (MagDiTrainer trainer = MagDiTrainer.CreateBuilder()
            .UseStudent(model, new CharTokenizer())
            .WithTrainingGraphs(TestStudent.Graphs(4))
            .WithLora(rank: 2, alpha: 4)
            .WithSchedule(epochs: 1, warmupSteps: 0, maxSteps: 1)
            .Configure(o => o.GcnHiddenSize = 8)
            .WithOutputDirectory(Path.Combine(_out, "borrowed"))
            .Build())
        {
            await trainer.TrainAsync();
        }

        Assert.All(model.parameters(), p => Assert.False(p.IsInvalid));
        var evaluator = new MagDiEvaluator(model, new CharTokenizer(), new EvaluationOptions { MaxNewTokens = 2, BatchSize = 1 });
        EvaluationResult evaluated = await evaluator.EvaluateAsync([new MagDi.Tasks.Question("q", "gsm8k", "1 + 1?", "2")]);
        Assert.Equal(1, evaluated.Count);
    }

    [Fact]
    public void Build_ValidatesBeforeLoading_AndAMissingStudentFolderIsAFailureNotALoad()
    {
        string missing = Path.Combine(_out, "no-such-student");
        var error = Assert.Throws<OptionsValidationException>(() => MagDiTrainer.CreateBuilder()
            .UseStudentFromDirectory(missing, "tpu", ModelDType.F32)
            .WithOutputDirectory(_out)
            .Build());
        Assert.Equal(3, error.Failures.Count());
        Assert.Contains(error.Failures, f => f.Contains(missing, StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("'tpu'", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Training MAGs are required", StringComparison.Ordinal));

        // A valid folder with another invalid setting: still one exception, and nothing is read (a damaged folder would
        // otherwise fail first with InvalidDataException).
        string damaged = Path.Combine(_out, "damaged");
        Directory.CreateDirectory(damaged);
        File.WriteAllText(Path.Combine(damaged, "config.json"), "{ not json");
        var first = Assert.Throws<OptionsValidationException>(() => MagDiTrainer.CreateBuilder()
            .UseStudentFromDirectory(damaged, "cpu")
            .WithTrainingGraphs(TestStudent.Graphs(2))
            .WithLossWeights(2, 0.1, 1)
            .WithOutputDirectory(_out)
            .Build());
        string only = Assert.Single(first.Failures);
        Assert.True(only.Contains("Alpha", StringComparison.Ordinal), only);
        Assert.Throws<InvalidDataException>(() => MagDiTrainer.CreateBuilder()
            .UseStudentFromDirectory(damaged, "cpu")
            .WithTrainingGraphs(TestStudent.Graphs(2))
            .WithOutputDirectory(_out)
            .Build());
    }

    private sealed class RecordingFactory : IMagDiTrainerFactory
    {
        public MagDiTrainerBuilder CreateBuilder() => MagDiTrainer.CreateBuilder();

        public MagDiTrainer Create(string studentDirectory, IEnumerable<MagDi.Graphs.InteractionGraph> trainingGraphs, IEnumerable<MagDi.Graphs.InteractionGraph>? validationGraphs = null, string device = "auto", ModelDType dtype = ModelDType.BF16) =>
            throw new NotSupportedException();
    }
}

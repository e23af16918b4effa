using System.ComponentModel;
using System.Globalization;
using MagDi.Cli.Infrastructure;
using MagDi.Generation;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MagDi.Cli.Commands;

/// <summary><c>magdi generate</c>: continue a prompt with a student (and optionally a LoRA adapter).</summary>
public sealed class GenerateCommand(CliOutput output) : AsyncCommand<GenerateCommand.Settings>
{
    /// <summary>Options of <c>generate</c>.</summary>
    public sealed class Settings : ModelSettings
    {
        /// <summary>The prompt.</summary>
        [CommandOption("--prompt <TEXT>")]
        [Description("The prompt, used as is (BOS is added when the tokenizer says so).")]
        public string? Prompt { get; set; }

        /// <summary>Maximum new tokens.</summary>
        [CommandOption("--max-new-tokens <N>")]
        [Description("Maximum tokens to generate (default 256); the prompt plus N must fit the model's max_position_embeddings.")]
        [DefaultValue(256)]
        [NumberRange(1, int.MaxValue)]
        public int MaxNewTokens { get; set; } = 256;

        /// <summary>Sampling temperature.</summary>
        [CommandOption("--temperature <T>")]
        [Description("Sampling temperature; 0 (default) is greedy decoding.")]
        [DefaultValue(0.0)]
        [NumberRange(0, double.MaxValue)]
        public double Temperature { get; set; }

        /// <summary>Nucleus sampling.</summary>
        [CommandOption("--top-p <P>")]
        [Description("Nucleus sampling: keep the smallest set of tokens with probability mass P (default 1, off).")]
        [DefaultValue(1.0)]
        [NumberRange(0, 1, MinimumExclusive = true)]
        public double TopP { get; set; } = 1.0;

        /// <summary>Top-k sampling.</summary>
        [CommandOption("--top-k <K>")]
        [Description("Keep only the K most likely tokens when sampling (default off).")]
        [NumberRange(1, int.MaxValue)]
        public int? TopK { get; set; }

        /// <summary>Random seed.</summary>
        [CommandOption("--seed <S>")]
        [Description("Seed of the sampler, for reproducible samples.")]
        public long? Seed { get; set; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            var model = ValidateModel();
            if (!model.Successful)
            {
                return model;
            }

            if (string.IsNullOrEmpty(Prompt))
            {
                return ValidationResult.Error("--prompt is required.");
            }

            // The numeric ranges are checked before parsing (NumberRange); these guard callers that bind settings in code.
            if (MaxNewTokens < 1)
            {
                return ValidationResult.Error($"--max-new-tokens must be at least 1 (got {MaxNewTokens}).");
            }

            if (!double.IsFinite(Temperature) || Temperature < 0)
            {
                return ValidationResult.Error($"--temperature must be a finite number of at least 0 (got {Temperature}).");
            }

            if (TopP is <= 0 or > 1 || double.IsNaN(TopP))
            {
                return ValidationResult.Error($"--top-p must be in (0, 1] (got {TopP}).");
            }

            return TopK is < 1 ? ValidationResult.Error($"--top-k must be at least 1 (got {TopK}).") : ValidationResult.Success();
        }
    }

    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        using var student = LoadedStudent.Load(settings);
        var prompt = student.Tokenizer.Encode(settings.Prompt!, addSpecialTokens: true);
        int maxPositions = student.Model.Config.MaxPositionEmbeddings;
        if ((long)prompt.Count + settings.MaxNewTokens > maxPositions)
        {
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"--max-new-tokens {settings.MaxNewTokens}: the prompt ({prompt.Count} tokens) plus the new tokens must fit the model's max_position_embeddings {maxPositions}; ") +
                (prompt.Count >= maxPositions ? "the prompt alone is too long." : $"at most {maxPositions - prompt.Count} new tokens fit after this prompt."));
        }

        var options = new GenerationOptions
        {
            MaxNewTokens = settings.MaxNewTokens,
            Temperature = settings.Temperature,
            TopP = settings.TopP,
            TopK = settings.TopK,
            Seed = settings.Seed,
            PadTokenId = student.Tokenizer.Special.PadId,
        };
        if (student.Model.Config.EosTokenIds.Count == 0 && student.Tokenizer.Special.EosId is int eos)
        {
            options.EosTokenIds = [eos];
        }

        var generator = new TextGenerator(student.Model);
        var result = await Task.Run(() => generator.Generate([prompt], options, cancellationToken), cancellationToken);
        // Checkpoints often pad the embedding beyond the tokenizer (e.g. to a multiple of 64); such ids have no text.
        var ids = result.Tokens[0];
        var decodable = ids.Where(id => id < student.Tokenizer.VocabularySize).ToList();
        if (decodable.Count < ids.Count)
        {
            await output.Error.WriteLineAsync($"warning: {ids.Count - decodable.Count} generated id(s) are beyond the tokenizer's {student.Tokenizer.VocabularySize} ids (padded embedding rows) and have no text; they were left out.");
        }

        // Generated text is data: control characters (terminal escapes) are shown as \uXXXX; lines and tabs are kept.
        string text = Terminal.Clean(student.Tokenizer.Decode(decodable, skipSpecialTokens: true), keepLineBreaks: true);
        await output.Out.WriteLineAsync(text);
        await output.Error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"{result.GeneratedTokenCount} token(s) generated in {result.Elapsed.TotalSeconds:F2} s ({result.FinishReasons[0]})."));
        return ExitCodes.Success;
    }
}

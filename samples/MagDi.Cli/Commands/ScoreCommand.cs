using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using MagDi.Cli.Infrastructure;
using MagDi.Generation;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MagDi.Cli.Commands;

/// <summary><c>magdi score</c>: log-probability of each token given its prefix, computed in float32.</summary>
public sealed class ScoreCommand(CliOutput output) : AsyncCommand<ScoreCommand.Settings>
{
    /// <summary>Options of <c>score</c>.</summary>
    public sealed class Settings : ModelSettings
    {
        /// <summary>The text to score.</summary>
        [CommandOption("--text <TEXT>")]
        [Description("The text to score (tokenized without special tokens unless --add-special-tokens).")]
        public string? Text { get; set; }

        /// <summary>Token ids to score.</summary>
        [CommandOption("--ids <IDS>")]
        [Description("Comma-separated token ids, e.g. 1,2,3; checked against config.json vocab_size. No tokenizer is needed.")]
        public string? Ids { get; set; }

        /// <summary>Add BOS/EOS to --text.</summary>
        [CommandOption("--add-special-tokens")]
        [Description("With --text, add BOS/EOS as the tokenizer says (so the first text token is scored too).")]
        public bool AddSpecialTokens { get; set; }

        /// <summary>Print JSON.</summary>
        [CommandOption("--json")]
        // Descriptions are Spectre markup: [[ and ]] print one bracket.
        [Description("Print {\"token_logprobs\": [[...]]}, one value per token after the first.")]
        public bool Json { get; set; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            var model = ValidateModel();
            if (!model.Successful)
            {
                return model;
            }

            if ((Text is null) == (Ids is null))
            {
                return ValidationResult.Error("Give exactly one of --text and --ids.");
            }

            return Ids is not null && ParseIds(Ids, out string? error) is null ? ValidationResult.Error(error!) : ValidationResult.Success();
        }
    }

    /// <summary>Parses <c>1,2,3</c>; returns null and a reason naming the position on failure.</summary>
    internal static int[]? ParseIds(string text, out string? error)
    {
        string[] parts = text.Split(',');
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out ids[i]))
            {
                error = $"--ids: item {i + 1} ('{Terminal.Clean(parts[i])}') is not a whole number from 0 to {int.MaxValue}.";
                return null;
            }
        }

        if (ids.Length < 2)
        {
            error = "--ids: give at least two ids (the first one is only context).";
            return null;
        }

        error = null;
        return ids;
    }

    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        // Ids need no tokenizer: the folder may hold only config.json and the weights.
        using var student = LoadedStudent.Load(settings, dtype: "f32", requireTokenizer: settings.Text is not null);
        int vocab = student.Model.Config.VocabSize;
        IReadOnlyList<int> ids;
        if (settings.Ids is not null)
        {
            ids = ParseIds(settings.Ids, out _)!;
            for (int i = 0; i < ids.Count; i++)
            {
                if (ids[i] >= vocab)
                {
                    throw new ArgumentException($"--ids: item {i + 1} ({ids[i]}) is outside the model's vocabulary: ids go from 0 to {vocab - 1} (config.json vocab_size {vocab}).");
                }
            }
        }
        else
        {
            ids = student.Tokenizer.Encode(settings.Text!, settings.AddSpecialTokens);
            if (ids.Count < 2)
            {
                throw new ArgumentException($"--text gives {ids.Count} token(s); scoring needs at least two (the first one is only context). Try --add-special-tokens.");
            }
        }

        int maxPositions = student.Model.Config.MaxPositionEmbeddings;
        if (ids.Count > maxPositions)
        {
            throw new ArgumentException(
                $"{(settings.Ids is null ? "--text" : "--ids")} gives {ids.Count} tokens; the model reads at most {maxPositions} (config.json max_position_embeddings).");
        }

        float[] logProbs = await Task.Run(() => TokenScorer.TokenLogProbs(student.Model, ids), cancellationToken);
        if (settings.Json)
        {
            await output.Out.WriteLineAsync(JsonSerializer.Serialize(new Dictionary<string, object> { ["token_logprobs"] = logProbs }));
            return ExitCodes.Success;
        }

        var table = new Table().AddColumn("position").AddColumn("id").AddColumn("token").AddColumn(new TableColumn("log p").RightAligned());
        for (int i = 1; i < ids.Count; i++)
        {
            string token = student.TokenizerOrNull is { } tokenizer && ids[i] < tokenizer.VocabularySize ? tokenizer.IdToToken(ids[i]) ?? "?" : "-";
            table.AddRow(
                i.ToString(CultureInfo.InvariantCulture),
                ids[i].ToString(CultureInfo.InvariantCulture),
                Markup.Escape(Terminal.Clean(token)),
                logProbs[i - 1].ToString("F4", CultureInfo.InvariantCulture));
        }

        output.Console.Write(table);
        double sum = logProbs.Sum(v => (double)v);
        await output.Out.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
            $"sum log p = {sum:F4} over {logProbs.Length} token(s), perplexity {Math.Exp(-sum / logProbs.Length):F3}"));
        return ExitCodes.Success;
    }
}

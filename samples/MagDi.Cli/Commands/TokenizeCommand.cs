using System.ComponentModel;
using System.Text;
using MagDi.Cli.Infrastructure;
using MagDi.Tokenization;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MagDi.Cli.Commands;

/// <summary><c>magdi tokenize</c>: token ids of a text, or of every <c>{"text": ...}</c> line of a JSON Lines file.</summary>
public sealed class TokenizeCommand(CliOutput output) : AsyncCommand<TokenizeCommand.Settings>
{
    /// <summary>Options of <c>tokenize</c>.</summary>
    public sealed class Settings : CliSettings
    {
        /// <summary>The tokenizer folder or file.</summary>
        [CommandOption("--tokenizer <PATH>")]
        [Description("A checkpoint folder or a file: tokenizer.json, tokenizer.model (SentencePiece) or vocab.json (+ merges.txt next to it).")]
        public string? Tokenizer { get; set; }

        /// <summary>One text to tokenize.</summary>
        [CommandOption("--text <TEXT>")]
        [Description("The text to tokenize.")]
        public string? Text { get; set; }

        /// <summary>A JSON Lines file of texts.</summary>
        [CommandOption("--in <FILE>")]
        // Descriptions are Spectre markup: [[ and ]] print one bracket.
        [Description("JSON Lines, one {\"text\": \"...\"} per line; each becomes one {\"ids\": [[...]]} line, in order.")]
        public string? Input { get; set; }

        /// <summary>Where to write the output.</summary>
        [CommandOption("--out <FILE>")]
        [Description("Write the output to this file instead of stdout.")]
        public string? Output { get; set; }

        /// <summary>Add BOS/EOS.</summary>
        [CommandOption("--add-special-tokens")]
        [Description("Add BOS/EOS as tokenizer_config.json says (add_bos_token, add_eos_token). Off by default.")]
        public bool AddSpecialTokens { get; set; }

        /// <summary>Print JSON.</summary>
        [CommandOption("--json")]
        [Description("With --text, print one {\"ids\": [[...]]} line instead of space-separated ids.")]
        public bool Json { get; set; }

        /// <inheritdoc />
        public override ValidationResult Validate()
        {
            if (string.IsNullOrWhiteSpace(Tokenizer))
            {
                return ValidationResult.Error("--tokenizer is required.");
            }

            if ((Text is null) == (Input is null))
            {
                return ValidationResult.Error("Give exactly one of --text and --in.");
            }

            if (Input is not null && !File.Exists(Input))
            {
                return ValidationResult.Error($"--in: file '{Terminal.Clean(Input)}' does not exist.");
            }

            // Checked before tokenizing: a bad --out must not fail after the work, or after claiming success.
            return Output is not null ? OutputTargets.File("--out", Output) : ValidationResult.Success();
        }
    }

    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        ITextTokenizer tokenizer = TokenizerLoader.Load(settings.Tokenizer!);
        TextWriter writer = output.Out;
        StreamWriter? file = null;
        string? temp = null;
        int? lines = null;
        if (settings.Output is not null)
        {
            // Write next to the target and rename at the end, so a failed run leaves no half-written file.
            temp = settings.Output + ".tmp";
            file = new StreamWriter(temp, append: false, new UTF8Encoding(false));
            writer = file;
        }

        try
        {
            if (settings.Input is not null)
            {
                using var reader = new StreamReader(settings.Input, Encoding.UTF8);
                try
                {
                    lines = await TokenizerJsonLines.TokenizeAsync(tokenizer, reader, writer, settings.AddSpecialTokens, cancellationToken);
                }
                catch (InvalidDataException e)
                {
                    throw new InvalidDataException($"{settings.Input}: {e.Message}", e);
                }
            }
            else
            {
                var ids = tokenizer.Encode(settings.Text!, settings.AddSpecialTokens);
                await writer.WriteLineAsync(settings.Json ? TokenizerJsonLines.FormatIds(ids) : string.Join(' ', ids));
            }

            if (file is not null)
            {
                await file.DisposeAsync();
                file = null;
                File.Move(temp!, settings.Output!, overwrite: true);
                temp = null;
                if (lines is not null)
                {
                    // Only now, after the output is in place.
                    await output.Error.WriteLineAsync($"Tokenized {lines} line(s) into {settings.Output}.");
                }
            }
        }
        finally
        {
            if (file is not null)
            {
                await file.DisposeAsync();
            }

            if (temp is not null && File.Exists(temp))
            {
                File.Delete(temp);
            }
        }

        return ExitCodes.Success;
    }
}

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
    public sealed class Settings : CommandSettings
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
        [Description("JSON Lines, one {\"text\": \"...\"} per line; each becomes one {\"ids\": [...]} line, in order.")]
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
        [Description("With --text, print one {\"ids\": [...]} line instead of space-separated ids.")]
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

            return Input is not null && !File.Exists(Input)
                ? ValidationResult.Error($"--in: file '{Input}' does not exist.")
                : ValidationResult.Success();
        }
    }

    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        ITextTokenizer tokenizer = TokenizerLoader.Load(settings.Tokenizer!);
        TextWriter writer = output.Out;
        StreamWriter? file = null;
        string? temp = null;
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
                // Reads raw bytes line by line: invalid UTF-8 or a non-regular file is an error naming the file and line.
                int lines = await TokenizerJsonLines.TokenizeFileAsync(tokenizer, settings.Input, writer, settings.AddSpecialTokens, cancellationToken);

                if (file is not null)
                {
                    await output.Error.WriteLineAsync($"Tokenized {lines} line(s) into {settings.Output}.");
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

using System.ComponentModel;
using System.Text;
using MagDi.Cli.Infrastructure;
using MagDi.IO;
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

            if (Output is null)
            {
                return ValidationResult.Success();
            }

            // Checked before tokenizing: a bad --out must not fail after the work, or after claiming success.
            ValidationResult target = OutputTargets.File("--out", Output);
            return target.Successful ? OutputPaths.CheckNotAnInput("--out", Output, ("--in", Input), ("--tokenizer", Tokenizer)) : target;
        }
    }

    /// <inheritdoc />
    public override async Task<int> ExecuteAsync(CommandContext context, Settings settings, CancellationToken cancellationToken)
    {
        ITextTokenizer tokenizer = TokenizerLoader.Load(settings.Tokenizer!);
        if (settings.Output is null)
        {
            await TokenizeAsync(tokenizer, settings, output.Out, cancellationToken);
            return ExitCodes.Success;
        }

        // The output appears only once it is complete (AtomicFile): a failure or a kill leaves the old file, and the
        // temporary file has a unique name, so it can never be the input.
        AtomicFile.DeleteLeftovers(Path.GetDirectoryName(Path.GetFullPath(settings.Output))!, Path.GetFileName(settings.Output));
        int lines = 0;
        await AtomicFile.WriteAsync(settings.Output, async (stream, ct) =>
        {
            var writer = new StreamWriter(stream, new UTF8Encoding(false), bufferSize: 1 << 16, leaveOpen: true);
            await using (writer)
            {
                lines = await TokenizeAsync(tokenizer, settings, writer, ct);
            }
        }, cancellationToken);
        if (settings.Input is not null)
        {
            await output.Error.WriteLineAsync($"Tokenized {lines} line(s) into {settings.Output}.");
        }

        return ExitCodes.Success;
    }

    /// <summary>Writes the ids of <c>--text</c> or of every line of <c>--in</c>; returns the number of lines of <c>--in</c>.</summary>
    private static async Task<int> TokenizeAsync(ITextTokenizer tokenizer, Settings settings, TextWriter writer, CancellationToken cancellationToken)
    {
        if (settings.Input is null)
        {
            var ids = tokenizer.Encode(settings.Text!, settings.AddSpecialTokens);
            await writer.WriteLineAsync(settings.Json ? TokenizerJsonLines.FormatIds(ids) : string.Join(' ', ids));
            return 0;
        }

        // Reads raw bytes line by line: invalid UTF-8 or a non-regular file is an error naming the file and line.
        return await TokenizerJsonLines.TokenizeFileAsync(tokenizer, settings.Input, writer, settings.AddSpecialTokens, cancellationToken);
    }
}

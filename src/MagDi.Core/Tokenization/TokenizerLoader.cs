namespace MagDi.Tokenization;

/// <summary>
/// Loads the tokenizer of a checkpoint: a folder or a file. In a folder the first of these wins:
/// <c>tokenizer.json</c> (Hugging Face), <c>vocab.json</c> + <c>merges.txt</c> (GPT-2), <c>tokenizer.model</c>
/// (SentencePiece). A <c>tokenizer_config.json</c> next to it supplies special tokens, <c>add_bos_token</c>,
/// <c>add_eos_token</c>, the pad token and the chat template.
/// </summary>
public static class TokenizerLoader
{
    /// <summary>Loads a tokenizer from a checkpoint folder or a tokenizer file.</summary>
    /// <param name="path">A folder, or a <c>tokenizer.json</c>, <c>tokenizer.model</c>, <c>vocab.json</c> or <c>merges.txt</c> file.</param>
    /// <returns>The tokenizer.</returns>
    /// <exception cref="FileNotFoundException">No tokenizer file was found.</exception>
    /// <exception cref="InvalidDataException">A file is malformed (the message names the file and the element).</exception>
    /// <exception cref="NotSupportedException">The tokenizer uses a feature MagDi does not implement exactly (the message names the file and the feature).</exception>
    public static ITextTokenizer Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string full = Path.GetFullPath(path);
        string folder;
        string? file = null;
        if (Directory.Exists(full))
        {
            folder = full;
        }
        else if (File.Exists(full))
        {
            folder = Path.GetDirectoryName(full)!;
            file = full;
        }
        else
        {
            throw new FileNotFoundException($"Tokenizer path not found: {full}", full);
        }

        string configPath = Path.Combine(folder, "tokenizer_config.json");
        bool hasConfig = File.Exists(configPath);
        var config = hasConfig ? TokenizerConfig.Load(configPath) : TokenizerConfig.Empty;
        string? configOrNull = hasConfig ? configPath : null;

        string name = file is null ? string.Empty : Path.GetFileName(file);
        string tokenizerJson = Path.Combine(folder, "tokenizer.json");
        string vocabJson = Path.Combine(folder, "vocab.json");
        string mergesTxt = Path.Combine(folder, "merges.txt");
        string spModel = Path.Combine(folder, "tokenizer.model");

        if (file is not null)
        {
            if (name is "vocab.json" or "merges.txt")
            {
                return LoadGpt2(vocabJson, mergesTxt, config, configOrNull);
            }

            if (file.EndsWith(".model", StringComparison.OrdinalIgnoreCase))
            {
                return SentencePieceModelReader.Read(file, config);
            }

            if (file.EndsWith(".json", StringComparison.OrdinalIgnoreCase) && name != "tokenizer_config.json")
            {
                return TokenizerJsonReader.Read(file, config, configOrNull);
            }

            throw new NotSupportedException($"{file}: not a tokenizer file; expected tokenizer.json, tokenizer.model, vocab.json or merges.txt.");
        }

        if (File.Exists(tokenizerJson))
        {
            return TokenizerJsonReader.Read(tokenizerJson, config, configOrNull);
        }

        if (File.Exists(vocabJson) || File.Exists(mergesTxt))
        {
            return LoadGpt2(vocabJson, mergesTxt, config, configOrNull);
        }

        if (File.Exists(spModel))
        {
            return SentencePieceModelReader.Read(spModel, config);
        }

        throw new FileNotFoundException($"{folder}: no tokenizer found; looked for tokenizer.json, vocab.json + merges.txt and tokenizer.model.");
    }

    private static HuggingFaceTokenizer LoadGpt2(string vocabJson, string mergesTxt, TokenizerConfig config, string? configPath)
    {
        foreach (string f in new[] { vocabJson, mergesTxt })
        {
            if (!File.Exists(f))
            {
                throw new FileNotFoundException($"{f}: missing; a GPT-2 style tokenizer needs both vocab.json and merges.txt.", f);
            }
        }

        return TokenizerJsonReader.ReadGpt2(vocabJson, mergesTxt, config, configPath);
    }
}

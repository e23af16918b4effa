using System.ComponentModel;
using MagDi.Lora;
using MagDi.Modeling;
using MagDi.Runtime;
using MagDi.Tokenization;
using MagDi.Training;
using Spectre.Console;
using Spectre.Console.Cli;

namespace MagDi.Cli.Infrastructure;

/// <summary>Options of the verbs that load a student checkpoint: <c>--model</c>, <c>--adapter</c>, <c>--device</c>, <c>--dtype</c>.</summary>
public class ModelSettings : CliSettings
{
    /// <summary>The Hugging Face checkpoint folder.</summary>
    [CommandOption("--model <DIR>")]
    [Description("Hugging Face checkpoint folder: config.json, model.safetensors (or shards) and the tokenizer files.")]
    public string? Model { get; set; }

    /// <summary>A LoRA adapter folder (PEFT layout).</summary>
    [CommandOption("--adapter <DIR>")]
    [Description("LoRA adapter folder in the PEFT layout (adapter_config.json + adapter_model.safetensors), e.g. a magdi train output.")]
    public string? Adapter { get; set; }

    /// <summary>The device.</summary>
    [CommandOption("--device <DEVICE>")]
    [Description("auto (default), cpu, cuda or cuda:N.")]
    [DefaultValue("auto")]
    public string Device { get; set; } = "auto";

    /// <summary>The dtype of the base weights.</summary>
    [CommandOption("--dtype <DTYPE>")]
    [Description("f32 or bf16 (default; about 6x faster than f32 on CPU).")]
    [DefaultValue("bf16")]
    public string DType { get; set; } = "bf16";

    /// <summary>Checks <c>--model</c>, <c>--adapter</c> and <c>--dtype</c>.</summary>
    /// <returns>The first problem, or success.</returns>
    protected ValidationResult ValidateModel()
    {
        if (string.IsNullOrWhiteSpace(Model))
        {
            return ValidationResult.Error("--model is required.");
        }

        if (!Directory.Exists(Model))
        {
            return ValidationResult.Error($"--model: folder '{Model}' does not exist.");
        }

        if (Adapter is not null && !Directory.Exists(Adapter))
        {
            return ValidationResult.Error($"--adapter: folder '{Adapter}' does not exist.");
        }

        return CliChoices.CpuDType.Check(DType);
    }
}

/// <summary>A loaded student: model (with the adapter applied, if any) and its tokenizer (when the folder has one).</summary>
/// <param name="Model">The model.</param>
/// <param name="TokenizerOrNull">The tokenizer from the model folder, or null when it has none and none was required.</param>
/// <param name="Adapter">The applied adapter, or null.</param>
internal sealed record LoadedStudent(CausalLanguageModel Model, ITextTokenizer? TokenizerOrNull, LoraAdapter? Adapter) : IDisposable
{
    private static readonly string[] TokenizerFiles = ["tokenizer.json", "tokenizer.model", "vocab.json", "merges.txt"];

    /// <summary>The tokenizer (loaded whenever it was required).</summary>
    public ITextTokenizer Tokenizer => TokenizerOrNull ?? throw new InvalidOperationException("The student was loaded without a tokenizer.");

    /// <summary>Loads the checkpoint of <paramref name="settings"/>, optionally forcing a dtype.</summary>
    /// <param name="settings">--model, --adapter, --device, --dtype.</param>
    /// <param name="dtype">A dtype that overrides --dtype.</param>
    /// <param name="requireTokenizer">
    /// Fail when the folder has no tokenizer files; when false (score --ids), a folder without any loads without a tokenizer.
    /// </param>
    public static LoadedStudent Load(ModelSettings settings, string? dtype = null, bool requireTokenizer = true)
    {
        TorchRuntime.EnsureInitialized();
        ITextTokenizer? tokenizer = requireTokenizer || TokenizerFiles.Any(f => File.Exists(Path.Combine(settings.Model!, f)))
            ? TokenizerLoader.Load(settings.Model!)
            : null;
        var model = CausalLanguageModel.FromPretrained(settings.Model!, new ModelLoadOptions
        {
            Device = TorchRuntime.ResolveDevice(settings.Device),
            DType = CliChoices.DType.Parse(dtype ?? settings.DType).ToScalarType(),
        });
        if (tokenizer is not null && tokenizer.VocabularySize > model.Config.VocabSize)
        {
            model.Dispose();
            throw new ArgumentException($"--model '{settings.Model}': the tokenizer has {tokenizer.VocabularySize} ids but config.json vocab_size is {model.Config.VocabSize}.");
        }

        LoraAdapter? adapter = null;
        if (settings.Adapter is not null)
        {
            try
            {
                adapter = LoraAdapter.Load(model, settings.Adapter);
            }
            catch
            {
                model.Dispose();
                throw;
            }
        }

        model.eval();
        return new LoadedStudent(model, tokenizer, adapter);
    }

    /// <inheritdoc />
    public void Dispose() => Model.Dispose();
}

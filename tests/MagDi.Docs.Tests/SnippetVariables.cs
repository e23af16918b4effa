namespace MagDi.Docs.Tests;

/// <summary>
/// The variables documentation snippets may use without declaring them: what a reader already has in scope where the
/// snippet goes (a logger factory, the model they loaded, a cancellation token). One reviewed table for every file,
/// so a name means the same type everywhere; a snippet that uses any other undeclared name fails the docs test, and
/// an entry that no snippet uses fails it too. Types are written fully qualified: a snippet gets no using directive
/// from this table.
/// </summary>
internal static class SnippetVariables
{
    private const string Graph = "global::MagDi.Graphs.InteractionGraph";
    private const string Tensor = "global::TorchSharp.torch.Tensor";

    public static readonly IReadOnlyDictionary<string, string> Types = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        // Hosting and Microsoft.Extensions.*
        ["builder"] = "global::Microsoft.Extensions.Hosting.IHostApplicationBuilder",
        ["cache"] = "global::Microsoft.Extensions.Caching.Distributed.IDistributedCache",
        ["cancellationToken"] = "global::System.Threading.CancellationToken",
        ["configuration"] = "global::Microsoft.Extensions.Configuration.IConfiguration",
        ["ct"] = "global::System.Threading.CancellationToken",
        ["loggerFactory"] = "global::Microsoft.Extensions.Logging.ILoggerFactory",
        ["ollama"] = "global::Microsoft.Extensions.AI.IChatClient",
        ["openAI"] = "global::OpenAI.OpenAIClient",
        ["serviceProvider"] = "global::System.IServiceProvider",
        ["services"] = "global::Microsoft.Extensions.DependencyInjection.IServiceCollection",

        // Data: questions, predictions, MAGs, texts
        ["asyncGraphs"] = $"global::System.Collections.Generic.IAsyncEnumerable<{Graph}>",
        ["batchMags"] = $"global::System.Collections.Generic.IReadOnlyList<{Graph}>",
        ["corpusLines"] = "global::System.Collections.Generic.IReadOnlyList<string>",
        ["graph"] = Graph,
        ["graphs"] = $"global::System.Collections.Generic.IReadOnlyList<{Graph}>",
        ["mags"] = "global::MagDi.Graphs.IO.MagReadResult",
        ["path"] = "string",
        ["predictions"] = "global::System.Collections.Generic.IReadOnlyList<global::MagDi.Tasks.Prediction>",
        ["questions"] = "global::System.Collections.Generic.IReadOnlyList<global::MagDi.Tasks.Question>",
        ["testMags"] = $"global::System.Collections.Generic.IReadOnlyList<{Graph}>",
        ["testQuestions"] = "global::System.Collections.Generic.IReadOnlyList<global::MagDi.Tasks.Question>",
        ["text"] = "string",
        ["texts"] = "global::System.Collections.Generic.IReadOnlyList<string>",
        ["trainMags"] = $"global::System.Collections.Generic.IReadOnlyList<{Graph}>",

        // Models, tokenizers, tensors
        ["addSpecialTokens"] = "bool",
        ["config"] = "global::MagDi.Modeling.ModelConfig",
        ["d"] = "int",
        ["hiddenStates"] = Tensor,
        ["ids"] = Tensor,
        ["labelLabels"] = Tensor,
        ["mask"] = Tensor,
        ["model"] = "global::MagDi.Modeling.CausalLanguageModel",
        ["promptIds"] = "global::System.Collections.Generic.IReadOnlyList<int>",
        ["rationaleLabels"] = Tensor,
        ["student"] = "global::MagDi.Modeling.CausalLanguageModel",
        ["targetMask"] = Tensor,
        ["tokenIds"] = "global::System.Collections.Generic.IReadOnlyList<int>",
        ["tokenizer"] = "global::MagDi.Tokenization.ITextTokenizer",

        // Training
        ["progress"] = "global::System.IProgress<global::MagDi.Training.Experiments.ExperimentProgress>",
        ["runSeed"] = "int",
        ["step"] = "int",
    };
}

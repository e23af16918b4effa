using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Modeling;

/// <summary>Output of <see cref="CausalLanguageModel"/>.</summary>
public sealed class CausalLMOutput
{
    internal CausalLMOutput(Tensor logits, Tensor? lastHiddenState, KvCache? cache)
    {
        Logits = logits;
        LastHiddenState = lastHiddenState;
        Cache = cache;
    }

    /// <summary>Next-token logits [B,T,V] in the model dtype ([B,n,V] for <see cref="CausalLMInput.LogitsToKeep"/> n, empty for 0).</summary>
    public Tensor Logits { get; }

    /// <summary>Hidden states after the final norm [B,T,d] (Hugging Face <c>hidden_states[-1]</c>), when requested.</summary>
    public Tensor? LastHiddenState { get; }

    /// <summary>The cache passed in, advanced past this input.</summary>
    public KvCache? Cache { get; }
}

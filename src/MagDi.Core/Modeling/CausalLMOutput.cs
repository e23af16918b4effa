using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Modeling;

/// <summary>Output of <see cref="CausalLanguageModel"/>.</summary>
/// <param name="Logits">Next-token logits [B,T,V] in the model dtype ([B,n,V] for <see cref="CausalLMInput.LogitsToKeep"/> n, empty for 0).</param>
/// <param name="LastHiddenState">Hidden states after the final norm [B,T,d] (Hugging Face <c>hidden_states[-1]</c>), when requested.</param>
/// <param name="Cache">The cache passed in, advanced past this input.</param>
public sealed record CausalLMOutput(Tensor Logits, Tensor? LastHiddenState, KvCache? Cache);

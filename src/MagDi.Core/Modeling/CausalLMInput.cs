using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Modeling;

/// <summary>Input of <see cref="CausalLanguageModel"/>.</summary>
/// <param name="InputIds">Token ids [B,T] (int64).</param>
/// <param name="AttentionMask">
/// 1 for a token, 0 for padding; [B,T], or [B,past+T] when a <paramref name="Cache"/> already holds past positions.
/// Left and right padding both work; position ids are derived from the mask (so left-padded rows start at 0).
/// </param>
/// <param name="Cache">Optional KV cache; the forward writes at <see cref="KvCache.Length"/> and advances it.</param>
/// <param name="OutputHiddenStates">Also return the final-norm hidden states.</param>
/// <param name="PositionIds">Explicit position ids [B,T]; overrides the ones derived from the mask.</param>
/// <param name="LogitsToKeep">
/// Which positions get logits (Hugging Face <c>logits_to_keep</c>): null for all [B,T,V] (default); n &gt; 0 for the last
/// n positions only [B,n,V] (generation needs 1); 0 for none ([B,0,V]), when the caller projects selected hidden states itself
/// with <see cref="CausalLanguageModel.ComputeLogits"/> (the output head is the largest single matmul for big
/// vocabularies, and [B,T,V] logits the largest activation).
/// </param>
public sealed record CausalLMInput(Tensor InputIds, Tensor? AttentionMask = null, KvCache? Cache = null, bool OutputHiddenStates = false, Tensor? PositionIds = null, int? LogitsToKeep = null);

using TorchSharp;
using static TorchSharp.torch;

namespace MagDi.Modeling;

/// <summary>The boolean attention mask of one forward: causal order, sliding window and padding.</summary>
internal static class AttentionMask
{
    /// <summary>
    /// Mask bool [B|1, 1, T, S], true where query t (absolute position past + t) may attend key s; or null when the
    /// causal order alone describes the forward (no padding that matters, no active window, no cached past under
    /// several queries), so that a fused kernel can take its causal flag, or decoding needs no mask at all.
    /// </summary>
    /// <param name="padding">1 for a token, 0 for padding, [B, S]; or null.</param>
    /// <param name="past">Positions already in the KV cache.</param>
    /// <param name="t">Query tokens in this forward.</param>
    /// <param name="window">The sliding window, or null.</param>
    /// <param name="device">Device of the mask.</param>
    /// <param name="always">Build the mask even when causal order alone would do (eager attention has no causal flag).</param>
    public static Tensor? Build(Tensor? padding, long past, long t, int? window, Device device, bool always)
    {
        long s = past + t;
        bool hasPadding = padding is not null && padding.min().item<long>() == 0;
        if (hasPadding && past == 0 && s > 1 && !padding!.narrow(1, 1, s - 1).gt(padding.narrow(1, 0, s - 1)).any().item<bool>())
        {
            // Right padding only (no 0 -> 1 step in any row): under the causal mask a real token never sees a later pad,
            // so the fast causal kernel gives identical results for every real token.
            hasPadding = false;
        }

        bool windowActive = window is not null && s > window;
        if (!(hasPadding || windowActive || (past > 0 && t > 1) || always))
        {
            return null;
        }

        Tensor q = Scalars.Arange(past, s, ScalarType.Int64, device).unsqueeze(1); // [T,1] absolute query positions
        Tensor k = Scalars.Arange(0, s, ScalarType.Int64, device).unsqueeze(0);    // [1,S]
        Tensor allowed = k <= q;
        if (windowActive)
        {
            allowed = allowed.logical_and((q - k).LessThan(window!.Value));
        }

        allowed = allowed.unsqueeze(0).unsqueeze(0);                                       // [1,1,T,S]
        if (hasPadding)
        {
            allowed = allowed.logical_and(padding!.to_type(ScalarType.Bool).unsqueeze(1).unsqueeze(1)); // [B,1,T,S]
        }

        // Padding queries attend to themselves so their (ignored) rows stay finite.
        return allowed.logical_or((k == q).unsqueeze(0).unsqueeze(0));
    }
}

using MagDi.Modeling;
using MagDi.Runtime;
using static TorchSharp.torch;

namespace MagDi.Generation;

/// <summary>Per-token log-probabilities of given token ids under a model (the library side of <c>magdi score</c>).</summary>
public static class TokenScorer
{
    /// <summary>
    /// log p(ids[i] | ids[..i]) for i = 1..n-1, computed in float32 from the model's logits (one value per token after the first).
    /// </summary>
    /// <exception cref="ArgumentException">Fewer than two ids, more than max_position_embeddings, or an id outside the vocabulary.</exception>
    /// <exception cref="NonFiniteException">The logits hold NaN or infinite values; the message names the position and any non-finite weights.</exception>
    public static float[] TokenLogProbs(CausalLanguageModel model, IReadOnlyList<int> ids)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(ids);
        return TokenLogProbs(model, [ids])[0];
    }

    /// <summary>Batched <see cref="TokenLogProbs(CausalLanguageModel, IReadOnlyList{int})"/>: sequences are right-padded into one forward.</summary>
    /// <exception cref="ArgumentException">A sequence has fewer than two ids or more than max_position_embeddings, or an id outside the vocabulary.</exception>
    /// <exception cref="NonFiniteException">The logits hold NaN or infinite values; the message names the sequence, the position and any non-finite weights.</exception>
    public static IReadOnlyList<float[]> TokenLogProbs(CausalLanguageModel model, IReadOnlyList<IReadOnlyList<int>> sequences)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(sequences);
        int vocab = model.Config.VocabSize;
        for (int s = 0; s < sequences.Count; s++)
        {
            if (sequences[s] is null || sequences[s].Count < 2)
            {
                throw new ArgumentException($"Sequence {s} needs at least two token ids to score.", nameof(sequences));
            }

            if (sequences[s].Count > model.Config.MaxPositionEmbeddings)
            {
                throw new ArgumentException($"Sequence {s} has {sequences[s].Count} token ids, more than max_position_embeddings {model.Config.MaxPositionEmbeddings}.", nameof(sequences));
            }

            for (int i = 0; i < sequences[s].Count; i++)
            {
                if (sequences[s][i] < 0 || sequences[s][i] >= vocab)
                {
                    throw new ArgumentException($"Sequence {s}, position {i}: token id {sequences[s][i]} is outside the vocabulary [0, {vocab}).", nameof(sequences));
                }
            }
        }

        TorchRuntime.EnsureInitialized();
        bool wasTraining = model.training;
        model.eval();
        try
        {
            using var noGrad = no_grad();
            using var scope = NewDisposeScope();
            int batch = sequences.Count, length = sequences.Max(s => s.Count);
            var idsArray = new long[batch * length];
            var maskArray = new long[batch * length];
            for (int b = 0; b < batch; b++)
            {
                for (int i = 0; i < sequences[b].Count; i++)
                {
                    idsArray[(b * length) + i] = sequences[b][i];
                    maskArray[(b * length) + i] = 1;
                }
            }

            Tensor ids = tensor(idsArray, [batch, length], device: model.Device);
            Tensor mask = tensor(maskArray, [batch, length], device: model.Device);
            Tensor logits = model.call(new CausalLMInput(ids, mask)).Logits.to_type(ScalarType.Float32); // [B,L,V]
            Tensor logProbs = logits.narrow(1, 0, length - 1).log_softmax(-1);                            // [B,L-1,V]
            Tensor picked = logProbs.gather(-1, ids.narrow(1, 1, length - 1).unsqueeze(-1)).squeeze(-1).cpu(); // [B,L-1]
            float[] flat = picked.data<float>().ToArray();
            for (int b = 0; b < batch; b++)
            {
                for (int i = 0; i < sequences[b].Count - 1; i++)
                {
                    // Finite logits always give a finite log-probability; NaN or infinite logits never become a NaN score.
                    if (!float.IsFinite(flat[(b * (length - 1)) + i]))
                    {
                        throw NonFiniteException.ForModel(
                            model,
                            "logits",
                            $"The logits of sequence {b} at position {i} (scoring token {i + 1}, id {sequences[b][i + 1]})");
                    }
                }
            }

            return Enumerable.Range(0, batch).Select(b => flat.AsSpan(b * (length - 1), sequences[b].Count - 1).ToArray()).ToArray();
        }
        finally
        {
            if (wasTraining)
            {
                model.train();
            }
        }
    }
}

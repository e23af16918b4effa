using MagDi.Modeling;
using static TorchSharp.torch;

namespace MagDi.Core.Tests.Modeling;

/// <summary>
/// A deliberately plain Llama/Mistral/Qwen2 forward written from the Hugging Face equations, independent of the
/// model code: per-head loops, explicit score matrices, explicit masks, float64 throughout, weights read by key.
/// </summary>
internal static class ReferenceDecoder
{
    /// <summary>Logits [T,V] for one unpadded sequence.</summary>
    public static Tensor Logits(ModelConfig c, IReadOnlyDictionary<string, Tensor> w, long[] ids)
    {
        Tensor W(string key) => w[key].detach().to_type(ScalarType.Float64);
        int t = ids.Length, heads = c.NumAttentionHeads, kvHeads = c.NumKeyValueHeads ?? heads;
        int hd = c.HeadDim ?? c.HiddenSize / heads;
        Tensor x = W("model.embed_tokens.weight").index_select(0, tensor(ids)); // [T,d]
        for (int layer = 0; layer < c.NumHiddenLayers; layer++)
        {
            string p = $"model.layers.{layer}.";
            Tensor h = RmsNorm(x, W(p + "input_layernorm.weight"), c.RmsNormEps);
            Tensor q = Linear(h, W, p + "self_attn.q_proj");
            Tensor k = Linear(h, W, p + "self_attn.k_proj");
            Tensor v = Linear(h, W, p + "self_attn.v_proj");
            var outputs = new List<Tensor>();
            for (int head = 0; head < heads; head++)
            {
                int kvHead = head / (heads / kvHeads);
                Tensor qh = Rotate(q.narrow(1, head * hd, hd), c.RopeTheta);
                Tensor kh = Rotate(k.narrow(1, kvHead * hd, hd), c.RopeTheta);
                Tensor vh = v.narrow(1, kvHead * hd, hd);
                var scores = (qh.matmul(kh.t()) / Math.Sqrt(hd)).clone(); // [T,T]
                for (int i = 0; i < t; i++)
                {
                    for (int j = 0; j < t; j++)
                    {
                        bool visible = j <= i && (c.ModelType != "mistral" || c.SlidingWindow is null || i - j < c.SlidingWindow);
                        if (!visible)
                        {
                            scores[i, j] = double.NegativeInfinity;
                        }
                    }
                }

                outputs.Add(scores.softmax(-1).matmul(vh));
            }

            x = x + Linear(cat(outputs, 1), W, p + "self_attn.o_proj");
            Tensor m = RmsNorm(x, W(p + "post_attention_layernorm.weight"), c.RmsNormEps);
            Tensor gate = Linear(m, W, p + "mlp.gate_proj");
            Tensor up = Linear(m, W, p + "mlp.up_proj");
            x = x + Linear(gate * gate.sigmoid() * up, W, p + "mlp.down_proj");
        }

        x = RmsNorm(x, W("model.norm.weight"), c.RmsNormEps);
        Tensor head2 = c.TieWordEmbeddings ? W("model.embed_tokens.weight") : W("lm_head.weight");
        return x.matmul(head2.t());

        Tensor Linear(Tensor input, Func<string, Tensor> weights, string name)
        {
            Tensor y = input.matmul(weights(name + ".weight").t());
            return w.ContainsKey(name + ".bias") ? y + weights(name + ".bias") : y;
        }
    }

    private static Tensor RmsNorm(Tensor x, Tensor weight, double eps) =>
        x / (x.pow(2).mean([-1], keepdim: true) + eps).sqrt() * weight;

    /// <summary>HF rotate-half RoPE for positions 0..T-1 of x [T,hd], computed element by element.</summary>
    private static Tensor Rotate(Tensor x, double theta)
    {
        long t = x.shape[0], hd = x.shape[1], half = hd / 2;
        double[] src = x.contiguous().data<double>().ToArray();
        var dst = new double[src.Length];
        for (long pos = 0; pos < t; pos++)
        {
            for (long i = 0; i < half; i++)
            {
                double angle = pos / Math.Pow(theta, 2.0 * i / hd);
                double a = src[pos * hd + i], b = src[pos * hd + i + half];
                dst[pos * hd + i] = a * Math.Cos(angle) - b * Math.Sin(angle);
                dst[pos * hd + i + half] = b * Math.Cos(angle) + a * Math.Sin(angle);
            }
        }

        return tensor(dst, [t, hd], ScalarType.Float64);
    }
}

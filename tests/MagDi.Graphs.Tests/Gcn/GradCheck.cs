using static TorchSharp.torch;

namespace MagDi.Graphs.Tests.Gcn;

/// <summary>Finite-difference gradient checks in double precision (central differences).</summary>
internal static class GradCheck
{
    /// <summary>
    /// Compares the autograd gradient of the scalar <paramref name="f"/> with respect to every element of every leaf
    /// with (f(x + ε) − f(x − ε)) / 2ε. Leaves must be float64 and require grad.
    /// </summary>
    public static void AssertGradients(Func<Tensor> f, IReadOnlyList<Tensor> leaves, double eps = 1e-6, double tolerance = 1e-6)
    {
        foreach (Tensor leaf in leaves)
        {
            Assert.Equal(ScalarType.Float64, leaf.dtype);
            Assert.True(leaf.requires_grad);
            leaf.grad?.zero_();
        }

        using (Tensor y = f())
        {
            Assert.Equal(0, y.dim());
            y.backward();
        }

        for (int k = 0; k < leaves.Count; k++)
        {
            Tensor leaf = leaves[k];
            double[] analytic = leaf.grad is null ? new double[leaf.numel()] : leaf.grad.contiguous().data<double>().ToArray();
            using var noGrad = no_grad();
            Tensor flat = leaf.view(-1);
            for (long j = 0; j < flat.shape[0]; j++)
            {
                double original = flat[j].item<double>();
                flat[j] = original + eps;
                double plus;
                using (Tensor y = f())
                {
                    plus = y.item<double>();
                }

                flat[j] = original - eps;
                double minus;
                using (Tensor y = f())
                {
                    minus = y.item<double>();
                }

                flat[j] = original;
                double numeric = (plus - minus) / (2 * eps);
                double scale = Math.Max(1.0, Math.Abs(numeric));
                Assert.True(
                    Math.Abs(numeric - analytic[j]) <= tolerance * scale,
                    $"leaf {k}, element {j}: autograd {analytic[j]:R}, finite difference {numeric:R}");
            }
        }
    }
}

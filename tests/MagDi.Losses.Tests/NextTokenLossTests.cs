namespace MagDi.Losses.Tests;

public class NextTokenLossTests
{
    [Fact]
    public void Compute_ShiftsByOneAndAveragesOverTargetTokens()
    {
        using var scope = NewDisposeScope();
        // V = 2. Position 0 predicts label[1] = 1 with logits (0, 0): -log(1/2).
        // Position 1 predicts label[2] = 0 with logits (ln 3, 0): -log(3/4). Position 2's logits are unused.
        Tensor logits = tensor(new float[] { 0, 0, MathF.Log(3), 0, 5, -5 }).reshape(1, 3, 2);
        Tensor labels = tensor(new long[,] { { 1, 1, 0 } });

        NextTokenLossResult r = NextTokenLoss.Compute(logits, labels);

        Assert.Equal(2, r.TokenCount);
        Assert.Equal((Math.Log(2) + Math.Log(4.0 / 3.0)) / 2, r.Loss.item<float>(), 5);
    }

    [Fact]
    public void IgnoredLabels_AreLeftOut()
    {
        using var scope = NewDisposeScope();
        Tensor logits = tensor(new float[] { 0, 0, MathF.Log(3), 0, 5, -5 }).reshape(1, 3, 2);
        Tensor labels = tensor(new long[,] { { 1, NextTokenLoss.IgnoreIndex, 0 } });

        NextTokenLossResult r = NextTokenLoss.Compute(logits, labels);

        Assert.Equal(1, r.TokenCount);
        Assert.Equal(Math.Log(4.0 / 3.0), r.Loss.item<float>(), 5);
    }

    [Fact]
    public void BuildLabels_MasksPromptAndPadding_OrOnlyPaddingWhenPromptIncluded()
    {
        using var scope = NewDisposeScope();
        // Right padded: prompt 11 12, answer 13 14, padding.
        Tensor ids = tensor(new long[,] { { 11, 12, 13, 14, 0 } });
        Tensor mask = tensor(new long[,] { { 1, 1, 1, 1, 0 } });
        Tensor target = tensor(new long[,] { { 0, 0, 1, 1, 0 } });

        long[] answerOnly = NextTokenLoss.BuildLabels(ids, mask, target).data<long>().ToArray();
        long[] withPrompt = NextTokenLoss.BuildLabels(ids, mask, null, includePromptTokens: true).data<long>().ToArray();

        Assert.Equal([-100, -100, 13, 14, -100], answerOnly);
        // The first token has nothing before it, so it is never a target.
        Assert.Equal([-100, 12, 13, 14, -100], withPrompt);

        // Left padded: the first real token is not predicted from the padding before it.
        Tensor leftIds = tensor(new long[,] { { 0, 0, 11, 12, 13 } });
        Tensor leftMask = tensor(new long[,] { { 0, 0, 1, 1, 1 } });
        Assert.Equal([-100, -100, -100, 12, 13], NextTokenLoss.BuildLabels(leftIds, leftMask, null, includePromptTokens: true).data<long>().ToArray());
    }

    [Fact]
    public void NonContiguousLogits_GiveTheSameLoss()
    {
        using var scope = NewDisposeScope();
        Tensor logits = randn(2, 5, 7);
        Tensor transposed = logits.transpose(0, 1).contiguous().transpose(0, 1);   // same values, other strides
        Tensor labels = randint(0, 7, [2, 5], dtype: ScalarType.Int64);

        Assert.False(transposed.is_contiguous());
        Assert.Equal(NextTokenLoss.Compute(logits, labels).Loss.item<float>(), NextTokenLoss.Compute(transposed, labels).Loss.item<float>(), 6);
    }

    [Fact]
    public void BuildLabels_WithoutTargetMask_IsRejectedUnlessPromptIncluded()
    {
        using var scope = NewDisposeScope();
        var ex = Assert.Throws<ArgumentNullException>(() => NextTokenLoss.BuildLabels(ones(1, 3, dtype: ScalarType.Int64), ones(1, 3), null));
        Assert.Contains("targetMask", ex.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void LeftAndRightPadding_GiveTheSameLoss(bool includePrompt)
    {
        using var scope = NewDisposeScope();
        // A position-independent toy student: logits depend only on the current token.
        var embedding = nn.Embedding(20, 8);
        var head = nn.Linear(8, 20);
        long[][] rows = [[3, 4, 5, 6, 7], [8, 9, 10], [11, 12, 13, 14]];
        int[] promptLengths = [2, 1, 3];
        const int T = 6;

        (Tensor Ids, Tensor Mask, Tensor Target) Pad(bool left)
        {
            var ids = new long[rows.Length, T];
            var mask = new long[rows.Length, T];
            var target = new long[rows.Length, T];
            for (int b = 0; b < rows.Length; b++)
            {
                int start = left ? T - rows[b].Length : 0;
                for (int i = 0; i < rows[b].Length; i++)
                {
                    ids[b, start + i] = rows[b][i];
                    mask[b, start + i] = 1;
                    target[b, start + i] = i >= promptLengths[b] ? 1 : 0;
                }
            }

            return (tensor(ids), tensor(mask), tensor(target));
        }

        double Loss(bool left)
        {
            var (ids, mask, target) = Pad(left);
            Tensor labels = NextTokenLoss.BuildLabels(ids, mask, target, includePrompt);
            return NextTokenLoss.Compute(head.forward(embedding.forward(ids)), labels).Loss.item<float>();
        }

        Assert.Equal(Loss(left: false), Loss(left: true), 5);
    }

    [Fact]
    public void NoTargetTokens_GivesConnectedZeroNotNaN()
    {
        using var scope = NewDisposeScope();
        Tensor logits = randn(2, 3, 5).requires_grad_(true);
        Tensor labels = full(2, 3, NextTokenLoss.IgnoreIndex, dtype: ScalarType.Int64);

        NextTokenLossResult r = NextTokenLoss.Compute(logits, labels);

        Assert.Equal(0, r.TokenCount);
        Assert.Equal(0f, r.Loss.item<float>());
        r.Loss.backward();
        Assert.Equal(0f, logits.grad!.abs().sum().item<float>());
    }

    [Fact]
    public void Bf16Logits_AreReducedInFloat32()
    {
        using var scope = NewDisposeScope();
        Tensor logits = randn(2, 4, 50);
        Tensor labels = randint(0, 50, [2, 4], dtype: ScalarType.Int64);

        NextTokenLossResult half = NextTokenLoss.Compute(logits.to(ScalarType.BFloat16), labels);
        NextTokenLossResult full32 = NextTokenLoss.Compute(logits.to(ScalarType.BFloat16).to(ScalarType.Float32), labels);

        Assert.Equal(ScalarType.Float32, half.Loss.dtype);
        Assert.Equal(full32.Loss.item<float>(), half.Loss.item<float>(), 5);
    }

    [Fact]
    public void Gradients_MatchFiniteDifferences()
    {
        using var scope = NewDisposeScope();
        Tensor logits = randn(2, 4, 3, dtype: ScalarType.Float64).requires_grad_(true);
        Tensor labels = tensor(new long[,] { { -100, 2, 0, 1 }, { 1, -100, 2, -100 } });

        GradCheck.AssertGradients(() => NextTokenLoss.Compute(logits, labels).Loss, [logits]);
    }

    [Fact]
    public void MismatchedShapes_AreRejected()
    {
        using var scope = NewDisposeScope();
        Assert.Throws<ArgumentException>(() => NextTokenLoss.Compute(randn(2, 4, 3), zeros(2, 5, dtype: ScalarType.Int64)));
        Assert.Throws<ArgumentException>(() => NextTokenLoss.Compute(randn(2, 4), zeros(2, 4, dtype: ScalarType.Int64)));
    }

    [Fact]
    public void FromHiddenStates_EqualsTheLossOnFullLogits_InValueAndGradients()
    {
        using var scope = NewDisposeScope();
        manual_seed(5);
        var head = nn.Linear(6, 11, hasBias: false);                                   // d = 6, V = 11
        Tensor hidden = randn(3, 7, 6).requires_grad_(true);                           // [B, T, d]
        Tensor labels = randint(0, 11, [3, 7]);
        labels[TensorIndex.Single(0), TensorIndex.Slice(0, 4)] = tensor(NextTokenLoss.IgnoreIndex); // a prompt
        labels[TensorIndex.Single(2)] = tensor(NextTokenLoss.IgnoreIndex);                          // a row without targets

        NextTokenLossResult full = NextTokenLoss.Compute(head.call(hidden), labels);
        var (fullHidden, fullWeight) = Grads(full.Loss);
        NextTokenLossResult selective = NextTokenLoss.Compute(hidden, labels, head.call);
        var (selectiveHidden, selectiveWeight) = Grads(selective.Loss);

        Assert.Equal(full.TokenCount, selective.TokenCount);
        Assert.Equal(full.Loss.item<float>(), selective.Loss.item<float>(), 6);
        Assert.True(fullHidden.allclose(selectiveHidden, rtol: 1e-5, atol: 1e-7));
        Assert.True(fullWeight.allclose(selectiveWeight, rtol: 1e-5, atol: 1e-7));
        Assert.Equal(0, selectiveHidden[2].abs().sum().item<float>()); // the row without targets gets no gradient

        (Tensor Hidden, Tensor Weight) Grads(Tensor loss)
        {
            hidden.grad?.zero_();
            head.weight!.grad?.zero_();
            loss.backward();
            return (hidden.grad!.clone(), head.weight!.grad!.clone());
        }
    }

    [Fact]
    public void FromBf16HiddenStates_ProjectedInBlocks_GivesTheLossAndHiddenGradientsOfOneProjection()
    {
        // K = 3 x 399 = 1197 targets > 2 x ProjectionBlockRows: blocks of 512, 512 and 173 rows.
        using var scope = NewDisposeScope();
        manual_seed(6);
        var head = nn.Linear(16, 40, hasBias: false, dtype: ScalarType.BFloat16);    // d = 16, V = 40, trainable
        Tensor hidden = randn(3, 400, 16).to_type(ScalarType.BFloat16).requires_grad_(true);
        Tensor labels = randint(0, 40, [3, 400]);
        Assert.True(3 * 399 > 2 * NextTokenLoss.ProjectionBlockRows);

        NextTokenLossResult once = NextTokenLoss.Compute(head.call(hidden), labels);   // all [B, T, V] logits at once
        var (onceHidden, onceWeight) = Grads(once.Loss);
        var projected = new List<long>();
        NextTokenLossResult blocked = NextTokenLoss.Compute(hidden, labels, h => { projected.Add(h.shape[0]); return head.call(h); });
        var (blockedHidden, blockedWeight) = Grads(blocked.Loss);

        Assert.Equal(1197, blocked.TokenCount);
        Assert.Equal([512L, 512L, 173L], projected);
        Assert.Equal(once.Loss.item<float>(), blocked.Loss.item<float>());               // the same per-row values and mean
        Assert.True(onceHidden.equal(blockedHidden).all().item<bool>(), "hidden-state gradients differ");
        // The head weight's gradient is summed over the blocks in bf16 (three roundings instead of one).
        Tensor w = onceWeight.to_type(ScalarType.Float32), wb = blockedWeight.to_type(ScalarType.Float32);
        double relative = (w - wb).abs().max().item<float>() / w.abs().max().item<float>();
        Assert.InRange(relative, 0, 0.01);

        (Tensor Hidden, Tensor Weight) Grads(Tensor loss)
        {
            hidden.grad?.zero_();
            head.weight!.grad?.zero_();
            loss.backward();
            return (hidden.grad!.clone(), head.weight!.grad!.clone());
        }
    }

    [Fact]
    public void FromHiddenStates_WithoutTargets_IsAConnectedZero()
    {
        using var scope = NewDisposeScope();
        Tensor hidden = randn(2, 3, 4).requires_grad_(true);
        Tensor labels = full(2, 3, NextTokenLoss.IgnoreIndex, ScalarType.Int64);
        int projected = 0;

        NextTokenLossResult r = NextTokenLoss.Compute(hidden, labels, h => { projected++; return h; });

        Assert.Equal(0, r.TokenCount);
        Assert.Equal(0f, r.Loss.item<float>());
        Assert.Equal(0, projected); // nothing to project
        r.Loss.backward();
        Assert.Equal(0f, hidden.grad!.abs().sum().item<float>());
    }
}

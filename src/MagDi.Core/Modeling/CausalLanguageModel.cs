using System.Numerics;
using MagDi.Modeling.Kernels;
using MagDi.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using TorchSharp.Utils;
using static TorchSharp.torch;

namespace MagDi.Modeling;

/// <summary>
/// A Llama-family causal language model (Hugging Face <c>LlamaForCausalLM</c>, <c>MistralForCausalLM</c>,
/// <c>Qwen2ForCausalLM</c>): RMSNorm, rotary embeddings, grouped-query attention, SwiGLU MLP, tied or separate
/// output head. State-dict keys equal the Hugging Face ones (<c>model.layers.0.self_attn.q_proj.weight</c>, ...).
/// </summary>
/// <example>
/// <code>
/// using var model = CausalLanguageModel.FromPretrained("path/to/checkpoint", new() { DType = ScalarType.BFloat16 });
/// using var ids = torch.tensor(new long[] { 1, 415, 2936 }).unsqueeze(0);
/// CausalLMOutput output = model.call(new CausalLMInput(ids));   // output.Logits [1,3,V]
/// </code>
/// </example>
public sealed partial class CausalLanguageModel : nn.Module<CausalLMInput, CausalLMOutput>
{
    [ComponentName(Name = "model")] private readonly DecoderStack _model;
    [ComponentName(Name = "lm_head")] private readonly Linear? _lmHead;
    private const long MinRopePositions = 1024;
    private readonly Lock _ropeLock = new();
    private RopeTable? _rope;   // not a Tensor field: RegisterComponents would make it a persistent buffer

    /// <summary>Creates a model with Hugging Face's initialisation from seed 0 (see <see cref="CreateRandom"/>).</summary>
    /// <param name="config">The architecture; validated here.</param>
    /// <param name="device">Device of the parameters; null means CPU.</param>
    /// <param name="dtype">Parameter dtype; null means float32.</param>
    public CausalLanguageModel(ModelConfig config, Device? device = null, ScalarType? dtype = null)
        : this(config, device, dtype, initializeSeed: 0)
    {
    }

    private CausalLanguageModel(ModelConfig config, Device? device, ScalarType? dtype, long? initializeSeed) : base("CausalLanguageModel")
    {
        ArgumentNullException.ThrowIfNull(config);
        config.Validate();
        TorchRuntime.EnsureInitialized();
        Config = config;
        ScalarType type = dtype ?? ScalarType.Float32;
        CheckDType(type);
        _model = new DecoderStack(config, device, type);
        if (!config.TieWordEmbeddings)
        {
            _lmHead = Make.Linear(config.HiddenSize, config.VocabSize, bias: false, device, type);
        }

        RegisterComponents();
        if (initializeSeed is { } seed)
        {
            Initialize(seed, 0.02);
        }
    }

    /// <summary>The architecture.</summary>
    public ModelConfig Config { get; }

    /// <summary>Recompute each decoder layer in the backward pass instead of storing its activations (training mode only).</summary>
    public bool GradientCheckpointing { get; set; }

    /// <summary>How attention over several query tokens is computed; <see cref="AttentionImplementation.Auto"/> by default.</summary>
    public AttentionImplementation AttentionImplementation { get; set; }

    /// <summary>The device of the parameters.</summary>
    public Device Device => _model.EmbedTokens.weight!.device;

    /// <summary>The dtype of the base parameters.</summary>
    public ScalarType DType => _model.EmbedTokens.weight!.dtype;

    /// <summary>The input embedding matrix [V,d] (<c>model.embed_tokens.weight</c>).</summary>
    public Parameter EmbeddingWeight => _model.EmbedTokens.weight!;

    internal DecoderStack Decoder => _model;

    /// <summary>Creates a model with Hugging Face's initialisation (normal(0, 0.02) weights, zero biases, unit norms) from a seed.</summary>
    public static CausalLanguageModel CreateRandom(ModelConfig config, long seed, Device? device = null, ScalarType? dtype = null, double initializerRange = 0.02)
    {
        ArgumentNullException.ThrowIfNull(config);
        TorchRuntime.EnsureInitialized();
        var model = new CausalLanguageModel(config, device, dtype, initializeSeed: null);
        model.Initialize(seed, initializerRange);
        return model;
    }

    private void Initialize(long seed, double initializerRange)
    {
        using var generator = new Generator((ulong)seed, CPU);
        using var noGrad = no_grad();
        foreach (var (name, p) in named_parameters())
        {
            if (name.EndsWith("norm.weight", StringComparison.Ordinal))
            {
                p.fill_(Scalars.One);
            }
            else if (name.EndsWith(".bias", StringComparison.Ordinal))
            {
                p.zero_();
            }
            else
            {
                // torch.normal(0, std) as TorchSharp computes it: randn · std (+ 0).
                using Tensor init = randn(p.shape, ScalarType.Float32, CPU, generator: generator).Times(initializerRange);
                p.copy_(init);
            }
        }
    }

    /// <inheritdoc />
    public override CausalLMOutput forward(CausalLMInput input)
    {
        ArgumentNullException.ThrowIfNull(input);
        Tensor ids = input.InputIds;
        if (ids.dim() != 2)
        {
            throw new ArgumentException($"InputIds must be [batch, time]; got [{string.Join(", ", ids.shape)}].", nameof(input));
        }

        using var scope = NewDisposeScope();
        long b = ids.shape[0], t = ids.shape[1];
        KvCache? cache = input.Cache;
        long past = cache?.Length ?? 0;
        long s = past + t;
        Device device = ids.device;
        Tensor? mask = input.AttentionMask;
        if (mask is not null && (mask.dim() != 2 || mask.shape[0] != b || mask.shape[1] != s))
        {
            throw new ArgumentException($"AttentionMask must be [{b}, {s}] (batch, past + time); got [{string.Join(", ", mask.shape)}].", nameof(input));
        }

        if (s > Config.MaxPositionEmbeddings)
        {
            throw new ArgumentException($"Sequence length {s} exceeds max_position_embeddings {Config.MaxPositionEmbeddings}.", nameof(input));
        }

        Tensor positions = input.PositionIds
            ?? (mask is not null
                ? mask.to_type(ScalarType.Int64).cumsum(-1).Minus(1L).clamp_min(Scalars.Zero).narrow(1, past, t)
                : Scalars.Arange(past, s, ScalarType.Int64, device).unsqueeze(0).expand(b, t));     // [B,T]
        // Positions computed here lie below s <= max_position_embeddings: read them from the table. Given ones may lie anywhere.
        var (cos, sin) = input.PositionIds is null
            ? Rope.Lookup(RopeTableFor(device, s), positions)
            : Rope.Build(positions, Config.EffectiveHeadDim, Config.RopeTheta, DType);                       // [B,1,T,hd]

        // How this forward computes, decided once here and carried to every layer: the CPU decoding kernels serve one-token
        // steps without autograd only; the attention follows from the setting, the shapes and those kernels.
        ForwardKernels kernels = ForwardKernels.For(decodingStep: t == 1 && !is_grad_enabled(), autograd: is_grad_enabled());
        var (attention, attnMask) = AttentionKernel.Choose(
            AttentionImplementation, mask, b, Config.NumAttentionHeads, past, t, Config.EffectiveSlidingWindow, device, DType, kernels);
        var ctx = new LayerContext(cos, sin, attnMask, cache, past, attention, kernels);
        Tensor hidden = _model.Forward(ids, ctx, GradientCheckpointing); // [B,T,d]
        Tensor logits = input.LogitsToKeep switch
        {
            null => ApplyHead(hidden, kernels),                                                              // [B,T,V]
            int n when n >= 0 => ApplyHead(hidden.narrow(1, t - Math.Min(n, t), Math.Min(n, t)), kernels),   // [B,min(n,T),V]
            int n => throw new ArgumentException($"LogitsToKeep must be null or at least 0; got {n}.", nameof(input)),
        };
        if (cache is not null)
        {
            cache.Length = (int)s;
        }

        return new CausalLMOutput(
            logits.MoveToOuterDisposeScope(),
            input.OutputHiddenStates ? hidden.MoveToOuterDisposeScope() : null,
            cache);
    }

    /// <summary>
    /// Applies the output head (<c>lm_head</c>, or the input embeddings when they are tied) to final-norm hidden states,
    /// for example to the rows of <see cref="CausalLMOutput.LastHiddenState"/> that need logits.
    /// </summary>
    /// <param name="hiddenStates">Hidden states [..., d] in the model dtype.</param>
    /// <returns>Logits [..., V] in the model dtype.</returns>
    public Tensor ComputeLogits(Tensor hiddenStates)
    {
        ArgumentNullException.ThrowIfNull(hiddenStates);
        return ApplyHead(hiddenStates, ForwardKernels.LibTorch);
    }

    /// <summary>
    /// The rotary table for forwards on <paramref name="device"/> in the model's dtype covering positions below
    /// <paramref name="length"/>: built on first use, after a move, and when a longer forward comes, in powers of two up
    /// to max_position_embeddings (a 128k-position config does not pay for its whole table up front).
    /// </summary>
    private RopeTable RopeTableFor(Device device, long length)
    {
        ScalarType dtype = DType;
        lock (_ropeLock)
        {
            if (_rope is null || !_rope.Matches(device, dtype) || _rope.Positions < length)
            {
                long positions = Math.Min(Config.MaxPositionEmbeddings, Math.Max(MinRopePositions, (long)BitOperations.RoundUpToPowerOf2((ulong)length)));
                _rope?.Dispose();
                _rope = null;
                _rope = RopeTable.Create((int)positions, Config.EffectiveHeadDim, Config.RopeTheta, device, dtype);
            }

            return _rope;
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            lock (_ropeLock)
            {
                _rope?.Dispose();
                _rope = null;
            }
        }

        base.Dispose(disposing);
    }

    private Tensor ApplyHead(Tensor hiddenStates, ForwardKernels kernels) =>
        kernels.Linear(hiddenStates, _lmHead?.weight ?? _model.EmbedTokens.weight!, null);

    private static void CheckDType(ScalarType type)
    {
        if (type is not (ScalarType.Float32 or ScalarType.BFloat16 or ScalarType.Float16))
        {
            throw new NotSupportedException($"Model dtype {type} is not supported; use Float32, BFloat16 or Float16.");
        }
    }
}

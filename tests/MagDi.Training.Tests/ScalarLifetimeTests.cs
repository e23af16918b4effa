using System.Collections.Immutable;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using MagDi.Generation;
using MagDi.Graphs.Gcn;
using MagDi.Losses;
using MagDi.Modeling;
using MagDi.Runtime;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;
using Parameter = TorchSharp.Modules.Parameter;

namespace MagDi.Training.Tests;

/// <summary>
/// TorchSharp 0.107 frees a temporary <see cref="Scalar"/> only in its finalizer and keeps no reference to it during the native
/// call it was made for, so a garbage collection in that window frees it while libtorch reads it. MagDi's assemblies must
/// never create one (src/Shared/Scalars.cs): checked on their IL, and under a thread that collects garbage continuously.
/// </summary>
public sealed class ScalarLifetimeTests
{
    private static readonly string[] Assemblies =
    [
        typeof(CausalLanguageModel).Assembly.Location, // MagDi.Core
        typeof(NextTokenLoss).Assembly.Location,       // MagDi.Losses
        typeof(GcnConv).Assembly.Location,             // MagDi.Graphs
        typeof(MagDiTrainer).Assembly.Location,        // MagDi.Training
    ];

    [Fact]
    public void NoMagDiMethod_CreatesATemporaryScalar_OrCallsATorchSharpMethodThatDoes()
    {
        HashSet<string> creating = IlScan.TorchSharpMethodsCreatingScalars(typeof(Scalar).Assembly.Location);
        // The scan finds what it must: the operator behind a + b, and the optimizer step this library replaces.
        Assert.Contains("Tensor::add(Tensor)", creating);
        Assert.Contains("Tensor::op_Addition(Tensor,Tensor)", creating);
        Assert.Contains(creating, m => m.StartsWith("AdamW::<step>", StringComparison.Ordinal));

        var offenders = new List<string>();
        foreach (string assembly in Assemblies)
        {
            foreach (var (type, method, targets) in IlScan.Methods(assembly))
            {
                // Scalars is the one place that creates Scalars, each held until the call it serves returns.
                foreach (string target in targets.Where(t => (IlScan.CreatesScalar(t) && type != "Scalars") || creating.Contains(t)))
                {
                    offenders.Add($"{Path.GetFileName(assembly)}: {method} calls {target}");
                }
            }
        }

        Assert.True(offenders.Count == 0, "Temporary TorchSharp Scalars (use src/Shared/Scalars.cs):\n" + string.Join("\n", offenders));
    }

    [Fact]
    public void GenerationAndTraining_UnderContinuousGarbageCollection_Complete()
    {
        TorchRuntime.EnsureInitialized();
        var config = new ModelConfig
        {
            ModelType = "llama",
            VocabSize = 61,
            HiddenSize = 32,
            IntermediateSize = 56,
            NumHiddenLayers = 2,
            NumAttentionHeads = 4,
            NumKeyValueHeads = 2,
            RmsNormEps = 1e-5,
            RopeTheta = 10000,
            MaxPositionEmbeddings = 128,
            BosTokenId = 1,
            PadTokenId = 0,
        };
        using var model = CausalLanguageModel.CreateRandom(config, 3);
        var prompts = Enumerable.Range(0, 4).Select(i => (IReadOnlyList<int>)Enumerable.Range(2, 5 + i).ToList()).ToList();
        var sampled = new GenerationOptions { MaxNewTokens = 40, Temperature = 0.7, TopK = 20, TopP = 0.9, Seed = 1, PadTokenId = 0 };
        using Tensor ids = tensor(Enumerable.Range(0, 2 * 24).Select(i => (long)(2 + (i * 7 % 59))).ToArray(), [2, 24]);

        bool stop = false;
        var collector = new Thread(() =>
        {
            while (!Volatile.Read(ref stop))
            {
                GC.Collect();
                GC.WaitForPendingFinalizers();
                // A millisecond between collections lets the tested thread run: back to back, they starved it (68,000
                // collections and 254 s inside the full suite, against 5,600 and 11 s alone), and fewer of its calls were
                // ever interrupted. With a Tensor + Tensor that passes a temporary Scalar 1 (the bug this catches), this
                // loop failed 8 runs in 10, within 1-8 s; back to back, 1 in 6.
                Thread.Sleep(1);
            }
        })
        { IsBackground = true };
        collector.Start();
        try
        {
            // Before the fix, sampling with this model failed within a few such batches once the JIT had optimized TorchSharp's
            // methods ("Expected false to be true", "Unknown scalar type"); this project turns tiered compilation off for that.
            model.eval();
            var generator = new TextGenerator(model);
            for (int i = 0; i < 120; i++)
            {
                Assert.Equal(4, generator.Generate(prompts, sampled).Tokens.Count);
            }

            model.train();
            using var optimizer = new MagDi.Training.Optimization.AdamW([new AdamW.ParamGroup(model.parameters(), lr: 1e-3, weight_decay: 0.01)], 1e-3, 0.9, 0.999, 1e-8, 0.01);
            for (int i = 0; i < 20; i++)
            {
                using var scope = NewDisposeScope();
                optimizer.zero_grad();
                Tensor logits = model.call(new CausalLMInput(ids)).Logits;
                Tensor labels = NextTokenLoss.BuildLabels(ids, ones_like(ids), targetMask: null, includePromptTokens: true);
                NextTokenLoss.Compute(logits, labels).Loss.backward();
                optimizer.step();
            }
        }
        finally
        {
            Volatile.Write(ref stop, true);
            collector.Join();
        }
    }

    [Theory]
    [InlineData(0.0, false, false)]
    [InlineData(0.01, false, false)]
    [InlineData(0.01, true, false)]
    [InlineData(0.01, false, true)]
    public void KeptScalarAdamW_UpdatesBitForBitAsTorchSharpsAdamW_AndSharesItsState(double weightDecay, bool amsgrad, bool maximize)
    {
        TorchRuntime.EnsureInitialized();
        Parameter Weight() => new(randn([5, 3], generator: new Generator(11UL)));
        using Parameter ours = Weight(), theirs = Weight();
        var groupOptions = new AdamW.Options { LearningRate = 3e-2, beta1 = 0.8, beta2 = 0.95, eps = 1e-6, weight_decay = weightDecay, amsgrad = amsgrad, maximize = maximize };
        using var safe = new MagDi.Training.Optimization.AdamW([new AdamW.ParamGroup([ours], groupOptions)], 3e-2, 0.8, 0.95, 1e-6, weightDecay);
        using var reference = optim.AdamW([new AdamW.ParamGroup([theirs], new AdamW.Options
        {
            LearningRate = 3e-2, beta1 = 0.8, beta2 = 0.95, eps = 1e-6, weight_decay = weightDecay, amsgrad = amsgrad, maximize = maximize,
        })]);
        for (int step = 0; step < 6; step++)
        {
            using Tensor target = randn([5, 3], generator: new Generator((ulong)(100 + step)));
            foreach (var (p, optimizer) in new (Parameter, OptimizerHelper)[] { (ours, safe), (theirs, reference) })
            {
                optimizer.zero_grad();
                using Tensor loss = (p - target).pow(Scalars2.Two).sum();
                loss.backward();
                optimizer.step();
            }

            Assert.True(ours.eq(theirs).all().item<bool>(), $"step {step + 1}: the weights differ");
        }

        Assert.False(ours.allclose(Weight()), "the weights did not move");

        // Same state, same file format: a checkpoint written by one loads into the other.
        using var stream = new MemoryStream();
        using (var writer = new BinaryWriter(stream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            safe.save_state_dict(writer);
        }

        byte[] ourState = stream.ToArray();
        using var theirStream = new MemoryStream();
        using (var writer = new BinaryWriter(theirStream, System.Text.Encoding.UTF8, leaveOpen: true))
        {
            reference.save_state_dict(writer);
        }

        Assert.Equal(theirStream.ToArray(), ourState);
    }

    /// <summary>Scalars for the test's own arithmetic, held for the process.</summary>
    private static class Scalars2
    {
        public static readonly Scalar Two = 2.ToScalar();
    }

    /// <summary>Lists the methods each method of an assembly calls, from its IL.</summary>
    private static class IlScan
    {
        /// <summary>Every method with a body: its type's name, its name with parameter types, and what it calls.</summary>
        public static List<(string Type, string Method, List<string> Targets)> Methods(string path)
        {
            using var stream = File.OpenRead(path);
            using var pe = new PEReader(stream);
            MetadataReader md = pe.GetMetadataReader();
            var found = new List<(string Type, string Method, List<string> Targets)>();
            foreach (TypeDefinitionHandle th in md.TypeDefinitions)
            {
                TypeDefinition type = md.GetTypeDefinition(th);
                foreach (MethodDefinitionHandle mh in type.GetMethods())
                {
                    MethodDefinition method = md.GetMethodDefinition(mh);
                    if (method.RelativeVirtualAddress != 0)
                    {
                        byte[] il = pe.GetMethodBody(method.RelativeVirtualAddress).GetILBytes() ?? [];
                        found.Add((md.GetString(type.Name), Name(mh, md), Targets(il, md).ToList()));
                    }
                }
            }

            return found;
        }

        /// <summary>
        /// TorchSharp's methods that create a Scalar and never dispose one (<c>add(Tensor)</c> calls <c>add(target, 1)</c>),
        /// and every method that calls one of them.
        /// </summary>
        public static HashSet<string> TorchSharpMethodsCreatingScalars(string path)
        {
            // Names are type::method(parameters); nested compiler-generated types can share one, so their calls are pooled.
            var calls = Methods(path).GroupBy(m => m.Method, StringComparer.Ordinal)
                .ToDictionary(g => g.Key, g => g.SelectMany(m => m.Targets).ToList(), StringComparer.Ordinal);
            var creating = calls.Where(m => m.Value.Exists(CreatesScalar) && !m.Value.Contains("Scalar::Dispose()"))
                .Select(m => m.Key).ToHashSet(StringComparer.Ordinal);
            for (bool grew = true; grew;)
            {
                grew = false;
                foreach (var (name, targets) in calls)
                {
                    if (!creating.Contains(name) && targets.Any(creating.Contains))
                    {
                        grew = creating.Add(name) || grew;
                    }
                }
            }

            return creating;
        }

        /// <summary>A call that turns a number into a <see cref="Scalar"/>.</summary>
        public static bool CreatesScalar(string target) =>
            target.StartsWith("Scalar::op_Implicit", StringComparison.Ordinal) || target.StartsWith("ScalarExtensionMethods::ToScalar", StringComparison.Ordinal);

        private static IEnumerable<string> Targets(byte[] il, MetadataReader md)
        {
            for (int i = 0; i < il.Length;)
            {
                int op = il[i++];
                if (op == 0xFE)
                {
                    op = 0xFE00 | il[i++];
                }

                if (op is 0x28 or 0x6F or 0x73) // call, callvirt, newobj
                {
                    yield return Name(MetadataTokens.EntityHandle(BitConverter.ToInt32(il, i)), md);
                }

                i += OperandSize(op, il, i);
            }
        }

        private static string Name(EntityHandle handle, MetadataReader md)
        {
            var types = new TypeNames();
            switch (handle.Kind)
            {
                case HandleKind.MethodDefinition:
                    MethodDefinition d = md.GetMethodDefinition((MethodDefinitionHandle)handle);
                    return $"{md.GetString(md.GetTypeDefinition(d.GetDeclaringType()).Name)}::{md.GetString(d.Name)}({string.Join(",", d.DecodeSignature(types, null).ParameterTypes)})";
                case HandleKind.MemberReference:
                    MemberReference r = md.GetMemberReference((MemberReferenceHandle)handle);
                    string parent = r.Parent.Kind switch
                    {
                        HandleKind.TypeReference => md.GetString(md.GetTypeReference((TypeReferenceHandle)r.Parent).Name),
                        HandleKind.TypeDefinition => md.GetString(md.GetTypeDefinition((TypeDefinitionHandle)r.Parent).Name),
                        _ => "?",
                    };
                    string parameters = r.GetKind() == MemberReferenceKind.Method ? string.Join(",", r.DecodeMethodSignature(types, null).ParameterTypes) : string.Empty;
                    return $"{parent}::{md.GetString(r.Name)}({parameters})";
                case HandleKind.MethodSpecification:
                    return Name(md.GetMethodSpecification((MethodSpecificationHandle)handle).Method, md);
                default:
                    return handle.Kind.ToString();
            }
        }

        private static int OperandSize(int op, byte[] il, int i) => op switch
        {
            0x20 or 0x22 or 0x27 or 0x28 or 0x29 or 0x6F or 0x70 or 0x71 or 0x72 or 0x73 or 0x74 or 0x75 or 0x79 or 0x7B or 0x7C or 0x7D
                or 0x7E or 0x7F or 0x80 or 0x81 or 0x8C or 0x8D or 0x8F or 0xA3 or 0xA4 or 0xA5 or 0xC2 or 0xC6 or 0xD0 or 0xDD
                or 0xFE06 or 0xFE07 or 0xFE15 or 0xFE16 or 0xFE1C or 0xFE1D => 4,
            >= 0x38 and <= 0x44 => 4,
            0x21 or 0x23 => 8,
            (>= 0x2B and <= 0x37) or 0xDE or (>= 0x0E and <= 0x13) or 0x1F or 0xFE12 or 0xFE19 => 1,
            >= 0xFE09 and <= 0xFE0E => 2,
            0x45 => 4 + (4 * BitConverter.ToInt32(il, i)),
            _ => 0,
        };

        /// <summary>Type names as they read in C# signatures ("Tensor", "Int32", "Nullable`1&lt;ScalarType&gt;").</summary>
        private sealed class TypeNames : ISignatureTypeProvider<string, object?>
        {
            public string GetArrayType(string elementType, ArrayShape shape) => elementType + "[,]";

            public string GetByReferenceType(string elementType) => elementType + "&";

            public string GetFunctionPointerType(MethodSignature<string> signature) => "fn";

            public string GetGenericInstantiation(string genericType, ImmutableArray<string> typeArguments) => $"{genericType}<{string.Join(",", typeArguments)}>";

            public string GetGenericMethodParameter(object? genericContext, int index) => "!!" + index;

            public string GetGenericTypeParameter(object? genericContext, int index) => "!" + index;

            public string GetModifiedType(string modifier, string unmodifiedType, bool isRequired) => unmodifiedType;

            public string GetPinnedType(string elementType) => elementType;

            public string GetPointerType(string elementType) => elementType + "*";

            public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode.ToString();

            public string GetSZArrayType(string elementType) => elementType + "[]";

            public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => reader.GetString(reader.GetTypeDefinition(handle).Name);

            public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => reader.GetString(reader.GetTypeReference(handle).Name);

            public string GetTypeFromSpecification(MetadataReader reader, object? genericContext, TypeSpecificationHandle handle, byte rawTypeKind) => "spec";
        }
    }
}

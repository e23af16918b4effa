using System.Buffers.Binary;
using System.Text;

namespace MagDi.Tokenization;

/// <summary>
/// Reads a SentencePiece <c>tokenizer.model</c> (protobuf <c>ModelProto</c>). BPE models (Llama-2, Mistral) run on
/// MagDi's BPE engine with SentencePiece semantics: the text gets "▁" for spaces (and a leading "▁" with
/// add_dummy_prefix), adjacent symbols merge into the highest-scoring piece first (leftmost first on equal scores,
/// as SentencePiece's C++ does), unknown characters fall back to <c>&lt;0xNN&gt;</c> pieces. Control and
/// user-defined pieces are matched in text as added tokens, as Hugging Face transformers does. Unigram models run on
/// <see cref="SentencePieceUnigram"/>, MagDi's port of SentencePiece's own Unigram encoder and normalizer.
/// </summary>
/// <remarks>
/// The file is untrusted input: every length, id and count is range-checked before it is used (a huge varint was an
/// <see cref="OverflowException"/>), and every problem is an <see cref="InvalidDataException"/> naming the file and
/// the field (for example <c>pieces[12].piece</c> or <c>trainer_spec.unk_id</c>).
/// </remarks>
internal static class SentencePieceModelReader
{
    /// <summary>The largest tokenizer.model read: 1 GiB (real ones are a few MB).</summary>
    private const long MaxModelBytes = 1L << 30;

    private sealed class ModelProto
    {
        public List<SentencePiece> Pieces { get; } = [];

        public int ModelType { get; set; } = 1;

        public bool ByteFallback { get; set; }

        public int UnkId { get; set; }

        public int BosId { get; set; } = 1;

        public int EosId { get; set; } = 2;

        public int PadId { get; set; } = -1;

        public string UnkSurface { get; set; } = " \u2047 ";

        public bool TreatAsSuffix { get; set; }

        public string NormalizerName { get; set; } = "nmt_nfkc";

        public byte[] CharsMap { get; set; } = [];

        public bool AddDummyPrefix { get; set; } = true;

        public bool RemoveExtraWhitespaces { get; set; } = true;

        public bool EscapeWhitespaces { get; set; } = true;

        public int DenormalizerCharsMapLength { get; set; }
    }

    public static ITextTokenizer Read(string path, TokenizerConfig config)
    {
        byte[] data = MagDi.IO.InputFile.ReadAllBytes(path, MaxModelBytes);
        ModelProto model = Parse(path, data);
        if (model.Pieces.Count == 0)
        {
            throw new InvalidDataException($"{path}: the SentencePiece model has no pieces.");
        }

        var seen = new Dictionary<string, int>(model.Pieces.Count, StringComparer.Ordinal);
        for (int id = 0; id < model.Pieces.Count; id++)
        {
            var p = model.Pieces[id];
            if (p.Text.Length == 0)
            {
                throw new InvalidDataException($"{path}: pieces[{id}].piece is empty.");
            }

            if (!seen.TryAdd(p.Text, id))
            {
                throw new InvalidDataException($"{path}: piece \"{p.Text}\" occurs twice (ids {seen[p.Text]} and {id}).");
            }
        }

        return model.ModelType switch
        {
            1 => ReadUnigram(path, model, config),
            2 => ReadBpe(path, model, config),
            _ => throw new NotSupportedException($"{path}: SentencePiece model_type {model.ModelType} is not supported (Unigram = 1 and BPE = 2 are)."),
        };
    }

    private static SentencePieceTokenizerAdapter ReadUnigram(string path, ModelProto model, TokenizerConfig config)
    {
        if (model.TreatAsSuffix)
        {
            throw new NotSupportedException($"{path}: SentencePiece option treat_whitespace_as_suffix is not supported.");
        }

        if (model.DenormalizerCharsMapLength > 0)
        {
            throw new NotSupportedException($"{path}: a SentencePiece denormalizer (denormalizer_spec.precompiled_charsmap) is not supported.");
        }

        var pieces = model.Pieces;
        int unkId = pieces.FindIndex(p => p.Type == SentencePieceType.Unknown);
        if (unkId < 0)
        {
            throw new InvalidDataException($"{path}: the SentencePiece model has no piece of type UNKNOWN (trainer_spec.unk_id {model.UnkId}).");
        }

        if (model.ByteFallback && !pieces.Any(p => p.Type == SentencePieceType.Byte))
        {
            throw new InvalidDataException($"{path}: trainer_spec.byte_fallback is set but the model has no byte pieces (<0x00>...<0xFF>).");
        }

        var normalizer = new SentencePieceNormalizer(
            path, model.CharsMap, model.AddDummyPrefix, model.RemoveExtraWhitespaces, model.EscapeWhitespaces,
            pieces.Where(p => p.Type == SentencePieceType.UserDefined).Select(p => p.Text));
        var unigram = new SentencePieceUnigram(path, pieces, unkId, model.ByteFallback, normalizer, model.UnkSurface);
        string? Name(int id) => id >= 0 && id < pieces.Count ? pieces[id].Text : null;
        return new SentencePieceTokenizerAdapter(path, unigram, config, Name(model.BosId), Name(model.EosId), Name(model.PadId), pieces[unkId].Text);
    }

    private static HuggingFaceTokenizer ReadBpe(string path, ModelProto model, TokenizerConfig config)
    {
        var pieces = model.Pieces;
        if (model.CharsMap.Length > 0 || model.NormalizerName is not ("identity" or ""))
        {
            throw new NotSupportedException($"{path}: SentencePiece normalizer \"{model.NormalizerName}\" (precompiled_charsmap) is not supported for BPE models; only \"identity\" is.");
        }

        if (model.RemoveExtraWhitespaces || model.TreatAsSuffix || !model.EscapeWhitespaces)
        {
            throw new NotSupportedException($"{path}: SentencePiece options remove_extra_whitespaces, treat_whitespace_as_suffix and escape_whitespaces=false are not supported for BPE models.");
        }

        var vocab = new Dictionary<string, int>(pieces.Count, StringComparer.Ordinal);
        var added = new List<AddedToken>();
        for (int id = 0; id < pieces.Count; id++)
        {
            var p = pieces[id];
            vocab.Add(p.Text, id);
            if (p.Type is SentencePieceType.Control or SentencePieceType.UserDefined)
            {
                added.Add(new AddedToken(id, p.Text, Special: p.Type == SentencePieceType.Control));
            }
        }

        // Merges: every split of a normal piece into two pieces, ranked by the piece's score (higher first).
        var order = Enumerable.Range(0, pieces.Count).Where(i => pieces[i].Type == SentencePieceType.Normal)
            .OrderByDescending(i => pieces[i].Score).ThenBy(i => i).ToList();
        var merges = new List<(string, string)>();
        var ranks = new List<int>();
        for (int r = 0; r < order.Count; r++)
        {
            string text = pieces[order[r]].Text;
            for (int k = 1; k < text.Length; k++)
            {
                if (char.IsLowSurrogate(text[k]))
                {
                    continue;
                }

                string left = text[..k], right = text[k..];
                if (vocab.ContainsKey(left) && vocab.ContainsKey(right))
                {
                    merges.Add((left, right));
                    ranks.Add(r);
                }
            }
        }

        int unkId = model.UnkId;
        string? unkToken = unkId >= 0 && unkId < pieces.Count && pieces[unkId].Type == SentencePieceType.Unknown ? pieces[unkId].Text : null;
        var bpe = new BpeModel(vocab, merges, unkToken, fuseUnk: true, model.ByteFallback, ignoreMerges: false, path, ranks);
        var steps = new List<TextNormalizer>();
        if (model.AddDummyPrefix)
        {
            steps.Add(new PrependNormalizer("\u2581"));
        }

        steps.Add(new ReplaceNormalizer(" ", null, "\u2581"));
        var decoders = new List<TokenDecoder> { new ReplaceDecoder("\u2581", " ") };
        if (model.ByteFallback)
        {
            decoders.Add(new ByteFallbackDecoder());
        }

        decoders.Add(new FuseDecoder());
        if (model.AddDummyPrefix)
        {
            decoders.Add(new StripDecoder(' ', 1, 0));
        }

        string? Name(int id) => id >= 0 && id < pieces.Count ? pieces[id].Text : null;
        var effective = config with
        {
            BosToken = config.BosToken ?? Name(model.BosId),
            EosToken = config.EosToken ?? Name(model.EosId),
            PadToken = config.PadToken ?? Name(model.PadId),
            UnkToken = config.UnkToken ?? Name(unkId),
            AddBosToken = config.AddBosToken ?? true,
            AddEosToken = config.AddEosToken ?? false,
        };
        foreach (var token in config.AddedTokens)
        {
            if (!added.Exists(t => t.Content == token.Content))
            {
                added.Add(token);
            }
        }

        return TokenizerJsonReader.Create(path, bpe, added, new SequenceNormalizer(steps), null, new SequenceDecoder(decoders), effective, null);
    }

    private static ModelProto Parse(string path, byte[] data)
    {
        var model = new ModelProto();
        var root = new ProtoReader(path, data, 0, data.Length, "(model)");
        while (root.Next(out int field, out int wire))
        {
            switch (field)
            {
                case 1 when wire == 2:
                    if (model.Pieces.Count >= TokenizerLimits.MaxVocabularySize)
                    {
                        throw new InvalidDataException($"{path}: pieces: more than {TokenizerLimits.MaxVocabularySize} pieces.");
                    }

                    model.Pieces.Add(ReadPiece(root.Message($"pieces[{model.Pieces.Count}]")));
                    break;
                case 2 when wire == 2:
                    var trainer = root.Message("trainer_spec");
                    while (trainer.Next(out int f, out int w))
                    {
                        switch (f)
                        {
                            case 3 when w == 0: model.ModelType = trainer.Int32("trainer_spec.model_type"); break;
                            case 24 when w == 0: model.TreatAsSuffix = trainer.Varint("trainer_spec.treat_whitespace_as_suffix") != 0; break;
                            case 35 when w == 0: model.ByteFallback = trainer.Varint("trainer_spec.byte_fallback") != 0; break;
                            case 40 when w == 0: model.UnkId = trainer.Int32("trainer_spec.unk_id"); break;
                            case 41 when w == 0: model.BosId = trainer.Int32("trainer_spec.bos_id"); break;
                            case 42 when w == 0: model.EosId = trainer.Int32("trainer_spec.eos_id"); break;
                            case 43 when w == 0: model.PadId = trainer.Int32("trainer_spec.pad_id"); break;
                            case 44 when w == 2: model.UnkSurface = trainer.String("trainer_spec.unk_surface"); break;
                            default: trainer.Skip(w, $"trainer_spec field {f}"); break;
                        }
                    }

                    break;
                case 3 when wire == 2:
                    var normalizer = root.Message("normalizer_spec");
                    while (normalizer.Next(out int f, out int w))
                    {
                        switch (f)
                        {
                            case 1 when w == 2: model.NormalizerName = normalizer.String("normalizer_spec.name"); break;
                            case 2 when w == 2: model.CharsMap = normalizer.Bytes("normalizer_spec.precompiled_charsmap"); break;
                            case 3 when w == 0: model.AddDummyPrefix = normalizer.Varint("normalizer_spec.add_dummy_prefix") != 0; break;
                            case 4 when w == 0: model.RemoveExtraWhitespaces = normalizer.Varint("normalizer_spec.remove_extra_whitespaces") != 0; break;
                            case 5 when w == 0: model.EscapeWhitespaces = normalizer.Varint("normalizer_spec.escape_whitespaces") != 0; break;
                            default: normalizer.Skip(w, $"normalizer_spec field {f}"); break;
                        }
                    }

                    break;
                case 5 when wire == 2:
                    var denormalizer = root.Message("denormalizer_spec");
                    while (denormalizer.Next(out int f, out int w))
                    {
                        if (f == 2 && w == 2)
                        {
                            model.DenormalizerCharsMapLength = denormalizer.Bytes("denormalizer_spec.precompiled_charsmap").Length;
                        }
                        else
                        {
                            denormalizer.Skip(w, $"denormalizer_spec field {f}");
                        }
                    }

                    break;
                default:
                    root.Skip(wire, $"field {field}");
                    break;
            }
        }

        return model;
    }

    private static SentencePiece ReadPiece(ProtoReader reader)
    {
        string text = string.Empty;
        float score = 0;
        int type = (int)SentencePieceType.Normal;
        while (reader.Next(out int field, out int wire))
        {
            switch (field)
            {
                case 1 when wire == 2: text = reader.String(reader.Where + ".piece"); break;
                case 2 when wire == 5: score = reader.Float(reader.Where + ".score"); break;
                case 3 when wire == 0: type = reader.Int32(reader.Where + ".type"); break;
                default: reader.Skip(wire, $"{reader.Where} field {field}"); break;
            }
        }

        if (type is < (int)SentencePieceType.Normal or > (int)SentencePieceType.Byte)
        {
            throw new InvalidDataException($"{reader.Source}: {reader.Where}.type is {type}, not a SentencePiece piece type (1 to 6).");
        }

        return new SentencePiece(text, score, (SentencePieceType)type);
    }

    /// <summary>
    /// A minimal protobuf wire-format reader over a byte range that checks every length and position against the range,
    /// so damaged or hostile input is an <see cref="InvalidDataException"/> naming the file and the field.
    /// </summary>
    private sealed class ProtoReader(string source, byte[] data, int start, int end, string where)
    {
        private int _pos = start;

        public string Source => source;

        public string Where => where;

        public bool Next(out int field, out int wire)
        {
            if (_pos >= end)
            {
                field = wire = 0;
                return false;
            }

            ulong tag = Varint($"{where} (a field tag)");
            if (tag >> 3 is 0 or > int.MaxValue)
            {
                throw Fail($"{where} (a field tag)", $"field number {tag >> 3} is not valid");
            }

            field = (int)(tag >> 3);
            wire = (int)(tag & 7);
            return true;
        }

        public ulong Varint(string field)
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                if (_pos >= end)
                {
                    throw Fail(field, "the number is cut off by the end of its message");
                }

                byte b = data[_pos++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }

            throw Fail(field, "a number is longer than 10 bytes");
        }

        /// <summary>An int32 field (protobuf keeps the low 32 bits; negative numbers are written as 64-bit).</summary>
        public int Int32(string field) => unchecked((int)Varint(field));

        public float Float(string field)
        {
            if (end - _pos < 4)
            {
                throw Fail(field, "the number is cut off by the end of its message");
            }

            float f = BinaryPrimitives.ReadSingleLittleEndian(data.AsSpan(_pos, 4));
            _pos += 4;
            return f;
        }

        public byte[] Bytes(string field) => data[Length(field)..(_pos)];

        public string String(string field)
        {
            try
            {
                return MagDi.IO.InputFile.StrictUtf8.GetString(Bytes(field));
            }
            catch (DecoderFallbackException)
            {
                throw Fail(field, "the text is not valid UTF-8");
            }
        }

        public ProtoReader Message(string field)
        {
            int from = Length(field);
            return new ProtoReader(source, data, from, _pos, field);
        }

        public void Skip(int wire, string field)
        {
            switch (wire)
            {
                case 0: Varint(field); break;
                case 1: Advance(8, field); break;
                case 2: Length(field); break;
                case 5: Advance(4, field); break;
                default: throw Fail(field, $"wire type {wire} is not supported");
            }
        }

        /// <summary>Reads a length prefix, checks it against what is left of the message, skips the bytes and returns where they start.</summary>
        private int Length(string field)
        {
            ulong length = Varint(field);
            if (length > (ulong)(end - _pos))
            {
                throw Fail(field, $"its length {length} runs past the end of its message ({end - _pos} bytes left)");
            }

            int from = _pos;
            _pos += (int)length;
            return from;
        }

        private void Advance(int count, string field)
        {
            if (end - _pos < count)
            {
                throw Fail(field, "the value is cut off by the end of its message");
            }

            _pos += count;
        }

        private InvalidDataException Fail(string field, string reason) =>
            new($"{source}: not a valid SentencePiece model: {field}: {reason} (at byte {_pos}).");
    }
}

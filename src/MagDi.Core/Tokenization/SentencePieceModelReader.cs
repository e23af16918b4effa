using System.Text;

namespace MagDi.Tokenization;

/// <summary>
/// Reads a SentencePiece <c>tokenizer.model</c> (protobuf <c>ModelProto</c>). BPE models (Llama-2, Mistral) run on
/// MagDi's BPE engine with SentencePiece semantics: the text gets "▁" for spaces (and a leading "▁" with
/// add_dummy_prefix), adjacent symbols merge into the highest-scoring piece first (leftmost first on equal scores,
/// as SentencePiece's C++ does), unknown characters fall back to <c>&lt;0xNN&gt;</c> pieces. Control and
/// user-defined pieces are matched in text as added tokens, as Hugging Face transformers does. Unigram models are
/// delegated to Microsoft.ML.Tokenizers.
/// </summary>
internal static class SentencePieceModelReader
{
    private const int Normal = 1;
    private const int Unknown = 2;
    private const int Control = 3;
    private const int UserDefined = 4;
    private const int Byte = 6;

    private sealed record Piece(string Text, float Score, int Type);

    public static ITextTokenizer Read(string path, TokenizerConfig config)
    {
        byte[] data = File.ReadAllBytes(path);
        var pieces = new List<Piece>();
        int modelType = 1;
        bool byteFallback = false;
        int unkId = 0, bosId = 1, eosId = 2, padId = -1;
        bool addDummyPrefix = true, removeExtraWhitespaces = true, escapeWhitespaces = true, treatAsSuffix = false;
        string normalizerName = "nmt_nfkc";
        int charsmapLength = 0;
        try
        {
            var root = new ProtoReader(data, 0, data.Length);
            while (root.Next(out int field, out int wire))
            {
                switch (field)
                {
                    case 1 when wire == 2:
                        pieces.Add(ReadPiece(root.Message()));
                        break;
                    case 2 when wire == 2:
                        var trainer = root.Message();
                        while (trainer.Next(out int f, out int w))
                        {
                            switch (f)
                            {
                                case 3: modelType = (int)trainer.Varint(); break;
                                case 24: treatAsSuffix = trainer.Varint() != 0; break;
                                case 35: byteFallback = trainer.Varint() != 0; break;
                                case 40: unkId = (int)trainer.Varint(); break;
                                case 41: bosId = (int)trainer.Varint(); break;
                                case 42: eosId = (int)trainer.Varint(); break;
                                case 43: padId = (int)trainer.Varint(); break;
                                default: trainer.Skip(w); break;
                            }
                        }

                        break;
                    case 3 when wire == 2:
                        var normalizer = root.Message();
                        while (normalizer.Next(out int f, out int w))
                        {
                            switch (f)
                            {
                                case 1: normalizerName = normalizer.String(); break;
                                case 2: charsmapLength = normalizer.Bytes().Length; break;
                                case 3: addDummyPrefix = normalizer.Varint() != 0; break;
                                case 4: removeExtraWhitespaces = normalizer.Varint() != 0; break;
                                case 5: escapeWhitespaces = normalizer.Varint() != 0; break;
                                default: normalizer.Skip(w); break;
                            }
                        }

                        break;
                    default:
                        root.Skip(wire);
                        break;
                }
            }
        }
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentException or InvalidDataException or DecoderFallbackException)
        {
            throw new InvalidDataException($"{path}: not a valid SentencePiece model protobuf: {e.Message}", e);
        }

        if (pieces.Count == 0)
        {
            throw new InvalidDataException($"{path}: the SentencePiece model has no pieces.");
        }

        if (modelType == 1)
        {
            return new SentencePieceTokenizerAdapter(path, config);
        }

        if (modelType != 2)
        {
            throw new NotSupportedException($"{path}: SentencePiece model_type {modelType} is not supported (BPE = 2 and Unigram = 1 are).");
        }

        if (charsmapLength > 0 || normalizerName is not ("identity" or ""))
        {
            throw new NotSupportedException($"{path}: SentencePiece normalizer \"{normalizerName}\" (precompiled_charsmap) is not supported; only \"identity\" is.");
        }

        if (removeExtraWhitespaces || treatAsSuffix || !escapeWhitespaces)
        {
            throw new NotSupportedException($"{path}: SentencePiece options remove_extra_whitespaces, treat_whitespace_as_suffix and escape_whitespaces=false are not supported.");
        }

        var vocab = new Dictionary<string, int>(pieces.Count, StringComparer.Ordinal);
        var added = new List<AddedToken>();
        for (int id = 0; id < pieces.Count; id++)
        {
            var p = pieces[id];
            if (!vocab.TryAdd(p.Text, id))
            {
                throw new InvalidDataException($"{path}: piece \"{p.Text}\" occurs twice (ids {vocab[p.Text]} and {id}).");
            }

            if (p.Type is Control or UserDefined)
            {
                added.Add(new AddedToken(id, p.Text, Special: p.Type == Control));
            }
        }

        // Merges: every split of a normal piece into two pieces, ranked by the piece's score (higher first).
        var order = Enumerable.Range(0, pieces.Count).Where(i => pieces[i].Type == Normal)
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

        string? unkToken = unkId >= 0 && unkId < pieces.Count && pieces[unkId].Type == Unknown ? pieces[unkId].Text : null;
        var model = new BpeModel(vocab, merges, unkToken, fuseUnk: true, byteFallback, ignoreMerges: false, path, ranks);
        var steps = new List<TextNormalizer>();
        if (addDummyPrefix)
        {
            steps.Add(new PrependNormalizer("\u2581"));
        }

        steps.Add(new ReplaceNormalizer(" ", null, "\u2581"));
        var decoders = new List<TokenDecoder> { new ReplaceDecoder("\u2581", " ") };
        if (byteFallback)
        {
            decoders.Add(new ByteFallbackDecoder());
        }

        decoders.Add(new FuseDecoder());
        if (addDummyPrefix)
        {
            decoders.Add(new StripDecoder(' ', 1, 0));
        }

        string? Name(int id) => id >= 0 && id < pieces.Count ? pieces[id].Text : null;
        var effective = config with
        {
            BosToken = config.BosToken ?? Name(bosId),
            EosToken = config.EosToken ?? Name(eosId),
            PadToken = config.PadToken ?? Name(padId),
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

        return TokenizerJsonReader.Create(path, model, added, new SequenceNormalizer(steps), null, new SequenceDecoder(decoders), effective, null);
    }

    private static Piece ReadPiece(ProtoReader reader)
    {
        string text = string.Empty;
        float score = 0;
        int type = Normal;
        while (reader.Next(out int field, out int wire))
        {
            switch (field)
            {
                case 1: text = reader.String(); break;
                case 2 when wire == 5: score = reader.Float(); break;
                case 3: type = (int)reader.Varint(); break;
                default: reader.Skip(wire); break;
            }
        }

        return new Piece(text, score, type);
    }

    /// <summary>A minimal protobuf wire-format reader over a byte range.</summary>
    private sealed class ProtoReader(byte[] data, int start, int end)
    {
        private int _pos = start;

        public bool Next(out int field, out int wire)
        {
            if (_pos >= end)
            {
                field = wire = 0;
                return false;
            }

            ulong tag = Varint();
            field = (int)(tag >> 3);
            wire = (int)(tag & 7);
            return true;
        }

        public ulong Varint()
        {
            ulong value = 0;
            for (int shift = 0; shift < 64; shift += 7)
            {
                byte b = data[_pos++];
                value |= (ulong)(b & 0x7F) << shift;
                if (b < 0x80)
                {
                    return value;
                }
            }

            throw new InvalidDataException("varint longer than 10 bytes.");
        }

        public float Float()
        {
            float f = BitConverter.ToSingle(data, _pos);
            _pos += 4;
            return f;
        }

        public byte[] Bytes()
        {
            int length = checked((int)Varint());
            if (length < 0 || _pos + length > end)
            {
                throw new InvalidDataException("length-delimited field runs past its message.");
            }

            byte[] bytes = data[_pos..(_pos + length)];
            _pos += length;
            return bytes;
        }

        public string String() => new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(Bytes());

        public ProtoReader Message()
        {
            int length = checked((int)Varint());
            if (length < 0 || _pos + length > end)
            {
                throw new InvalidDataException("embedded message runs past its parent.");
            }

            var reader = new ProtoReader(data, _pos, _pos + length);
            _pos += length;
            return reader;
        }

        public void Skip(int wire)
        {
            switch (wire)
            {
                case 0: Varint(); break;
                case 1: _pos += 8; break;
                case 2: Bytes(); break;
                case 5: _pos += 4; break;
                default: throw new InvalidDataException($"unsupported wire type {wire}.");
            }
        }
    }
}

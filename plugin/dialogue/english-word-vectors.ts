// The English word vectors Parley ships (plugin/assets/english-word-vectors.bin: the 30,000 most common
// English words of GloVe 6B, 100 dimensions; tools/word-vectors/build.ts makes the file). Read once, the
// first time an intent node routes, and shared by every runner.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { FileAccessError } from "../../runtime/index.js";
import { WordVectors } from "./word-vectors.js";

const FILE = "english-word-vectors.bin";

let cached: WordVectors | undefined;

/** Where the file is: beside the sources (plugin/assets) whether this module runs from plugin/ or dist/plugin/. */
function assetPath(): string {
  const candidates = [new URL(`../assets/${FILE}`, import.meta.url), new URL(`../../../plugin/assets/${FILE}`, import.meta.url)].map((u) => fileURLToPath(u));
  return candidates.find((p) => existsSync(p)) ?? candidates[0];
}

/** The bundled English word vectors (read on first use; a missing or damaged file is a typed error). */
export function englishWordVectors(): WordVectors {
  if (!cached) {
    const path = assetPath();
    let bytes: Buffer;
    try {
      bytes = readFileSync(path);
    } catch (e) {
      throw new FileAccessError(path, (e as NodeJS.ErrnoException).code ?? String(e), { cause: e });
    }
    cached = WordVectors.decode(bytes);
  }
  return cached;
}

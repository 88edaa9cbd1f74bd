// Builds the village game for the browser (and Electron's renderer): bundles game/main.ts — three.js,
// rapier (its compat build carries the WASM inline) and Parley's plugin included — into one ES module,
// main.js, with a source map, next to a copy of index.html.
//
//   const dir = await buildVillage();          // <repo>/dist/village/, rebuilt only when a source changed
//   npx tsx samples/village/build.ts [--out DIR] [--minify] [--force]
//
// "Changed" means: any file the last bundle was made from (esbuild's metafile, kept next to it) or
// index.html is newer than the bundle, or the bundle, its metafile or the copied page is missing.

import { build } from "esbuild";
import { copyFileSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "..", "..");

export const VILLAGE_ENTRY = join(here, "game", "main.ts");
export const VILLAGE_PAGE = join(here, "index.html");
export const DEFAULT_VILLAGE_OUT = join(repoRoot, "dist", "village");
/** The files buildVillage writes into its folder. */
export const BUNDLE_FILE = "main.js";
const META_FILE = "main.meta.json";

export interface BuildVillageOptions {
  /** Default <repo>/dist/village/. */
  outDir?: string;
  /** Default false. */
  minify?: boolean;
  /** Rebuild even when nothing changed. */
  force?: boolean;
}

export async function buildVillage(options: BuildVillageOptions = {}): Promise<string> {
  const outDir = resolve(options.outDir ?? DEFAULT_VILLAGE_OUT);
  const minify = options.minify ?? false;
  mkdirSync(outDir, { recursive: true });
  const bundle = join(outDir, BUNDLE_FILE);
  const metaPath = join(outDir, META_FILE);
  const page = join(outDir, "index.html");

  if (options.force || !upToDate(bundle, metaPath, minify)) {
    const result = await build({
      entryPoints: [VILLAGE_ENTRY],
      outfile: bundle,
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      sourcemap: true,
      minify,
      metafile: true,
      legalComments: "eof",
      logLevel: "silent",
      absWorkingDir: repoRoot,
    });
    const inputs = Object.keys(result.metafile.inputs).map((p) => resolve(repoRoot, p));
    writeFileSync(metaPath, JSON.stringify({ minify, inputs } satisfies SavedMeta, null, 1));
  }
  if (!existsSync(page) || mtime(VILLAGE_PAGE) > mtime(page)) copyFileSync(VILLAGE_PAGE, page);
  return outDir;
}

interface SavedMeta {
  minify: boolean;
  /** Absolute paths of every file in the bundle. */
  inputs: string[];
}

function mtime(path: string): number {
  return statSync(path).mtimeMs;
}

function upToDate(bundle: string, metaPath: string, minify: boolean): boolean {
  if (!existsSync(bundle) || !existsSync(metaPath) || !existsSync(`${bundle}.map`)) return false;
  let meta: SavedMeta;
  try {
    meta = JSON.parse(readFileSync(metaPath, "utf8")) as SavedMeta;
  } catch {
    return false;
  }
  if (meta.minify !== minify || !Array.isArray(meta.inputs)) return false;
  const built = mtime(bundle);
  for (const input of [VILLAGE_ENTRY, ...meta.inputs]) {
    // A file gone (renamed, deleted) also means the bundle is stale.
    if (!existsSync(input) || mtime(input) > built) return false;
  }
  return true;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { out: { type: "string" }, minify: { type: "boolean" }, force: { type: "boolean" } },
  });
  const started = Date.now();
  const dir = await buildVillage({ outDir: values.out, minify: values.minify, force: values.force });
  const size = statSync(join(dir, BUNDLE_FILE)).size;
  console.log(`village built in ${dir} (${BUNDLE_FILE} ${(size / 1024 / 1024).toFixed(2)} MiB, ${Date.now() - started} ms)`);
}

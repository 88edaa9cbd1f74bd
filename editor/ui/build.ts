// Builds the editor's page: bundles src/main.tsx — React, React Flow, elkjs, zustand and the editor's own
// code, with their CSS — into dist/main.js and dist/main.css (with source maps), which index.html loads.
// The editor host serves this folder (editor/ui/), so dist/ must exist before the page can work:
// `npm run editor` and the editor's e2e test call buildEditorUi(), which rebuilds only when needed.
//
//   await buildEditorUi();                     // rebuilt only when a source changed
//   npx tsx editor/ui/build.ts [--dev] [--force]
//
// The page is React's production build, minified, by default: the development build checks every render
// and is several times slower on a large graph. `--dev` (or PARLEY_EDITOR_DEV=1 for `npm run editor` and the
// tests) builds React's development build, unminified, for working on the editor itself.
//
// "Needed" means: a file the last bundle was made from (esbuild's metafile, kept in dist/build-meta.json)
// is newer than the bundle or gone, or an output is missing. Outputs are written to temporary files and
// renamed into place, so a page loaded during a rebuild never gets half a file.

import { build } from "esbuild";
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "..", "..");

export const EDITOR_UI_ENTRY = join(here, "src", "main.tsx");
export const EDITOR_UI_DIST = join(here, "dist");
const OUTPUTS = ["main.js", "main.js.map", "main.css", "main.css.map"];
const META_FILE = "build-meta.json";

export interface BuildEditorUiOptions {
  /** React's development build, unminified (default: PARLEY_EDITOR_DEV=1 in the environment, else production). */
  development?: boolean;
  /** Rebuild even when nothing changed. */
  force?: boolean;
}

/** Builds editor/ui/dist/ when it is missing or stale; returns whether it built. */
export async function buildEditorUi(options: BuildEditorUiOptions = {}): Promise<boolean> {
  const development = options.development ?? process.env.PARLEY_EDITOR_DEV === "1";
  const minify = !development;
  if (!options.force && upToDate(minify)) return false;
  mkdirSync(EDITOR_UI_DIST, { recursive: true });
  const result = await build({
    entryPoints: [EDITOR_UI_ENTRY],
    outdir: EDITOR_UI_DIST,
    entryNames: "main",
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    // React 17+'s automatic runtime: JSX compiles to react/jsx-runtime calls, no `import React` needed.
    jsx: "automatic",
    define: { "process.env.NODE_ENV": JSON.stringify(minify ? "production" : "development") },
    sourcemap: true,
    minify,
    metafile: true,
    write: false,
    legalComments: "eof",
    logLevel: "silent",
    absWorkingDir: repoRoot,
  });
  const stamp = process.pid;
  for (const file of result.outputFiles) {
    const temporary = `${file.path}.${stamp}.tmp`;
    writeFileSync(temporary, file.contents);
    renameSync(temporary, file.path);
  }
  const inputs = Object.keys(result.metafile.inputs).map((p) => resolve(repoRoot, p));
  writeFileSync(join(EDITOR_UI_DIST, META_FILE), JSON.stringify({ minify, inputs } satisfies SavedMeta, null, 1));
  return true;
}

interface SavedMeta {
  minify: boolean;
  /** Absolute paths of every file in the bundle. */
  inputs: string[];
}

function upToDate(minify: boolean): boolean {
  const outputs = OUTPUTS.map((name) => join(EDITOR_UI_DIST, name));
  if (!outputs.every((path) => existsSync(path))) return false;
  let meta: SavedMeta;
  try {
    meta = JSON.parse(readFileSync(join(EDITOR_UI_DIST, META_FILE), "utf8")) as SavedMeta;
  } catch {
    return false;
  }
  if (meta.minify !== minify || !Array.isArray(meta.inputs)) return false;
  const built = Math.min(...outputs.map((path) => statSync(path).mtimeMs));
  // A file gone (renamed, deleted) also means the bundle is stale; a new file is imported by one that changed.
  return [EDITOR_UI_ENTRY, ...meta.inputs].every((input) => existsSync(input) && statSync(input).mtimeMs <= built);
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { dev: { type: "boolean" }, force: { type: "boolean" } } });
  const started = Date.now();
  const built = await buildEditorUi({ development: values.dev, force: values.force });
  const size = statSync(join(EDITOR_UI_DIST, "main.js")).size;
  console.log(`editor UI ${built ? "built" : "up to date"} in ${EDITOR_UI_DIST} (main.js ${(size / 1024 / 1024).toFixed(2)} MiB, ${Date.now() - started} ms)`);
}

// Finds Electron's binary (optional: the `electron` package downloads it at install time, which needs network
// access) and starts the village in it. `npx tsx samples/village/electron/launch.ts [--model FILE]`.
//
// main.ts and preload.ts are bundled with esbuild into .cache/village-electron/ (inside the repository, so
// the bundle's bare imports resolve from node_modules); each source file's `import.meta.url` is kept as its
// original URL, so paths relative to the sources (the native addon, the village's JSON) still resolve.

import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { ResolvedModel } from "../../../runtime/models/index.js";

const here = dirname(fileURLToPath(import.meta.url));
const repoRoot = resolve(here, "../../..");

export const ELECTRON_MISSING = "electron binary not installed (optional dependency; its download needs network access)";

export type ElectronLookup = { found: true; path: string } | { found: false; reason: string };

/** Where Electron's binary is: ELECTRON_OVERRIDE_DIST_PATH, else node_modules/electron/dist/<path.txt>. */
export function findElectron(env: NodeJS.ProcessEnv = process.env): ElectronLookup {
  if (env.ELECTRON_OVERRIDE_DIST_PATH) {
    const path = join(env.ELECTRON_OVERRIDE_DIST_PATH, process.platform === "win32" ? "electron.exe" : "electron");
    return existsSync(path) ? { found: true, path } : { found: false, reason: `${ELECTRON_MISSING}: ELECTRON_OVERRIDE_DIST_PATH has no ${path}` };
  }
  let pkgDir: string;
  try {
    pkgDir = dirname(createRequire(join(repoRoot, "package.json")).resolve("electron/package.json"));
  } catch {
    return { found: false, reason: `${ELECTRON_MISSING}: no node_modules/electron` };
  }
  const pathTxt = join(pkgDir, "path.txt");
  if (!existsSync(pathTxt)) return { found: false, reason: `${ELECTRON_MISSING}: node_modules/electron has no path.txt (the download did not run)` };
  const path = join(pkgDir, "dist", readFileSync(pathTxt, "utf8").trim());
  if (!existsSync(path)) return { found: false, reason: `${ELECTRON_MISSING}: ${path} is missing` };
  return { found: true, path };
}

export interface ShellBundle {
  /** The main-process script (ESM). */
  main: string;
  /** The preload script (CommonJS, as a sandboxed preload must be). */
  preload: string;
}

/** Bundles main.ts and preload.ts with esbuild. */
export async function bundleShell(outDir = join(repoRoot, ".cache", "village-electron")): Promise<ShellBundle> {
  const esbuild = await import("esbuild");
  mkdirSync(outDir, { recursive: true });
  const keepImportMetaUrl: import("esbuild").Plugin = {
    name: "keep-import-meta-url",
    setup(build) {
      build.onLoad({ filter: /\.[cm]?ts$/ }, (args) => {
        if (args.path.includes(`${"/"}node_modules${"/"}`)) return undefined;
        const source = readFileSync(args.path, "utf8");
        return { contents: source.replaceAll("import.meta.url", JSON.stringify(pathToFileURL(args.path).href)), loader: "ts" };
      });
    },
  };
  const main = join(outDir, "main.mjs");
  const preload = join(outDir, "preload.cjs");
  await esbuild.build({
    entryPoints: [join(here, "main.ts")],
    outfile: main,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node20",
    packages: "external",
    plugins: [keepImportMetaUrl],
    logLevel: "warning",
  });
  await esbuild.build({
    entryPoints: [join(here, "preload.ts")],
    outfile: preload,
    bundle: true,
    platform: "node",
    format: "cjs",
    target: "node20",
    external: ["electron"],
    logLevel: "warning",
  });
  return { main, preload };
}

/** The command-line arguments for Electron's binary. */
export function electronArgs(
  bundle: ShellBundle,
  options: { gameDir: string; model?: string; resolved?: ResolvedModel; noSandbox?: boolean; saveFile?: string; newGame?: boolean },
): string[] {
  return [
    // Chromium's OS-level sandbox cannot start as root; the renderer keeps Electron's `sandbox: true`.
    ...(options.noSandbox ? ["--no-sandbox"] : []),
    bundle.main,
    `--game-dir=${options.gameDir}`,
    `--preload=${bundle.preload}`,
    ...(options.model ? [`--model=${options.model}`] : []),
    // A model `npm start` already resolved travels whole, so the window's note says where it came from.
    ...(options.resolved ? [`--resolved-model=${JSON.stringify(options.resolved)}`] : []),
    ...(options.saveFile ? [`--save=${options.saveFile}`] : []),
    ...(options.newGame ? ["--new-game"] : []),
  ];
}

async function cli(): Promise<number> {
  const { values } = parseArgs({ options: { model: { type: "string" } } });
  const electron = findElectron();
  if (!electron.found) {
    console.error(`parley village: ${electron.reason}. Use the browser mode instead: npm start`);
    return 1;
  }
  const { buildVillage } = await import("../build.js");
  const gameDir = await buildVillage();
  const bundle = await bundleShell();
  const args = electronArgs(bundle, { gameDir, model: values.model, noSandbox: process.getuid?.() === 0 });
  const child = spawn(electron.path, args, { stdio: "inherit" });
  return await new Promise<number>((done) => child.on("exit", (code) => done(code ?? 1)));
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await cli();
}

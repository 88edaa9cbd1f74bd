// Finds Electron's binary (optional: the `electron` package downloads it at install time, which needs network
// access) and starts the village in it. `npx tsx samples/village/electron/launch.ts [--model FILE]`.
//
// main.ts and preload.ts are bundled with esbuild into .cache/village-electron/ by the shells' shared
// bundler (runtime/host/electron/bundle.ts); finding the binary is shared too (find-electron.ts).

import { spawn } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { bundleElectronScript, shellCacheDir } from "../../../runtime/host/electron/bundle.js";
import { findElectron } from "../../../runtime/host/electron/find-electron.js";
import type { ResolvedModel } from "../../../runtime/models/index.js";

export { ELECTRON_MISSING, findElectron, type ElectronLookup } from "../../../runtime/host/electron/find-electron.js";

const here = dirname(fileURLToPath(import.meta.url));

export interface ShellBundle {
  /** The main-process script (ESM). */
  main: string;
  /** The preload script (CommonJS, as a sandboxed preload must be). */
  preload: string;
}

/** Bundles main.ts and preload.ts with esbuild (runtime/host/electron/bundle.ts). */
export async function bundleShell(outDir = shellCacheDir("village-electron")): Promise<ShellBundle> {
  const main = await bundleElectronScript(join(here, "main.ts"), outDir, "main");
  const preload = await bundleElectronScript(join(here, "preload.ts"), outDir, "preload");
  return { main, preload };
}

/** The command-line arguments for Electron's binary. */
export function electronArgs(
  bundle: ShellBundle,
  options: { gameDir: string; model?: string; resolved?: ResolvedModel; noSandbox?: boolean; saveFile?: string; newGame?: boolean; project?: string },
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
    ...(options.project ? [`--project=${options.project}`] : []),
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

// Starting the editor's Electron shell (electron-main.ts) from `npm run editor`: bundled with the shells'
// shared bundler, run with the shared launcher (runtime/host/electron/), the page's URL in the environment.

import { fileURLToPath } from "node:url";
import { bundleElectronScript, shellCacheDir } from "../../runtime/host/electron/bundle.js";
import { runElectron } from "../../runtime/host/electron/spawn-electron.js";
import { EDITOR_URL_ENV } from "./electron-main.js";

const MAIN_SOURCE = fileURLToPath(new URL("./electron-main.ts", import.meta.url));

/** Bundles electron-main.ts into .cache/editor-electron/; returns the script Electron runs. */
export function bundleEditorShell(outDir = shellCacheDir("editor-electron")): Promise<string> {
  return bundleElectronScript(MAIN_SOURCE, outDir, "main");
}

/** Electron's arguments: Chromium's OS-level sandbox cannot start as root (the renderer keeps `sandbox: true`). */
export function editorElectronArgs(mainScript: string, options: { noSandbox?: boolean } = {}): string[] {
  return [...(options.noSandbox ? ["--no-sandbox"] : []), mainScript];
}

/** The environment Electron runs with: the page's URL (and token) added. */
export function editorElectronEnv(env: NodeJS.ProcessEnv, pageUrl: string): NodeJS.ProcessEnv {
  return { ...env, [EDITOR_URL_ENV]: pageUrl };
}

/**
 * Shows the editor page `pageUrl` in Electron and waits until its window is closed: resolves with
 * Electron's exit code, or null when it could not start (`onStartError` hears why).
 */
export async function runEditorInElectron(electronPath: string, pageUrl: string, onStartError: (error: Error) => void): Promise<number | null> {
  const main = await bundleEditorShell();
  return runElectron(electronPath, editorElectronArgs(main, { noSandbox: process.getuid?.() === 0 }), editorElectronEnv(process.env, pageUrl), onStartError);
}

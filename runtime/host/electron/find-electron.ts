// Whether a Parley shell (the village, the editor) runs in Electron or in a browser: Electron's binary is an
// optional dependency (its download needs network access), and a window needs a display. The decision is a
// pure function of the flags and what was found, so it is tested without the binary.

import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "../../..");

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

/** Linux and BSDs need an X11 or Wayland display for a window; macOS and Windows always have one. */
export function hasDisplay(env: NodeJS.ProcessEnv = process.env, platform: NodeJS.Platform = process.platform): boolean {
  if (platform === "darwin" || platform === "win32") return true;
  return Boolean(env.DISPLAY || env.WAYLAND_DISPLAY);
}

export type ShellChoice = { mode: "electron"; electronPath: string } | { mode: "browser"; reason: string };

/** Electron when it is wanted, installed and has a display; otherwise the browser, with the reason to print. */
export function chooseShell(options: { browser: boolean; electron: ElectronLookup; display: boolean }): ShellChoice {
  if (options.browser) return { mode: "browser", reason: "--browser" };
  if (!options.electron.found) return { mode: "browser", reason: options.electron.reason };
  if (!options.display) return { mode: "browser", reason: "no display found (DISPLAY and WAYLAND_DISPLAY are unset)" };
  return { mode: "electron", electronPath: options.electron.path };
}

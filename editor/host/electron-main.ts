// The editor's Electron shell, main process: one window showing the editor page from the loopback host
// that `npm run editor` started (the host, the project files and the model stay in that process; the
// window is only a browser for its page). The URL, with this run's token, comes in the environment
// (PARLEY_EDITOR_URL), not on the command line, where other users' `ps` could read the token.
//
// The window follows the shells' shared rules (runtime/host/electron/hardening.ts): a sandboxed,
// context-isolated renderer without Node and without a preload (the page needs no IPC: it talks to its
// host over HTTP with its token, so there is no IPC channel to abuse), no new windows, no navigation away
// from the host's origin, no request to any other origin, a strict Content-Security-Policy, no permissions.
//
// Started by electron-shell.ts (which bundles this file):  PARLEY_EDITOR_URL=… electron electron-main.mjs

import { createRequire } from "node:module";
import type { ElectronMain, ElectronSessionApi } from "../../runtime/host/electron/electron-api.js";
import { confineSession, hardenWebContents, LOOPBACK_PAGE_CSP, secureWebPreferences } from "../../runtime/host/electron/hardening.js";

export const EDITOR_URL_ENV = "PARLEY_EDITOR_URL";

/** The page's URL and origin; only the loopback host's page (http://127.0.0.1:PORT/?token=…) is accepted. */
export function editorPageUrl(value: string | undefined): { url: string; origin: string } {
  if (value === undefined || value === "") throw new TypeError(`${EDITOR_URL_ENV} is not set (npm run editor sets it)`);
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new TypeError(`${EDITOR_URL_ENV} is not a URL: ${JSON.stringify(value)}`);
  }
  if (parsed.protocol !== "http:" || parsed.hostname !== "127.0.0.1" || parsed.port === "" || parsed.username !== "" || parsed.password !== "") {
    throw new TypeError(`${EDITOR_URL_ENV} must be the editor host's http://127.0.0.1:PORT/ URL, got ${parsed.origin}`);
  }
  if (!parsed.searchParams.get("token")) throw new TypeError(`${EDITOR_URL_ENV} has no token (?token=…)`);
  return { url: parsed.href, origin: parsed.origin };
}

/** Opens the editor's window on `pageUrl` once Electron is ready. */
export async function runEditorShell(electron: ElectronMain & ElectronSessionApi, pageUrl: string): Promise<void> {
  const { url, origin } = editorPageUrl(pageUrl);
  const { app, BrowserWindow } = electron;
  await app.whenReady();
  confineSession(electron.session.defaultSession, origin, LOOPBACK_PAGE_CSP);
  const win = new BrowserWindow({ width: 1440, height: 900, title: "Parley editor", backgroundColor: "#f6f7f9", webPreferences: secureWebPreferences() });
  hardenWebContents(win.webContents, origin);
  app.on("window-all-closed", () => app.quit());
  await win.loadURL(url);
}

// ---- entry point (only inside Electron: `process.versions.electron` is set) ----

if (process.versions.electron !== undefined) {
  const electron = createRequire(import.meta.url)("electron") as ElectronMain & ElectronSessionApi;
  runEditorShell(electron, process.env[EDITOR_URL_ENV] ?? "").catch((error: unknown) => {
    console.error("parley editor (electron):", error instanceof Error ? error.message : error);
    electron.app.quit();
  });
}

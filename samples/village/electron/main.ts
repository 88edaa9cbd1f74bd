// The village's Electron shell, main process. The model runs here (VillageService, the same host the browser
// mode serves over HTTP); the game runs in a sandboxed, context-isolated renderer that reaches the host only
// through preload.ts's `window.parley` (the GameHost interface). Requests arrive with ipcMain.handle and are
// validated here; host events (streamed tokens included) go out with webContents.send("parley:event", …).
//
// The game folder (buildVillage()'s output) is served from the privileged `parley://village/` scheme, not
// file://, so its module script loads and the page has a real origin that IPC requests are checked against.
//
// Started by launch.ts (which bundles this file and preload.ts):
//   electron main.mjs --game-dir=DIR --preload=preload.cjs [--model=FILE] [--seed=N]

import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import type { ResolvedModel } from "../../../runtime/models/index.js";
import type { HostEvent, HostInfo, NpcId } from "../protocol.js";
import { VILLAGE_NPCS } from "../protocol.js";
import type { ElectronMain } from "../../../runtime/host/electron/electron-api.js";
import { checkIpcSender, hardenWebContents, secureWebPreferences } from "../../../runtime/host/electron/hardening.js";
import { CHANNELS } from "./preload.js";

/** What the main process needs from the host (VillageService has it): the GameHost calls and dispose(). */
export interface VillageHost {
  info(): HostInfo | Promise<HostInfo>;
  subscribe(listener: (event: HostEvent) => void): () => void;
  start(npc: NpcId): Promise<void>;
  choose(index: number): Promise<void>;
  submit(text: string): Promise<void>;
  cancel(): Promise<void>;
  /** VillageService says whether a bark started; the renderer's GameHost.bark() ignores it. */
  bark(npc: NpcId): Promise<unknown>;
  dispose(): Promise<void>;
}

export const SCHEME = "parley";
export const ORIGIN = `${SCHEME}://village`;
const MAX_TEXT = 2000;

export interface ShellOptions {
  /** buildVillage()'s folder: index.html and its bundle. */
  gameDir: string;
  /** The absolute path of the bundled preload script. */
  preload: string;
  /** Creates the host once Electron is ready (the model loads in this process). */
  createHost: () => Promise<VillageHost>;
}

// ---- argument validation (the renderer is untrusted) ----

function fail(message: string): never {
  throw new TypeError(message);
}

/** `--resolved-model=JSON` from `npm start` (launch.ts): the model it resolved, with its on-screen note. */
export function parseResolvedModel(json: string): ResolvedModel {
  let v: Partial<ResolvedModel>;
  try {
    v = JSON.parse(json) as Partial<ResolvedModel>;
  } catch {
    return fail("--resolved-model is not JSON");
  }
  if (typeof v?.path !== "string" || typeof v.note !== "string" || typeof v.synthetic !== "boolean") {
    return fail("--resolved-model needs path, note and synthetic");
  }
  return v as ResolvedModel;
}

export function validNpc(value: unknown): NpcId {
  if (typeof value !== "string" || !VILLAGE_NPCS.some((n) => n.id === value)) fail(`unknown npc: ${JSON.stringify(value)}`);
  return value as NpcId;
}

export function validIndex(value: unknown): number {
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 0) fail(`choice index must be a non-negative integer, got ${JSON.stringify(value)}`);
  return value;
}

export function validText(value: unknown): string {
  if (typeof value !== "string") fail("text must be a string");
  if (value.length > MAX_TEXT) fail(`text longer than ${MAX_TEXT} characters`);
  return value;
}

/** Maps a parley://village/… URL onto a file inside gameDir; null for anything outside it. */
export function gameFile(gameDir: string, url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== `${SCHEME}:` || parsed.host !== "village") return null;
  let path: string;
  try {
    path = decodeURIComponent(parsed.pathname);
  } catch {
    return null; // malformed %-escape
  }
  const file = resolve(gameDir, "." + (path === "/" ? "/index.html" : path));
  const rel = relative(resolve(gameDir), file);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel) || rel.split(sep).includes("..")) return null;
  return file;
}

/**
 * Registers the IPC handlers on `electron.ipcMain`; returns a function that removes them. `host` may still be
 * loading (the model): calls wait for it, so the window can show the game's loading screen meanwhile.
 */
export function registerIpc(electron: Pick<ElectronMain, "ipcMain">, hostReady: VillageHost | Promise<VillageHost>): () => void {
  const handlers: Record<string, (host: VillageHost, ...args: unknown[]) => unknown> = {
    [CHANNELS.info]: (host) => host.info(),
    [CHANNELS.start]: (host, npc) => host.start(validNpc(npc)),
    [CHANNELS.choose]: (host, index) => host.choose(validIndex(index)),
    [CHANNELS.submit]: (host, text) => host.submit(validText(text)),
    [CHANNELS.cancel]: (host) => host.cancel(),
    [CHANNELS.bark]: (host, npc) => host.bark(validNpc(npc)),
  };
  for (const [channel, handler] of Object.entries(handlers)) {
    electron.ipcMain.handle(channel, async (event, ...args) => {
      checkIpcSender(event, ORIGIN);
      return (await handler(await hostReady, ...args)) ?? null;
    });
  }
  return () => {
    for (const channel of Object.keys(handlers)) electron.ipcMain.removeHandler(channel);
  };
}

/** Everything before `app.whenReady()`: the custom scheme must be registered first. */
export function prepare(electron: ElectronMain): void {
  electron.protocol.registerSchemesAsPrivileged([
    { scheme: SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: true } },
  ]);
}

/** Starts the shell: serves the game, creates the host and the window, wires IPC. */
export async function runShell(electron: ElectronMain, options: ShellOptions): Promise<void> {
  const { app, BrowserWindow, protocol, net } = electron;
  await app.whenReady();

  protocol.handle(SCHEME, (request) => {
    const file = gameFile(options.gameDir, request.url);
    if (file === null || !existsSync(file)) return new Response("not found", { status: 404 });
    return net.fetch(pathToFileURL(file).href);
  });

  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    title: "Parley — Village",
    backgroundColor: "#8fb8d8",
    webPreferences: secureWebPreferences(options.preload),
  });
  // The game never opens windows or navigates away (the shells' shared rules: runtime/host/electron/hardening.ts).
  hardenWebContents(win.webContents, ORIGIN);

  // The model loads while the window shows the game's loading screen. Host events (streamed tokens
  // included) are forwarded from before the first IPC call can reach the host.
  let unsubscribe = (): void => {};
  const hostReady = options.createHost().then((host) => {
    unsubscribe = host.subscribe((event: HostEvent) => {
      if (!win.webContents.isDestroyed()) win.webContents.send(CHANNELS.event, event);
    });
    return host;
  });
  const unregister = registerIpc(electron, hostReady);

  let closed = false;
  const shutdown = async (): Promise<void> => {
    if (closed) return;
    closed = true;
    unsubscribe();
    unregister();
    await (await hostReady.catch(() => undefined))?.dispose();
  };
  win.on("closed", () => void shutdown());
  app.on("window-all-closed", () => {
    void shutdown().finally(() => app.quit());
  });

  await win.loadURL(`${ORIGIN}/index.html`);
  await hostReady; // a host that cannot start is reported by the caller
}

// ---- entry point (only inside Electron: `process.versions.electron` is set) ----

if (process.versions.electron !== undefined) {
  const electron = createRequire(import.meta.url)("electron") as ElectronMain;
  const { values } = parseArgs({
    args: process.argv.slice(1),
    options: {
      "game-dir": { type: "string" },
      model: { type: "string" },
      "resolved-model": { type: "string" },
      preload: { type: "string" },
      seed: { type: "string" },
      save: { type: "string" },
      "new-game": { type: "boolean" },
      project: { type: "string" },
    },
    strict: false,
    allowPositionals: true,
  });
  const gameDir = typeof values["game-dir"] === "string" ? resolve(values["game-dir"]) : undefined;
  const preload = typeof values.preload === "string" ? resolve(values.preload) : undefined;
  const model = typeof values.model === "string" ? values.model : undefined;
  const resolved = typeof values["resolved-model"] === "string" ? parseResolvedModel(values["resolved-model"]) : undefined;
  const seed = typeof values.seed === "string" ? Number(values.seed) : undefined;
  const saveFile = typeof values.save === "string" ? values.save : undefined;
  const newGame = values["new-game"] === true;
  // `--project=DIR`: the NPCs from that folder, watched (village-project.ts).
  const project = typeof values.project === "string" ? resolve(values.project) : undefined;
  prepare(electron);
  if (gameDir === undefined || preload === undefined) {
    console.error("parley village (electron): --game-dir=DIR and --preload=FILE are required (launch.ts passes them)");
    electron.app.quit();
  } else {
    runShell(electron, {
      gameDir,
      preload,
      createHost: async () => {
        const { VillageService } = await import("../host/village-service.js");
        return VillageService.create({ model, resolved, seed, saveFile, newGame, ...(project !== undefined ? { dataDir: project, live: true } : {}) });
      },
    }).catch((error: unknown) => {
      console.error("parley village (electron):", error);
      electron.app.quit();
    });
  }
}

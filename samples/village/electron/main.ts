// The village's Electron shell, main process. The model runs here (createVillageHost's ConversationHost, the
// same host the browser mode serves over HTTP); the game runs in a sandboxed, context-isolated renderer that
// reaches it only through `window.parley` (preload.ts, parley-npc/host/preload). Everything Electron-specific
// is the library's (parley-npc/host/electron, plugin/host/electron/main.ts): the game folder served from
// `parley://village/`, the hardened window, and the conversation protocol over checked IPC. This file only
// reads its arguments and creates the village's host.
//
// Started by launch.ts (which bundles this file and preload.ts):
//   electron main.mjs --game-dir=DIR --preload=preload.cjs [--model=FILE] [--seed=N]

import { createRequire } from "node:module";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import type { ResolvedModel } from "../../../runtime/models/index.js";
import type { ElectronMain } from "../../../runtime/host/electron/electron-api.js";
import type { HostService } from "../../../plugin/host/protocol.js";
import { attachParley, createGameWindow, registerGameScheme, serveGameFolder } from "../../../plugin/host/electron/main.js";

/** Where the game is served: parley://village/. */
export const GAME = { scheme: "parley", host: "village" } as const;
export const ORIGIN = `${GAME.scheme}://${GAME.host}`;

export interface ShellOptions {
  /** buildVillage()'s folder: index.html and its bundle. */
  gameDir: string;
  /** The absolute path of the bundled preload script. */
  preload: string;
  /** Creates the host once Electron is ready (the model loads in this process). */
  createHost: () => Promise<HostService>;
}

/** `--resolved-model=JSON` from `npm start` (launch.ts): the model it resolved, with its on-screen note. */
export function parseResolvedModel(json: string): ResolvedModel {
  let v: Partial<ResolvedModel>;
  try {
    v = JSON.parse(json) as Partial<ResolvedModel>;
  } catch {
    throw new TypeError("--resolved-model is not JSON");
  }
  if (typeof v?.path !== "string" || typeof v.note !== "string" || typeof v.synthetic !== "boolean") {
    throw new TypeError("--resolved-model needs path, note and synthetic");
  }
  return v as ResolvedModel;
}

/** Starts the shell once Electron is ready: serves the game, opens the window, attaches the host. */
export async function runShell(electron: ElectronMain, options: ShellOptions): Promise<void> {
  const { app } = electron;
  await app.whenReady();
  const origin = serveGameFolder(electron, { ...GAME, dir: options.gameDir });
  const win = createGameWindow(electron, { origin, preload: options.preload, width: 1280, height: 800, title: "Parley — Village", backgroundColor: "#8fb8d8" });
  // The model loads while the window shows the game's loading screen; requests wait for it.
  const host = options.createHost();
  const detach = attachParley(electron, win, host, { origin });
  app.on("window-all-closed", () => {
    void detach().finally(() => app.quit());
  });
  await win.loadURL(`${origin}/index.html`);
  await host; // a host that cannot start is reported by the caller
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
  // `--project=DIR`: the NPCs from that folder, watched (plugin/host/project-npcs.ts).
  const project = typeof values.project === "string" ? resolve(values.project) : undefined;
  registerGameScheme(electron, GAME); // before app.whenReady()
  if (gameDir === undefined || preload === undefined) {
    console.error("parley village (electron): --game-dir=DIR and --preload=FILE are required (launch.ts passes them)");
    electron.app.quit();
  } else {
    runShell(electron, {
      gameDir,
      preload,
      createHost: async () => {
        const { createVillageHost } = await import("../host/village-host.js");
        return createVillageHost({ model, resolved, seed, saveFile, newGame, ...(project !== undefined ? { dataDir: project, live: true } : {}) });
      },
    }).catch((error: unknown) => {
      console.error("parley village (electron):", error);
      electron.app.quit();
    });
  }
}

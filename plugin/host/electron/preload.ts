// parley-npc/host/preload: the renderer's side of a game's Electron shell. exposeParley() puts exactly a
// ParleyBridge (plugin/host/protocol.ts) on the page as `window.parley`: six request functions, each sending
// (method, params[]) on PARLEY_CHANNELS.request and resolving with the main process's HostReply, and
// subscribe(), which relays host events. The page gets no ipcRenderer, no Electron event object, no Node;
// it uses the bridge through parley-npc/host/client. The main process answers with attachParley()
// (parley-npc/host/electron).
//
// A sandboxed preload must be one CommonJS file that requires nothing but "electron" (this package is ES
// modules), so a game bundles its preload, e.g. preload.ts:
//
//   import { exposeParley } from "parley-npc/host/preload";
//   exposeParley();
//
// with esbuild: `esbuild preload.ts --bundle --platform=node --format=cjs --external:electron
// --outfile=preload.cjs` (the village does this with runtime/host/electron/bundle.ts), and passes the
// bundle's absolute path as createGameWindow's `preload`. This module imports only channels.ts and types, so
// the bundle holds no Node module. Importing it does nothing by itself: a game's preload calls exposeParley()
// once (contextBridge refuses a second `window.parley`).

import type { HostEvent, HostMethod, HostReply, ParleyBridge } from "../protocol.js";
import type { ElectronPreload, IpcRenderer, IpcRendererEvent } from "../../../runtime/host/electron/electron-api.js";
import { PARLEY_CHANNELS } from "./channels.js";

/** The bridge over `ipc`: what exposeParley() exposes (tests drive it with a stand-in ipcRenderer). */
export function createBridge(ipc: IpcRenderer): ParleyBridge {
  const request = async (method: HostMethod, params: unknown[]): Promise<HostReply> => {
    try {
      return (await ipc.invoke(PARLEY_CHANNELS.request, method, params)) as HostReply;
    } catch (error) {
      // No handler on the channel (attachParley not called, or the window was detached), or IPC failed.
      const detail = error instanceof Error ? error.message : String(error);
      return { ok: false, error: { code: "HOST_UNAVAILABLE", message: `the game's host did not answer: ${detail}` } };
    }
  };
  return {
    info: () => request("info", []),
    start: (npc: string) => request("start", [npc]),
    choose: (index: number) => request("choose", [index]),
    submit: (text: string) => request("submit", [text]),
    cancel: () => request("cancel", []),
    bark: (npc: string) => request("bark", [npc]),
    subscribe(listener: (event: HostEvent) => void): () => void {
      if (typeof listener !== "function") throw new TypeError("subscribe(listener): listener must be a function");
      // Only the host event travels to the page, never Electron's IPC event object (it reaches ipcRenderer).
      const relay = (_event: IpcRendererEvent, hostEvent: unknown): void => listener(hostEvent as HostEvent);
      ipc.on(PARLEY_CHANNELS.event, relay);
      let subscribed = true;
      return () => {
        if (!subscribed) return;
        subscribed = false;
        ipc.removeListener(PARLEY_CHANNELS.event, relay);
      };
    },
  };
}

/**
 * Exposes the bridge to the page as `window.parley`. `electron` defaults to `require("electron")` (what a
 * bundled preload has); tests pass stand-ins.
 */
// A sandboxed preload can only require("electron"), and only as CommonJS (the bundled form): no import here.
// eslint-disable-next-line @typescript-eslint/no-require-imports
export function exposeParley(electron: ElectronPreload = require("electron") as ElectronPreload): void {
  electron.contextBridge.exposeInMainWorld("parley", createBridge(electron.ipcRenderer));
}

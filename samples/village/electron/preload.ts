// The Electron renderer's bridge to the host: exposes exactly the GameHost interface (protocol.ts) as
// `window.parley`. The renderer runs sandboxed with contextIsolation, so this script is all the page gets:
// seven functions, no ipcRenderer, no Node. Bundled to CommonJS by launch.ts (a sandboxed preload may only
// `require("electron")`).

import type { GameHost, HostEvent, HostInfo, NpcId } from "../protocol.js";
import type { ElectronPreload, IpcRenderer, IpcRendererEvent } from "../../../runtime/host/electron/electron-api.js";

/** Channels between preload and main (main.ts handles the `parley:<method>` ones). */
export const CHANNELS = {
  info: "parley:info",
  start: "parley:start",
  choose: "parley:choose",
  submit: "parley:submit",
  cancel: "parley:cancel",
  bark: "parley:bark",
  /** Main → renderer: one HostEvent per message. */
  event: "parley:event",
} as const;

export function createBridge(ipc: IpcRenderer): GameHost {
  const call = async (channel: string, ...args: unknown[]): Promise<void> => {
    await ipc.invoke(channel, ...args);
  };
  return {
    info: async () => (await ipc.invoke(CHANNELS.info)) as HostInfo,
    subscribe(listener: (event: HostEvent) => void): () => void {
      if (typeof listener !== "function") throw new TypeError("subscribe(listener): listener must be a function");
      // Only the event travels to the page, never Electron's IPC event object.
      const relay = (_event: IpcRendererEvent, hostEvent: unknown): void => listener(hostEvent as HostEvent);
      ipc.on(CHANNELS.event, relay);
      return () => ipc.removeListener(CHANNELS.event, relay);
    },
    start: (npc: NpcId) => call(CHANNELS.start, npc),
    choose: (index: number) => call(CHANNELS.choose, index),
    submit: (text: string) => call(CHANNELS.submit, text),
    cancel: () => call(CHANNELS.cancel),
    bark: (npc: NpcId) => call(CHANNELS.bark, npc),
  };
}

export function exposeParley(electron: ElectronPreload): void {
  electron.contextBridge.exposeInMainWorld("parley", createBridge(electron.ipcRenderer));
}

// In Electron's preload context `process.type` is "renderer"; elsewhere (tests importing createBridge) this
// does nothing.
if ((globalThis as { process?: { type?: string } }).process?.type === "renderer") {
  exposeParley(require("electron") as ElectronPreload);
}

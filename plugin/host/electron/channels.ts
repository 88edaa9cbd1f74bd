// The two IPC channels between the Electron preload (parley-npc/host/preload) and the main-process helper
// (parley-npc/host/electron). No imports: the sandboxed preload bundles this file.

export const PARLEY_CHANNELS = {
  /** Renderer → main, `ipcRenderer.invoke(request, method, params[])`; answered with a HostReply. */
  request: "parley:request",
  /** Main → renderer, `webContents.send(event, hostEvent)`: one HostEvent per message. */
  event: "parley:event",
} as const;

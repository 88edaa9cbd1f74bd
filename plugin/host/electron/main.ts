// parley-npc/host/electron: the main-process side of a game's Electron shell. The model runs in the main
// process behind a HostService (plugin/host/protocol.ts); the game's page runs in a sandboxed,
// context-isolated renderer and reaches it only through parley-npc/host/preload's `window.parley`. This
// module serves the game's folder from a custom scheme (a real origin, so module scripts load and IPC has an
// origin to check), opens a hardened window on it, and answers the page's requests:
//
//   const electron = require("electron");
//   const game = { scheme: "mygame", host: "main" };                    // pages at mygame://main/…
//   registerGameScheme(electron, game);                                   // before app.whenReady()
//   await electron.app.whenReady();
//   const origin = serveGameFolder(electron, { ...game, dir: join(here, "web") });
//   const win = createGameWindow(electron, { origin, preload: join(here, "preload.cjs"), title: "My game" });
//   const host = ConversationHost.create({ npcs, backend });            // a HostService, or a Promise of one
//   attachParley(electron, win, host, { origin });                        // before the page loads
//   electron.app.on("window-all-closed", () => electron.app.quit());
//   await win.loadURL(`${origin}/index.html`);
//
// Every request is answered with a HostReply, never a thrown error: first the sender is checked (the
// attached window's own webContents, its frame on `origin`; anything else is FORBIDDEN_SENDER and nothing
// runs), then the request is parsed (parseHostRequest: a refused one answers with its ProtocolError code),
// then the host runs it (failures through describeHostError). Requests wait while the host is still
// loading. Host events go to the window on PARLEY_CHANNELS.event. Closing the window (or calling the
// function attachParley returns) removes the handler, ends the subscription and disposes the host.
// One window is attached at a time (Electron allows one handler per channel).
//
// The window follows the shells' shared security rules (runtime/host/electron/hardening.ts): sandboxed,
// context-isolated, no Node, no new windows, no navigation away from the game's origin.

import { realpathSync, statSync } from "node:fs";
import { isAbsolute, relative, resolve, sep } from "node:path";
import { pathToFileURL } from "node:url";
import { DisposedError } from "../../../runtime/errors.js";
import type { BrowserWindow, BrowserWindowOptions, ElectronMain, IpcMainInvokeEvent } from "../../../runtime/host/electron/electron-api.js";
import { checkIpcSender, hardenWebContents, isSameOrigin, secureWebPreferences } from "../../../runtime/host/electron/hardening.js";
import { describeHostError } from "../host-errors.js";
import { isHostMethod, parseHostRequest, ProtocolError, type HostReply, type HostService } from "../protocol.js";
import { PARLEY_CHANNELS } from "./channels.js";

export { PARLEY_CHANNELS } from "./channels.js";

// ---- the game's folder on a custom scheme ----

/** Where the game is served: `scheme://host/` (e.g. parley://village/). */
export interface GameLocation {
  /** A custom scheme of lowercase letters, digits, "+", "-" and "." (e.g. "game"), registered with registerGameScheme. */
  scheme: string;
  /** The host part of the game's URLs (e.g. "main"); default "game". */
  host?: string;
}

const SCHEME = /^[a-z][a-z0-9+.-]*$/;
const HOST = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;
const BUILT_IN_SCHEMES = new Set(["http", "https", "file", "ftp", "ws", "wss", "data", "blob", "about", "javascript", "chrome", "devtools", "filesystem"]);

function checkedLocation(location: GameLocation): { scheme: string; host: string } {
  const { scheme, host = "game" } = location;
  if (typeof scheme !== "string" || !SCHEME.test(scheme) || BUILT_IN_SCHEMES.has(scheme)) {
    throw new TypeError(`game scheme must be a custom scheme name (lowercase letters, digits, + - .), got ${JSON.stringify(scheme)}`);
  }
  if (typeof host !== "string" || !HOST.test(host)) throw new TypeError(`game host must be a lowercase host name, got ${JSON.stringify(host)}`);
  return { scheme, host };
}

/** The origin of the game's pages: "scheme://host" (what IPC senders are checked against). */
export function gameOrigin(location: GameLocation): string {
  const { scheme, host } = checkedLocation(location);
  return `${scheme}://${host}`;
}

/**
 * Registers the game's scheme as a privileged, standard, secure one (module scripts and fetch() work on it).
 * Electron only accepts this before `app.whenReady()` resolves, once for all schemes.
 */
export function registerGameScheme(electron: Pick<ElectronMain, "protocol">, location: GameLocation): void {
  const { scheme } = checkedLocation(location);
  electron.protocol.registerSchemesAsPrivileged([{ scheme, privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
}

/**
 * Maps a game URL onto a path inside `dir` ("/" is index.html); null for another scheme or host, a user,
 * password or port, a malformed escape, or a path that leaves the folder.
 */
export function gameFile(dir: string, url: string, location: GameLocation): string | null {
  const { scheme, host } = checkedLocation(location);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  if (parsed.protocol !== `${scheme}:` || parsed.host !== host || parsed.username !== "" || parsed.password !== "") return null;
  let path: string;
  try {
    path = decodeURIComponent(parsed.pathname);
  } catch {
    return null; // malformed %-escape
  }
  if (path.includes("\0")) return null;
  return inside(dir, resolve(dir, "." + (path === "/" ? "/index.html" : path)));
}

/** `file` when it lies inside `dir` (not `dir` itself), else null. */
function inside(dir: string, file: string): string | null {
  const rel = relative(resolve(dir), file);
  if (rel === "" || rel.startsWith("..") || isAbsolute(rel) || rel.split(sep).includes("..")) return null;
  return file;
}

/**
 * Answers the game's scheme from `dir` (after `app.whenReady()`): files inside the folder only, symbolic
 * links leading out of it included; anything else is a 404. Returns the game's origin.
 */
export function serveGameFolder(electron: Pick<ElectronMain, "protocol" | "net">, options: GameLocation & { dir: string }): string {
  const location = checkedLocation(options);
  let root: string;
  try {
    root = realpathSync(resolve(options.dir));
  } catch {
    throw new TypeError(`the game folder ${JSON.stringify(options.dir)} does not exist`);
  }
  const notFound = (): Response => new Response("not found", { status: 404 });
  electron.protocol.handle(location.scheme, (request) => {
    const file = gameFile(root, request.url, location);
    if (file === null) return notFound();
    let real: string;
    try {
      real = realpathSync(file);
      if (inside(root, real) === null || !statSync(real).isFile()) return notFound();
    } catch {
      return notFound();
    }
    return electron.net.fetch(pathToFileURL(real).href);
  });
  return gameOrigin(location);
}

// ---- the window ----

export interface GameWindowOptions extends Omit<BrowserWindowOptions, "webPreferences"> {
  /** The game's origin (serveGameFolder's answer): the window may not navigate away from it. */
  origin: string;
  /** The absolute path of the bundled preload script (the one that calls exposeParley()). */
  preload: string;
}

/** A BrowserWindow with the shared security settings, hardened to stay on `origin`. It loads nothing yet. */
export function createGameWindow(electron: Pick<ElectronMain, "BrowserWindow">, options: GameWindowOptions): BrowserWindow {
  const { origin, preload, ...windowOptions } = options;
  checkOrigin(origin);
  if (typeof preload !== "string" || !isAbsolute(preload)) throw new TypeError(`preload must be an absolute path, got ${JSON.stringify(preload)}`);
  const win = new electron.BrowserWindow({ ...windowOptions, webPreferences: secureWebPreferences(preload) });
  hardenWebContents(win.webContents, origin);
  return win;
}

function checkOrigin(origin: string): void {
  if (typeof origin !== "string" || !isSameOrigin(`${origin}/`, origin))
    throw new TypeError(`origin must be "scheme://host[:port]", got ${JSON.stringify(origin)}`);
}

// ---- the conversation protocol over IPC ----

export interface AttachParleyOptions {
  /** The game's origin: only frames showing it are answered. */
  origin: string;
  /** Dispose the host when the window closes or the bridge is detached (default true). */
  disposeHost?: boolean;
  /** Where unexpected failures are logged (default console.error); the page gets a bare "internal error". */
  log?: (error: unknown) => void;
}

function refuse(code: string, message: string): HostReply {
  return { ok: false, error: { code, message } };
}

/**
 * Answers `win`'s page on PARLEY_CHANNELS.request with `host` (a HostService, or a Promise of one while the
 * model loads) and sends it the host's events. Returns the function that detaches it (removes the handler,
 * ends the subscription, disposes the host unless `disposeHost` is false); closing the window does the same.
 */
export function attachParley(
  electron: Pick<ElectronMain, "ipcMain">,
  win: BrowserWindow,
  host: HostService | Promise<HostService>,
  options: AttachParleyOptions,
): () => Promise<void> {
  const { origin } = options;
  checkOrigin(origin);
  const log = options.log ?? ((error: unknown) => console.error("parley host: request failed:", error));
  const { ipcMain } = electron;
  // Kept from the start: after the window closes, its webContents may no longer be reachable through it.
  const contents = win.webContents;
  const contentsId = contents.id;
  const hostReady = Promise.resolve(host);
  let detached = false;
  let unsubscribe: (() => void) | undefined;
  let detaching: Promise<void> | undefined;

  hostReady.then(
    (service) => {
      if (detached) return;
      unsubscribe = service.subscribe((event) => {
        if (!detached && !contents.isDestroyed()) contents.send(PARLEY_CHANNELS.event, event);
      });
    },
    () => undefined, // a host that fails to load is reported to each request
  );

  const foreignSender = (event: IpcMainInvokeEvent): string | undefined => {
    const sender = event.sender;
    const same = sender !== undefined && sender !== null && (sender === contents || (contentsId !== undefined && sender.id === contentsId));
    if (!same) return "IPC from another window; only the game's window is answered";
    try {
      checkIpcSender(event, origin);
    } catch (error) {
      return (error as Error).message;
    }
    return undefined;
  };

  const answer = async (event: IpcMainInvokeEvent, args: unknown[]): Promise<HostReply> => {
    const forbidden = foreignSender(event);
    if (forbidden !== undefined) return refuse("FORBIDDEN_SENDER", forbidden);
    try {
      const [method, params] = args;
      if (args.length > 2) throw new ProtocolError("INVALID_ARGUMENT", `a request is (method, params[]); got ${args.length} arguments`);
      if (isHostMethod(method) && !Array.isArray(params)) {
        throw new ProtocolError("INVALID_ARGUMENT", `${method}: the parameters must be an array, got ${params === null ? "null" : typeof params}`);
      }
      const request = parseHostRequest(method, params);
      const service = await hostReady;
      if (detached) throw new DisposedError("the game window's Parley bridge");
      return { ok: true, value: (await service.handle(request)) ?? null };
    } catch (error) {
      const { code, message } = describeHostError(error, log);
      return refuse(code, message);
    }
  };

  ipcMain.handle(PARLEY_CHANNELS.request, (event, ...args) => answer(event, args));

  const detach = (): Promise<void> => {
    if (detaching !== undefined) return detaching;
    detached = true;
    ipcMain.removeHandler(PARLEY_CHANNELS.request);
    detaching = hostReady
      .then(
        async (service) => {
          unsubscribe?.();
          unsubscribe = undefined;
          if (options.disposeHost !== false) await service.dispose();
        },
        () => undefined,
      )
      .catch((error: unknown) => log(error));
    return detaching;
  };
  win.on("closed", () => void detach());
  return detach;
}

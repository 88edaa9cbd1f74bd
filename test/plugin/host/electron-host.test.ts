// The Electron transport of the conversation protocol: parley-npc/host/electron (attachParley, the game
// folder's scheme, the game window) and parley-npc/host/preload (the `window.parley` bridge). Electron's
// binary cannot run here, so these tests use small in-memory stand-ins for ipcMain, webContents,
// BrowserWindow, contextBridge and ipcRenderer, wired to each other the way Electron wires them: a bridge
// call is structured-cloned to the handler attachParley registered, with the sending webContents and frame
// as Electron's event carries them, and its reply comes back the same way; webContents.send reaches the
// renderer's listeners with an IPC event object in front. The host is a real ConversationHost (the village's
// characters and graphs, authored lines only) wherever the test does not need to control the host.
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FallbackBackend } from "../../../plugin/index.js";
import { ConversationHost } from "../../../plugin/host/conversation-host.js";
import { PARLEY_CHANNELS } from "../../../plugin/host/electron/channels.js";
import { attachParley, createGameWindow, gameFile, gameOrigin, registerGameScheme, serveGameFolder } from "../../../plugin/host/electron/main.js";
import { createBridge, exposeParley } from "../../../plugin/host/electron/preload.js";
import {
  HOST_METHODS,
  parseHostRequest,
  type HostEvent,
  type HostReply,
  type HostRequest,
  type HostService,
  type ParleyBridge,
} from "../../../plugin/host/protocol.js";
import { seededRandom } from "../../fixtures/seeded-random.js";
import type {
  BrowserWindow,
  BrowserWindowOptions,
  CustomScheme,
  ElectronMain,
  IpcMainInvokeEvent,
  IpcRenderer,
  IpcRendererEvent,
  NavigationEvent,
} from "../../../runtime/host/electron/electron-api.js";

const ORIGIN = "parley://village";
const BRIDGE_KEYS = ["bark", "cancel", "choose", "info", "start", "submit", "subscribe"];
const village = (dir: string, id: string): unknown =>
  JSON.parse(readFileSync(fileURLToPath(new URL(`../../../samples/village/${dir}/${id}.json`, import.meta.url)), "utf8"));

// ---- stand-ins for Electron ----

type InvokeHandler = (event: IpcMainInvokeEvent, ...args: unknown[]) => unknown;

/** ipcMain: one handler per channel, as Electron (a second handle() on a channel throws). */
class StandInIpcMain {
  readonly handlers = new Map<string, InvokeHandler>();
  handle(channel: string, listener: InvokeHandler): void {
    if (this.handlers.has(channel)) throw new Error(`Attempted to register a second handler for '${channel}'`);
    this.handlers.set(channel, listener);
  }
  removeHandler(channel: string): void {
    this.handlers.delete(channel);
  }
}

let nextWebContentsId = 1;

/** A window whose page shows `url` (the frame's URL can change: navigation) and whose renderer has an ipcRenderer. */
class StandInWindow implements BrowserWindow {
  readonly frame: { url: string } = { url: "" };
  /** The page's frame as Electron reports it: null once it navigated away or was destroyed. */
  senderFrame: { url: string } | null = this.frame;
  destroyed = false;
  readonly loaded: string[] = [];
  readonly closedListeners: (() => void)[] = [];
  readonly rendererListeners = new Map<string, Set<(event: IpcRendererEvent, ...args: unknown[]) => void>>();
  readonly navigationListeners = new Map<string, (event: NavigationEvent, url: string) => void>();
  windowOpenHandler: ((details: { url: string }) => { action: string }) | undefined;
  readonly webContents;

  constructor(
    readonly ipcMain: StandInIpcMain,
    readonly options?: BrowserWindowOptions,
  ) {
    // The stand-in webContents' methods read the window's state, as Electron's do.
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const window = this;
    this.webContents = {
      id: nextWebContentsId++,
      send(channel: string, ...args: unknown[]): void {
        if (window.destroyed) throw new Error("Object has been destroyed");
        const cloned = structuredClone(args);
        for (const listener of window.rendererListeners.get(channel) ?? [])
          listener({ senderId: 0, sender: "the ipcRenderer object" } as IpcRendererEvent, ...cloned);
      },
      isDestroyed: () => window.destroyed,
      setWindowOpenHandler: (handler: (details: { url: string }) => { action: "deny" } | { action: "allow" }) => void (window.windowOpenHandler = handler),
      on: (event: string, listener: (event: NavigationEvent, url: string) => void) => void window.navigationListeners.set(event, listener),
    };
  }

  async loadURL(url: string): Promise<void> {
    this.loaded.push(url);
    this.frame.url = url;
  }

  on(_event: "closed", listener: () => void): void {
    this.closedListeners.push(listener);
  }

  close(): void {
    this.destroyed = true;
    this.senderFrame = null;
    for (const listener of this.closedListeners) listener();
  }

  /** The renderer's ipcRenderer: invoke() reaches ipcMain's handler as this window's page. */
  ipcRenderer(): IpcRenderer {
    return this.ipcRendererAs(() => ({ sender: this.webContents, senderFrame: this.senderFrame }));
  }

  /** An ipcRenderer whose messages carry `event()` as their sender (another window, a foreign frame). */
  ipcRendererAs(event: () => IpcMainInvokeEvent): IpcRenderer {
    return {
      invoke: async (channel, ...args) => {
        const handler = this.ipcMain.handlers.get(channel);
        if (handler === undefined) throw new Error(`Error invoking remote method '${channel}': Error: No handler registered for '${channel}'`);
        return structuredClone(await handler(event(), ...structuredClone(args)));
      },
      on: (channel, listener) => {
        const set = this.rendererListeners.get(channel) ?? new Set();
        set.add(listener);
        this.rendererListeners.set(channel, set);
      },
      removeListener: (channel, listener) => void this.rendererListeners.get(channel)?.delete(listener),
    };
  }
}

/** The page's window.parley: what contextBridge exposed. */
function exposedBridge(win: StandInWindow): ParleyBridge {
  const world: Record<string, unknown> = {};
  exposeParley({
    contextBridge: {
      exposeInMainWorld(key: string, api: unknown) {
        if (Object.hasOwn(world, key)) throw new Error(`Cannot bind an API on top of an existing property on the window object`);
        world[key] = api;
      },
    },
    ipcRenderer: win.ipcRenderer(),
  });
  expect(Object.keys(world)).toEqual(["parley"]);
  return world.parley as ParleyBridge;
}

/** A host that records what it is asked and answers from `answer` (default null). */
function recordingHost(answer: (request: HostRequest) => unknown = () => null) {
  const requests: HostRequest[] = [];
  const listeners = new Set<(event: HostEvent) => void>();
  let disposed = 0;
  const host: HostService = {
    handle: async (request) => {
      requests.push(request);
      return answer(request);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
    dispose: async () => void disposed++,
  };
  return { host, requests, listeners, emit: (event: HostEvent) => listeners.forEach((l) => l(event)), disposed: () => disposed };
}

/** A window on the game's page with `host` attached, and the page's bridge. */
async function attached(host: HostService | Promise<HostService>, options: { disposeHost?: boolean; log?: (e: unknown) => void } = {}) {
  const ipcMain = new StandInIpcMain();
  const win = new StandInWindow(ipcMain);
  const detach = attachParley({ ipcMain }, win, host, {
    origin: ORIGIN,
    log: options.log ?? (() => undefined),
    ...(options.disposeHost !== undefined ? { disposeHost: options.disposeHost } : {}),
  });
  await win.loadURL(`${ORIGIN}/index.html`);
  return { ipcMain, win, detach, bridge: exposedBridge(win), request: win.ipcRenderer() };
}

function until<T>(events: T[], found: (event: T) => boolean): Promise<T> {
  return new Promise((done, fail) => {
    const deadline = Date.now() + 10_000;
    const poll = (): void => {
      const event = events.find(found);
      if (event !== undefined) done(event);
      else if (Date.now() > deadline) fail(new Error(`no such event among ${events.length}`));
      else setTimeout(poll, 5);
    };
    poll();
  });
}

// ---- tests ----

describe("a game window's conversation over IPC (real ConversationHost)", () => {
  let host: ConversationHost;
  beforeAll(async () => {
    host = await ConversationHost.create({
      npcs: ["blacksmith", "innkeeper", "guard"].map((id) => ({ character: village("characters", id), graph: village("dialogue", id) })),
      backend: new FallbackBackend({ contextSize: 2048 }),
    });
  });
  afterAll(async () => {
    await host?.dispose();
  });

  it("answers every request with a HostReply and relays the host's events, without Electron's event object", async () => {
    const { bridge, detach } = await attached(host, { disposeHost: false });
    const info = await bridge.info();
    expect(info.ok).toBe(true);
    expect((info as { value: { npcs: { id: string }[]; canGenerate: boolean } }).value.npcs.map((n) => n.id)).toEqual(["blacksmith", "innkeeper", "guard"]);

    const received: unknown[][] = [];
    const off = bridge.subscribe((...args: unknown[]) => void received.push(args));
    const events = (): HostEvent[] => received.map((args) => args[0] as HostEvent);
    expect(await bridge.start("blacksmith")).toEqual({ ok: true, value: null });
    await until(events(), (e) => e.type === "dialogue" && e.event.type === "input_requested");
    expect(received.every((args) => args.length === 1)).toBe(true); // the HostEvent alone
    const line = events().find((e) => e.type === "dialogue" && e.event.type === "line_complete");
    expect(line).toMatchObject({
      type: "dialogue",
      npc: "blacksmith",
      event: { type: "line_complete", text: "Mind the sparks. You here to buy, or to gawk?" },
    });

    expect(await bridge.submit("I need a sword")).toEqual({ ok: true, value: null });
    const said = await until(events(), (e) => e.type === "dialogue" && e.event.type === "player_line");
    expect(said).toMatchObject({ npc: "blacksmith", event: { text: "I need a sword" } });

    // The host's own refusals arrive as codes: no choice is on offer while the NPC is not asking for one.
    const refused = await bridge.choose(7);
    expect(refused).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENT" } });
    expect(await bridge.start("dragon")).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENT", message: expect.stringContaining("unknown NPC") } });

    expect(await bridge.cancel()).toEqual({ ok: true, value: null });
    await until(events(), (e) => e.type === "dialogue" && e.event.type === "ended");
    expect(await bridge.bark("guard")).toEqual({ ok: true, value: "started" });
    await host.barkSettled();

    off();
    const count = received.length;
    expect(await bridge.start("innkeeper")).toEqual({ ok: true, value: null });
    await host.cancel();
    expect(received).toHaveLength(count); // unsubscribed: nothing more reaches the page
    await detach();
  });
});

describe("requests the helper refuses before the host runs anything", () => {
  it("refuses unknown methods, wrong types, extra parameters, overlong or empty text and non-array params, with codes", async () => {
    const h = recordingHost();
    const { request } = await attached(h.host);
    const send = (...args: unknown[]) => request.invoke(PARLEY_CHANNELS.request, ...args) as Promise<HostReply>;
    const cases: [unknown[], string][] = [
      [["dance", []], "UNKNOWN_METHOD"],
      [["__proto__", []], "UNKNOWN_METHOD"],
      [["toString", []], "UNKNOWN_METHOD"],
      [[42, []], "UNKNOWN_METHOD"],
      [[], "UNKNOWN_METHOD"],
      [["start", [42]], "INVALID_ARGUMENT"],
      [["start", ["Blacksmith!"]], "INVALID_ARGUMENT"],
      [["start", ["x".repeat(65)]], "INVALID_ARGUMENT"],
      [["start", []], "INVALID_ARGUMENT"],
      [["start", ["blacksmith", "extra"]], "INVALID_ARGUMENT"],
      [["info", ["extra"]], "INVALID_ARGUMENT"],
      [["choose", [-1]], "INVALID_ARGUMENT"],
      [["choose", [1.5]], "INVALID_ARGUMENT"],
      [["choose", ["1"]], "INVALID_ARGUMENT"],
      [["submit", [42]], "INVALID_ARGUMENT"],
      [["submit", ["x".repeat(501)]], "INPUT_TOO_LONG"],
      [["submit", ["   "]], "EMPTY_INPUT"],
      // IPC carries positional parameters only: the HTTP form ({npc}) and anything else that is not an array.
      [["start", { npc: "blacksmith" }], "INVALID_ARGUMENT"],
      [["start", "blacksmith"], "INVALID_ARGUMENT"],
      [["info", {}], "INVALID_ARGUMENT"],
      [["info", null], "INVALID_ARGUMENT"],
      [["info"], "INVALID_ARGUMENT"],
      [["cancel", [], "more"], "INVALID_ARGUMENT"],
    ];
    for (const [args, code] of cases) {
      const reply = await send(...args);
      expect(reply, JSON.stringify(args).slice(0, 80)).toMatchObject({ ok: false, error: { code, message: expect.any(String) } });
    }
    expect(h.requests).toEqual([]);
    // The same helper runs well-formed requests.
    expect(await send("choose", [2])).toEqual({ ok: true, value: null });
    expect(h.requests).toEqual([{ method: "choose", index: 2 }]);
  });

  it("never throws and never lets junk reach the host (seeded fuzz)", async () => {
    const h = recordingHost();
    const { request } = await attached(h.host);
    const { random, pick } = seededRandom(0x9e3779b9); // replayable junk
    const methods = Object.keys(HOST_METHODS);
    const junk = (depth = 0): unknown => {
      switch (Math.floor(random() * 12)) {
        case 0:
          return pick([0, -1, 1.5, NaN, Infinity, -0, 2 ** 53, 3]);
        case 1:
          return pick(["", " ", "blacksmith", "BLACKSMITH", "../etc", "\u0000", "x".repeat(600), "a b", "guard\n", "é"]);
        case 2:
          return pick([true, false, null, undefined]);
        case 3:
          return pick(methods);
        case 4:
          return depth < 3 ? Array.from({ length: Math.floor(random() * 4) }, () => junk(depth + 1)) : [];
        case 5:
          return depth < 3 ? { npc: junk(depth + 1), [pick(["index", "text", "__proto__", "constructor"])]: junk(depth + 1) } : {};
        case 6:
          return BigInt(Math.floor(random() * 100));
        case 7:
          return new Date(0);
        case 8:
          return new Uint8Array([1, 2, 3]);
        case 9:
          return new Map([["npc", "guard"]]);
        case 10:
          return "x".repeat(Math.floor(random() * 70));
        default:
          return Math.floor(random() * 10);
      }
    };
    let refused = 0;
    for (let i = 0; i < 400; i++) {
      const method = random() < 0.7 ? pick(methods) : junk();
      const params = random() < 0.6 ? Array.from({ length: Math.floor(random() * 3) }, () => junk()) : junk();
      const args = random() < 0.1 ? [method, params, junk()] : [method, params];
      let valid = args.length === 2 && Array.isArray(params);
      try {
        if (valid) parseHostRequest(method, params);
      } catch {
        valid = false;
      }
      const before = h.requests.length;
      const reply = await request.invoke(PARLEY_CHANNELS.request, ...args);
      expect(typeof reply === "object" && reply !== null && "ok" in reply, `case ${i}`).toBe(true);
      expect((reply as HostReply).ok, `case ${i}: ${String(method)}`).toBe(valid);
      expect(h.requests.length - before, `case ${i}`).toBe(valid ? 1 : 0);
      if (!valid) {
        refused++;
        expect(["UNKNOWN_METHOD", "INVALID_ARGUMENT", "EMPTY_INPUT", "INPUT_TOO_LONG"]).toContain((reply as { error: { code: string } }).error.code);
      }
    }
    expect(refused).toBeGreaterThan(200); // the loop mostly tried junk
  });
});

describe("who may ask", () => {
  it("answers only the attached window's own page on the game's origin", async () => {
    const h = recordingHost();
    const { win, ipcMain } = await attached(h.host);
    const other = new StandInWindow(ipcMain); // another window of the same app, even showing the game's origin
    const cases: [string, IpcMainInvokeEvent][] = [
      ["another window's webContents", { sender: other.webContents, senderFrame: { url: `${ORIGIN}/index.html` } }],
      ["an object with another window's id", { sender: { id: other.webContents.id }, senderFrame: { url: `${ORIGIN}/` } }],
      ["no sender", { senderFrame: { url: `${ORIGIN}/index.html` } }],
      ["a frame on another origin", { sender: win.webContents, senderFrame: { url: "https://evil.example/index.html" } }],
      ["a frame on another host of the scheme", { sender: win.webContents, senderFrame: { url: "parley://elsewhere/index.html" } }],
      ["a frame disguised with a user name", { sender: win.webContents, senderFrame: { url: "parley://village@evil.example/" } }],
      ["a navigated-away (null) frame", { sender: win.webContents, senderFrame: null }],
    ];
    for (const [what, event] of cases) {
      const reply = await win.ipcRendererAs(() => event).invoke(PARLEY_CHANNELS.request, "start", ["blacksmith"]);
      expect(reply, what).toMatchObject({ ok: false, error: { code: "FORBIDDEN_SENDER" } });
    }
    // Checked before anything else: a foreign page learns nothing about the protocol.
    expect(await win.ipcRendererAs(() => cases[0][1]).invoke(PARLEY_CHANNELS.request, "dance", "junk")).toMatchObject({ error: { code: "FORBIDDEN_SENDER" } });

    // The page itself, after navigating away (the window would block it, but a frame can still change).
    win.frame.url = "https://evil.example/";
    expect(await createBridge(win.ipcRenderer()).start("blacksmith")).toMatchObject({
      ok: false,
      error: { code: "FORBIDDEN_SENDER", message: expect.stringContaining("evil.example") },
    });
    expect(h.requests).toEqual([]);
    win.frame.url = `${ORIGIN}/index.html`;
    expect(await createBridge(win.ipcRenderer()).start("blacksmith")).toEqual({ ok: true, value: null });
    expect(h.requests).toEqual([{ method: "start", npc: "blacksmith" }]);
  });
});

describe("the host's lifetime", () => {
  it("makes requests wait for a host that is still loading, and reports one that failed to load", async () => {
    const h = recordingHost((request) => (request.method === "info" ? { modelNote: "ready" } : null));
    let ready!: (host: HostService) => void;
    const loading = new Promise<HostService>((done) => (ready = done));
    const { bridge, win } = await attached(loading);
    const early = bridge.info();
    const start = bridge.start("guard");
    let answered = false;
    void early.then(() => (answered = true));
    await new Promise((r) => setTimeout(r, 20));
    expect(answered).toBe(false);
    // Malformed requests need no host: they are answered at once.
    expect(await bridge.choose(-3)).toMatchObject({ ok: false, error: { code: "INVALID_ARGUMENT" } });
    ready(h.host);
    expect(await early).toEqual({ ok: true, value: { modelNote: "ready" } });
    expect(await start).toEqual({ ok: true, value: null });
    // Events are relayed from the moment the host is there.
    const got: HostEvent[] = [];
    bridge.subscribe((e) => got.push(e));
    h.emit({ type: "stats", tokensPerSecond: 12.5, firstTokenMs: 80 });
    expect(got).toEqual([{ type: "stats", tokensPerSecond: 12.5, firstTokenMs: 80 }]);
    // Only while the page is alive: a destroyed webContents (a crashed renderer) is sent nothing.
    win.destroyed = true;
    expect(() => h.emit({ type: "stats", tokensPerSecond: 1, firstTokenMs: 1 })).not.toThrow();
    expect(got).toHaveLength(1);
    win.close();

    const logged: unknown[] = [];
    const failed = await attached(Promise.reject(new Error("/secret/path/model.gguf: corrupt")), { log: (e) => logged.push(e) });
    expect(await failed.bridge.info()).toEqual({ ok: false, error: { code: "INTERNAL", message: "internal error" } });
    expect(logged).toHaveLength(1); // logged in the main process, not sent to the page
    await failed.detach();
  });

  it("on window close: removes the handler, ends the subscription, disposes the host; the page then gets HOST_UNAVAILABLE", async () => {
    const h = recordingHost();
    const { win, ipcMain, bridge } = await attached(h.host);
    await Promise.resolve();
    expect(ipcMain.handlers.size).toBe(1);
    expect(h.listeners.size).toBe(1);
    win.close();
    await new Promise((r) => setTimeout(r, 0));
    expect(ipcMain.handlers.size).toBe(0);
    expect(h.listeners.size).toBe(0);
    expect(h.disposed()).toBe(1);
    expect(() => h.emit({ type: "bark", npc: "guard", text: "late", done: true })).not.toThrow(); // nothing sent to a closed window
    expect(await bridge.info()).toMatchObject({ ok: false, error: { code: "HOST_UNAVAILABLE" } });
    expect(h.requests).toEqual([]);
  });

  it("detach() does the same, once; disposeHost: false keeps the host; a new window can attach after", async () => {
    const h = recordingHost();
    const first = await attached(h.host, { disposeHost: false });
    await Promise.resolve();
    await Promise.all([first.detach(), first.detach()]);
    first.win.close();
    await new Promise((r) => setTimeout(r, 0));
    expect(first.ipcMain.handlers.size).toBe(0);
    expect(h.listeners.size).toBe(0);
    expect(h.disposed()).toBe(0);

    const second = new StandInWindow(first.ipcMain);
    const detach = attachParley({ ipcMain: first.ipcMain }, second, h.host, { origin: ORIGIN });
    await second.loadURL(`${ORIGIN}/`);
    expect(await createBridge(second.ipcRenderer()).cancel()).toEqual({ ok: true, value: null });
    // Electron allows one handler per channel: a second window at the same time is refused loudly.
    expect(() => attachParley({ ipcMain: first.ipcMain }, new StandInWindow(first.ipcMain), h.host, { origin: ORIGIN })).toThrow(/second handler/);
    await detach();
    expect(h.disposed()).toBe(1);
  });

  it("a request waiting for the host when the window closes is answered DISPOSED and never runs", async () => {
    const h = recordingHost();
    let ready!: (host: HostService) => void;
    const { bridge, win } = await attached(new Promise<HostService>((done) => (ready = done)));
    const pending = bridge.start("guard");
    await new Promise((r) => setTimeout(r, 5));
    win.close();
    ready(h.host);
    expect(await pending).toMatchObject({ ok: false, error: { code: "DISPOSED" } });
    expect(h.requests).toEqual([]);
    await new Promise((r) => setTimeout(r, 0));
    expect(h.listeners.size).toBe(0);
    expect(h.disposed()).toBe(1);
  });

  it("refuses an origin that is not scheme://host", () => {
    const ipcMain = new StandInIpcMain();
    expect(() => attachParley({ ipcMain }, new StandInWindow(ipcMain), recordingHost().host, { origin: "parley://village/index.html" })).toThrow(
      /scheme:\/\/host/,
    );
    expect(ipcMain.handlers.size).toBe(0);
  });
});

describe("the preload", () => {
  it("exposes exactly the ParleyBridge functions as window.parley, each sending (method, params[])", async () => {
    const invoked: unknown[][] = [];
    const world: Record<string, unknown> = {};
    exposeParley({
      contextBridge: { exposeInMainWorld: (key, api) => void (world[key] = api) },
      ipcRenderer: {
        invoke: async (...args) => (invoked.push(args), { ok: true, value: null }),
        on: () => undefined,
        removeListener: () => undefined,
      },
    });
    expect(Object.keys(world)).toEqual(["parley"]);
    const bridge = world.parley as Record<string, unknown>;
    expect(Object.keys(bridge).sort()).toEqual(BRIDGE_KEYS);
    for (const key of BRIDGE_KEYS) expect(typeof bridge[key], key).toBe("function");
    const parley = bridge as unknown as ParleyBridge;
    await parley.info();
    await parley.start("guard");
    await parley.choose(1);
    await parley.submit("hello");
    await parley.cancel();
    await parley.bark("innkeeper");
    expect(invoked).toEqual([
      [PARLEY_CHANNELS.request, "info", []],
      [PARLEY_CHANNELS.request, "start", ["guard"]],
      [PARLEY_CHANNELS.request, "choose", [1]],
      [PARLEY_CHANNELS.request, "submit", ["hello"]],
      [PARLEY_CHANNELS.request, "cancel", []],
      [PARLEY_CHANNELS.request, "bark", ["innkeeper"]],
    ]);
    expect(() => parley.subscribe("not a function" as unknown as () => void)).toThrow(/listener must be a function/);
  });

  it("bundles as a sandboxed CommonJS preload that requires only electron", async () => {
    const esbuild = await import("esbuild");
    const preload = fileURLToPath(new URL("../../../samples/village/electron/preload.ts", import.meta.url));
    const result = await esbuild.build({
      entryPoints: [preload],
      bundle: true,
      write: false,
      platform: "node",
      format: "cjs",
      external: ["electron"],
      metafile: true,
      logLevel: "silent",
    });
    const code = result.outputFiles[0].text;
    const required = [...code.matchAll(/require\(["']([^"']+)["']\)/g)].map((m) => m[1]);
    expect(new Set(required)).toEqual(new Set(["electron"]));
    expect(Object.keys(result.metafile.inputs).sort()).toEqual([
      "plugin/host/electron/channels.ts",
      "plugin/host/electron/preload.ts",
      "samples/village/electron/preload.ts",
    ]);
  });
});

describe("the game folder on a custom scheme, and the game window", () => {
  let dir: string;
  let outside: string;
  beforeAll(() => {
    outside = mkdtempSync(join(tmpdir(), "parley-outside-"));
    writeFileSync(join(outside, "secret.txt"), "secret");
    dir = mkdtempSync(join(tmpdir(), "parley-game-"));
    writeFileSync(join(dir, "index.html"), "<!doctype html><title>game</title>");
    mkdirSync(join(dir, "assets"));
    writeFileSync(join(dir, "assets", "main.js"), "console.log(1)");
    symlinkSync(join(outside, "secret.txt"), join(dir, "leak.txt"));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
    rmSync(outside, { recursive: true, force: true });
  });

  it("registers the scheme as privileged and serves files inside the folder only", async () => {
    const schemes: CustomScheme[] = [];
    let handler: ((request: { url: string }) => Response | Promise<Response>) | undefined;
    const fetched: string[] = [];
    const electron: Pick<ElectronMain, "protocol" | "net"> = {
      protocol: { registerSchemesAsPrivileged: (s) => void schemes.push(...s), handle: (_scheme, h) => void (handler = h) },
      net: { fetch: async (url) => (fetched.push(url), new Response(readFileSync(fileURLToPath(url)))) },
    };
    const game = { scheme: "parley", host: "village" };
    registerGameScheme(electron, game);
    expect(schemes).toEqual([{ scheme: "parley", privileges: { standard: true, secure: true, supportFetchAPI: true } }]);
    expect(serveGameFolder(electron, { ...game, dir })).toBe(ORIGIN);
    expect(gameOrigin({ scheme: "mygame" })).toBe("mygame://game");
    const get = async (url: string) => handler!({ url });
    expect(await (await get(`${ORIGIN}/`)).text()).toContain("<title>game</title>");
    expect(await (await get(`${ORIGIN}/assets/main.js`)).text()).toBe("console.log(1)");
    for (const url of [
      `${ORIGIN}/../secret.txt`,
      `${ORIGIN}/..%2f..%2fsecret.txt`,
      `${ORIGIN}/%2e%2e/secret.txt`,
      `${ORIGIN}/%zz`,
      `${ORIGIN}/assets`,
      `${ORIGIN}/nope.js`,
      `${ORIGIN}/leak.txt`,
      `${ORIGIN}/index.html%00.js`,
      "parley://elsewhere/index.html",
      "parley://user@village/index.html",
      "other://village/index.html",
      "not a url",
    ]) {
      expect((await get(url)).status, url).toBe(404);
    }
    expect(fetched.every((url) => url.startsWith("file://") && fileURLToPath(url).startsWith(dir))).toBe(true);
    expect(gameFile(dir, `${ORIGIN}/a/../index.html`, game)).toBe(join(dir, "index.html"));
    expect(() => registerGameScheme(electron, { scheme: "https" })).toThrow(/custom scheme/);
    expect(() => serveGameFolder(electron, { scheme: "game", host: "Bad Host", dir })).toThrow(/host name/);
    expect(() => serveGameFolder(electron, { scheme: "game", dir: join(dir, "missing") })).toThrow(/does not exist/);
  });

  it("opens a sandboxed window with the preload, kept on the game's origin", () => {
    const ipcMain = new StandInIpcMain();
    let made: StandInWindow | undefined;
    const electron: Pick<ElectronMain, "BrowserWindow"> = {
      BrowserWindow: class extends StandInWindow {
        constructor(options?: BrowserWindowOptions) {
          super(ipcMain, options);
          // eslint-disable-next-line @typescript-eslint/no-this-alias -- the test keeps the window the helper made
          made = this;
        }
      },
    };
    const win = createGameWindow(electron, { origin: ORIGIN, preload: "/b/preload.cjs", title: "Village", width: 800 });
    expect(win).toBe(made);
    expect(made!.options).toEqual({
      title: "Village",
      width: 800,
      webPreferences: { preload: "/b/preload.cjs", contextIsolation: true, sandbox: true, nodeIntegration: false },
    });
    expect(made!.windowOpenHandler?.({ url: `${ORIGIN}/` })).toEqual({ action: "deny" });
    let prevented = false;
    made!.navigationListeners.get("will-navigate")!({ preventDefault: () => void (prevented = true) }, "https://evil.example/");
    expect(prevented).toBe(true);
    expect(() => createGameWindow(electron, { origin: ORIGIN, preload: "preload.cjs" })).toThrow(/absolute path/);
  });
});

describe("the village's Electron shell on these helpers", () => {
  it("serves parley://village, opens the hardened window with the preload, and bridges its host until the last window closes", async () => {
    const { runShell, ORIGIN: VILLAGE_ORIGIN } = await import("../../../samples/village/electron/main.js");
    const dir = mkdtempSync(join(tmpdir(), "parley-village-shell-"));
    try {
      writeFileSync(join(dir, "index.html"), "<!doctype html><title>village</title>");
      const ipcMain = new StandInIpcMain();
      const windows: StandInWindow[] = [];
      const appListeners = new Map<string, () => void>();
      let quit = 0;
      let serve: ((request: { url: string }) => Response | Promise<Response>) | undefined;
      const electron: ElectronMain = {
        app: { whenReady: async () => undefined, quit: () => void quit++, on: (event: string, listener: () => void) => void appListeners.set(event, listener) },
        BrowserWindow: class extends StandInWindow {
          constructor(options?: BrowserWindowOptions) {
            super(ipcMain, options);
            windows.push(this);
          }
        },
        ipcMain,
        protocol: { registerSchemesAsPrivileged: () => undefined, handle: (_scheme, handler) => void (serve = handler) },
        net: { fetch: async (url) => new Response(readFileSync(fileURLToPath(url))) },
      };
      const h = recordingHost((request) => (request.method === "info" ? { npcs: [] } : null));
      await runShell(electron, { gameDir: dir, preload: "/b/preload.cjs", createHost: async () => h.host });
      expect(VILLAGE_ORIGIN).toBe(ORIGIN);
      expect(windows).toHaveLength(1);
      const [win] = windows;
      expect(win.options?.webPreferences).toEqual({ preload: "/b/preload.cjs", contextIsolation: true, sandbox: true, nodeIntegration: false });
      expect(win.loaded).toEqual([`${ORIGIN}/index.html`]);
      expect(await (await serve!({ url: `${ORIGIN}/index.html` })).text()).toContain("village");
      expect((await serve!({ url: `${ORIGIN}/..%2f..%2fetc%2fpasswd` })).status).toBe(404);

      const bridge = exposedBridge(win);
      expect(await bridge.info()).toEqual({ ok: true, value: { npcs: [] } });
      expect(await bridge.bark("guard")).toEqual({ ok: true, value: null });
      expect(h.requests).toEqual([{ method: "info" }, { method: "bark", npc: "guard" }]);

      appListeners.get("window-all-closed")!();
      await new Promise((r) => setTimeout(r, 0));
      expect(h.disposed()).toBe(1);
      expect(ipcMain.handlers.size).toBe(0);
      expect(quit).toBe(1);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

// The Electron shells' shared pieces that do not need Electron's binary (runtime/host/electron/): which
// shell runs, the window's security settings, the origin checks behind navigation, IPC and request
// blocking, the CSP header, and the editor shell's start-up (its page URL, its arguments and environment,
// its window and session set-up over stand-in Electron objects that record what the shell asked of them).
import { describe, expect, it } from "vitest";
import { editorElectronArgs, editorElectronEnv } from "../../editor/host/electron-shell.js";
import { EDITOR_URL_ENV, editorPageUrl, runEditorShell } from "../../editor/host/electron-main.js";
import type { BrowserWindowOptions, ElectronMain, ElectronSessionApi, NavigationEvent, ResponseHeaders } from "../../runtime/host/electron/electron-api.js";
import { chooseShell, ELECTRON_MISSING, findElectron, hasDisplay } from "../../runtime/host/electron/find-electron.js";
import {
  checkIpcSender,
  hardenWebContents,
  isAllowedRequest,
  isSameOrigin,
  LOOPBACK_PAGE_CSP,
  secureWebPreferences,
  withContentSecurityPolicy,
} from "../../runtime/host/electron/hardening.js";

const ORIGIN = "http://127.0.0.1:4321";

describe("which shell runs", () => {
  const found = { found: true as const, path: "/opt/electron/electron" };
  const missing = { found: false as const, reason: `${ELECTRON_MISSING}: no node_modules/electron` };

  it("is Electron only when it is wanted, installed and has a display; otherwise the browser, saying why", () => {
    expect(chooseShell({ browser: false, electron: found, display: true })).toEqual({ mode: "electron", electronPath: found.path });
    expect(chooseShell({ browser: true, electron: found, display: true })).toEqual({ mode: "browser", reason: "--browser" });
    expect(chooseShell({ browser: false, electron: missing, display: true })).toEqual({ mode: "browser", reason: missing.reason });
    expect(chooseShell({ browser: false, electron: found, display: false })).toMatchObject({ mode: "browser", reason: expect.stringContaining("no display") });
  });

  it("needs DISPLAY or WAYLAND_DISPLAY on Linux, and finds no binary where there is none", () => {
    expect(hasDisplay({}, "linux")).toBe(false);
    expect(hasDisplay({ DISPLAY: ":0" }, "linux")).toBe(true);
    expect(hasDisplay({ WAYLAND_DISPLAY: "wayland-0" }, "linux")).toBe(true);
    expect(hasDisplay({}, "darwin")).toBe(true);
    expect(findElectron({ ELECTRON_OVERRIDE_DIST_PATH: "/no/such/electron" })).toMatchObject({
      found: false,
      reason: expect.stringContaining(ELECTRON_MISSING),
    });
  });
});

describe("the windows' security settings", () => {
  it("sandboxes and isolates the renderer, without Node; the preload only when given", () => {
    expect(secureWebPreferences()).toEqual({ contextIsolation: true, sandbox: true, nodeIntegration: false });
    expect(secureWebPreferences("/b/preload.cjs")).toEqual({ preload: "/b/preload.cjs", contextIsolation: true, sandbox: true, nodeIntegration: false });
  });

  it("keeps a window on its own origin, whatever the URL's disguise", () => {
    expect(isSameOrigin(`${ORIGIN}/?token=abc`, ORIGIN)).toBe(true);
    expect(isSameOrigin(`${ORIGIN}/api/project`, ORIGIN)).toBe(true);
    expect(isSameOrigin("parley://village/index.html", "parley://village")).toBe(true);
    for (const url of [
      "http://127.0.0.1:43210/",
      "http://127.0.0.1:432/",
      "https://127.0.0.1:4321/",
      "http://localhost:4321/",
      `http://127.0.0.1:4321@evil.example/`,
      "http://evil.example/http://127.0.0.1:4321/",
      "file:///etc/passwd",
      "javascript:alert(1)",
      "not a url",
      "",
    ]) {
      expect(isSameOrigin(url, ORIGIN), url).toBe(false);
    }
  });

  it("lets the page load from its own origin and local data only: no remote content", () => {
    expect(isAllowedRequest(`${ORIGIN}/dist/main.js`, ORIGIN)).toBe(true);
    expect(isAllowedRequest("data:,", ORIGIN)).toBe(true);
    expect(isAllowedRequest("blob:http://127.0.0.1:4321/1234", ORIGIN)).toBe(true);
    expect(isAllowedRequest("devtools://devtools/bundled/inspector.html", ORIGIN)).toBe(true);
    expect(isAllowedRequest("https://fonts.example/font.woff2", ORIGIN)).toBe(false);
    expect(isAllowedRequest("http://127.0.0.1:9999/", ORIGIN)).toBe(false);
    expect(isAllowedRequest("ws://127.0.0.1:4321/", ORIGIN)).toBe(false);
    expect(isAllowedRequest("file:///etc/passwd", ORIGIN)).toBe(false);
  });

  it("puts the strict CSP on responses, replacing the server's", () => {
    const headers: ResponseHeaders = { "Content-Type": ["text/html"], "content-security-policy": ["frame-ancestors 'none'"] };
    expect(withContentSecurityPolicy(headers, LOOPBACK_PAGE_CSP)).toEqual({ "Content-Type": ["text/html"], "Content-Security-Policy": [LOOPBACK_PAGE_CSP] });
    expect(LOOPBACK_PAGE_CSP).toContain("default-src 'none'");
    expect(LOOPBACK_PAGE_CSP).toContain("script-src 'self'");
    expect(LOOPBACK_PAGE_CSP).not.toMatch(/unsafe-eval|script-src[^;]*unsafe-inline/);
  });

  it("denies new windows, blocks navigation, redirects and webviews away from the origin", () => {
    const listeners = new Map<string, (event: NavigationEvent, url: string) => void>();
    let openHandler: ((details: { url: string }) => { action: string }) | undefined;
    hardenWebContents(
      {
        setWindowOpenHandler: (handler) => void (openHandler = handler),
        on: (event: string, listener: (event: NavigationEvent, url: string) => void) => void listeners.set(event, listener),
      },
      ORIGIN,
    );
    expect(openHandler?.({ url: `${ORIGIN}/` })).toEqual({ action: "deny" });
    const prevented = (event: string, url: string): boolean => {
      let stopped = false;
      listeners.get(event)!({ preventDefault: () => void (stopped = true) }, url);
      return stopped;
    };
    expect(prevented("will-navigate", "https://evil.example/")).toBe(true);
    expect(prevented("will-redirect", "http://127.0.0.1:1/")).toBe(true);
    expect(prevented("will-navigate", `${ORIGIN}/?token=abc`)).toBe(false);
    expect(prevented("will-attach-webview", `${ORIGIN}/`)).toBe(true);
  });

  it("answers IPC only for frames of the origin", () => {
    expect(() => checkIpcSender({ senderFrame: { url: `${ORIGIN}/` } }, ORIGIN)).not.toThrow();
    expect(() => checkIpcSender({ senderFrame: { url: "https://evil.example/" } }, ORIGIN)).toThrow(/unexpected page: https:\/\/evil/);
    expect(() => checkIpcSender({ senderFrame: null }, ORIGIN)).toThrow(/no frame/);
  });
});

describe("the editor's Electron shell", () => {
  it("accepts only the loopback host's page with a token", () => {
    expect(editorPageUrl(`${ORIGIN}/?token=abc`)).toEqual({ url: `${ORIGIN}/?token=abc`, origin: ORIGIN });
    expect(() => editorPageUrl(undefined)).toThrow(/not set/);
    expect(() => editorPageUrl("https://evil.example/?token=abc")).toThrow(/127\.0\.0\.1/);
    expect(() => editorPageUrl("http://127.0.0.1/?token=abc")).toThrow(/PORT/);
    expect(() => editorPageUrl(`${ORIGIN}/`)).toThrow(/no token/);
  });

  it("passes the page URL in the environment, not on the command line, and drops Chromium's OS sandbox only as root", () => {
    const url = `${ORIGIN}/?token=secret`;
    const args = editorElectronArgs("/c/electron-main.mjs", { noSandbox: false });
    expect(args).toEqual(["/c/electron-main.mjs"]);
    expect(args.join(" ")).not.toContain("secret");
    expect(editorElectronArgs("/c/electron-main.mjs", { noSandbox: true })).toEqual(["--no-sandbox", "/c/electron-main.mjs"]);
    expect(editorElectronEnv({ HOME: "/h" }, url)).toEqual({ HOME: "/h", [EDITOR_URL_ENV]: url });
  });

  it("opens one hardened window on the page, with its session confined to the host", async () => {
    const windows: { options: BrowserWindowOptions | undefined; loaded: string[]; events: string[] }[] = [];
    let beforeRequest: ((details: { url: string }, callback: (r: { cancel?: boolean }) => void) => void) | undefined;
    let headersReceived:
      ((details: { url: string; responseHeaders?: ResponseHeaders }, callback: (r: { responseHeaders?: ResponseHeaders }) => void) => void) | undefined;
    let permission: ((wc: unknown, permission: string, callback: (granted: boolean) => void) => void) | undefined;
    const appEvents: string[] = [];
    const electron: ElectronMain & ElectronSessionApi = {
      app: { whenReady: async () => undefined, quit: () => undefined, on: (event: string) => void appEvents.push(event) },
      BrowserWindow: class {
        readonly record: (typeof windows)[number];
        readonly webContents;
        constructor(options?: BrowserWindowOptions) {
          this.record = { options, loaded: [], events: [] };
          windows.push(this.record);
          const record = this.record;
          this.webContents = {
            send: () => undefined,
            isDestroyed: () => false,
            setWindowOpenHandler: () => void record.events.push("window-open-handler"),
            on: (event: string) => void record.events.push(event),
          };
        }
        async loadURL(url: string) {
          this.record.loaded.push(url);
        }
        on() {}
      },
      ipcMain: { handle: () => undefined, removeHandler: () => undefined },
      protocol: { registerSchemesAsPrivileged: () => undefined, handle: () => undefined },
      net: { fetch: async () => new Response("") },
      session: {
        defaultSession: {
          webRequest: {
            onBeforeRequest: (_filter, listener) => void (beforeRequest = listener),
            onHeadersReceived: (listener) => void (headersReceived = listener),
          },
          setPermissionRequestHandler: (handler) => void (permission = handler),
        },
      },
    };
    await runEditorShell(electron, `${ORIGIN}/?token=abc`);
    expect(windows).toHaveLength(1);
    expect(windows[0].options?.webPreferences).toEqual({ contextIsolation: true, sandbox: true, nodeIntegration: false });
    expect(windows[0].loaded).toEqual([`${ORIGIN}/?token=abc`]);
    expect(windows[0].events.sort()).toEqual(["will-attach-webview", "will-navigate", "will-redirect", "window-open-handler"]);
    expect(appEvents).toContain("window-all-closed");

    const cancelled = (url: string): boolean | undefined => {
      let answer: boolean | undefined;
      beforeRequest!({ url }, (r) => (answer = r.cancel));
      return answer;
    };
    expect(cancelled(`${ORIGIN}/dist/main.js`)).toBe(false);
    expect(cancelled("https://cdn.example/lib.js")).toBe(true);
    let headers: ResponseHeaders | undefined;
    headersReceived!({ url: `${ORIGIN}/`, responseHeaders: { "content-type": ["text/html"] } }, (r) => (headers = r.responseHeaders));
    expect(headers?.["Content-Security-Policy"]).toEqual([LOOPBACK_PAGE_CSP]);
    let granted: boolean | undefined;
    permission!(null, "media", (g) => (granted = g));
    expect(granted).toBe(false);
  });
});

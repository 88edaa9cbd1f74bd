// The few Electron APIs Parley's shells use (the village's and the editor's), declared here: Electron is an
// optional dependency whose binary download needs network access, so its own typings may be absent. This is
// a module of interfaces (not `declare module "electron"`), so it never clashes with Electron's typings when
// they are installed; the shells get the real objects from `require("electron")` and type them with these.

// ---- main process ----

export interface IpcMainInvokeEvent {
  /** The frame that sent the message (null once it navigated away or was destroyed). */
  readonly senderFrame: { readonly url: string } | null;
  /**
   * The WebContents that sent the message. Electron always sets it; optional here so the origin checks can
   * be exercised with a frame alone (a check that needs it refuses an event without it).
   */
  readonly sender?: { readonly id?: number };
}

export interface IpcMain {
  handle(channel: string, listener: (event: IpcMainInvokeEvent, ...args: unknown[]) => unknown): void;
  removeHandler(channel: string): void;
}

export interface WebPreferences {
  preload?: string;
  contextIsolation?: boolean;
  sandbox?: boolean;
  nodeIntegration?: boolean;
  webSecurity?: boolean;
  webviewTag?: boolean;
  allowRunningInsecureContent?: boolean;
}

export interface BrowserWindowOptions {
  width?: number;
  height?: number;
  title?: string;
  backgroundColor?: string;
  show?: boolean;
  webPreferences?: WebPreferences;
}

/** A navigation Electron asks about: prevented, it does not happen. */
export interface NavigationEvent {
  preventDefault(): void;
}

export interface WebContents {
  /** Electron's unique id of this WebContents (always set by Electron; stand-ins may leave it out). */
  readonly id?: number;
  send(channel: string, ...args: unknown[]): void;
  isDestroyed(): boolean;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: "deny" } | { action: "allow" }): void;
  on(event: "will-navigate" | "will-redirect", listener: (event: NavigationEvent, url: string) => void): void;
  on(event: "will-attach-webview", listener: (event: NavigationEvent) => void): void;
}

export interface BrowserWindow {
  readonly webContents: WebContents;
  loadURL(url: string): Promise<void>;
  on(event: "closed", listener: () => void): void;
}

export interface BrowserWindowConstructor {
  new (options?: BrowserWindowOptions): BrowserWindow;
}

export interface App {
  whenReady(): Promise<void>;
  quit(): void;
  on(event: "window-all-closed", listener: () => void): void;
  on(event: "will-quit", listener: () => void): void;
}

export interface CustomScheme {
  scheme: string;
  privileges?: { standard?: boolean; secure?: boolean; supportFetchAPI?: boolean; corsEnabled?: boolean };
}

export interface Protocol {
  registerSchemesAsPrivileged(schemes: CustomScheme[]): void;
  /** Electron ≥ 25: answers requests for `scheme` with a fetch-style handler. */
  handle(scheme: string, handler: (request: { readonly url: string }) => Response | Promise<Response>): void;
}

export interface Net {
  /** Fetch from the main process; understands file:// URLs. */
  fetch(url: string): Promise<Response>;
}

/** Response headers as Electron's webRequest passes them: each name with its list of values. */
export type ResponseHeaders = Record<string, string[] | string>;

export interface WebRequest {
  onBeforeRequest(filter: { urls: string[] }, listener: (details: { url: string }, callback: (response: { cancel?: boolean }) => void) => void): void;
  onHeadersReceived(
    listener: (details: { url: string; responseHeaders?: ResponseHeaders }, callback: (response: { responseHeaders?: ResponseHeaders }) => void) => void,
  ): void;
}

export interface Session {
  readonly webRequest: WebRequest;
  setPermissionRequestHandler(handler: (webContents: unknown, permission: string, callback: (granted: boolean) => void) => void): void;
}

/** `require("electron")` in the main process. */
export interface ElectronMain {
  app: App;
  BrowserWindow: BrowserWindowConstructor;
  ipcMain: IpcMain;
  protocol: Protocol;
  net: Net;
}

/** What the editor's shell needs besides ElectronMain's window and app: the default session. */
export interface ElectronSessionApi {
  session: { readonly defaultSession: Session };
}

// ---- preload (sandboxed renderer) ----

export interface IpcRendererEvent {
  readonly senderId?: number;
}

export interface IpcRenderer {
  invoke(channel: string, ...args: unknown[]): Promise<unknown>;
  on(channel: string, listener: (event: IpcRendererEvent, ...args: unknown[]) => void): void;
  removeListener(channel: string, listener: (event: IpcRendererEvent, ...args: unknown[]) => void): void;
}

export interface ContextBridge {
  exposeInMainWorld(apiKey: string, api: unknown): void;
}

/** `require("electron")` in a sandboxed preload script. */
export interface ElectronPreload {
  contextBridge: ContextBridge;
  ipcRenderer: IpcRenderer;
}

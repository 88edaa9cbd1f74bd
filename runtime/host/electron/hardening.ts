// The security settings every Parley Electron window gets, in one place so the village's shell and the
// editor's cannot drift apart: a sandboxed, context-isolated renderer without Node; no new windows, no
// navigation, redirect or <webview> away from the page's own origin; IPC answered only for frames of that
// origin; and, for a page served by the loopback host, no request to any other origin (no remote content),
// a strict Content-Security-Policy on every response, and every permission request (camera, notifications,
// …) refused. The decisions are pure functions, tested without Electron.

import type { IpcMainInvokeEvent, ResponseHeaders, Session, WebContents, WebPreferences } from "./electron-api.js";

/** A sandboxed, context-isolated renderer without Node; `preload` is the only bridge, when given. */
export function secureWebPreferences(preload?: string): WebPreferences {
  return { ...(preload !== undefined ? { preload } : {}), contextIsolation: true, sandbox: true, nodeIntegration: false };
}

/**
 * The Content-Security-Policy of a page served by the loopback host (the editor): its own scripts and
 * styles only, API calls and event streams to its own origin only. Inline styles stay allowed: React Flow
 * positions nodes with style attributes. No eval, no inline scripts, no plugins, no framing, no forms.
 */
export const LOOPBACK_PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data: blob:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "worker-src 'self' blob:",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "object-src 'none'",
].join("; ");

/** "scheme://host[:port]" of `url` (the form the shells' origins are written in), or null when it has none. */
function originOf(url: string): string | null {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return null;
  }
  // A user name or password in the URL only serves to disguise where it leads.
  if (parsed.username !== "" || parsed.password !== "" || parsed.host === "") return null;
  return `${parsed.protocol}//${parsed.host}`;
}

/** Whether `url` is on `origin` (e.g. "http://127.0.0.1:4321", "parley://village"): the only place a window may go. */
export function isSameOrigin(url: string, origin: string): boolean {
  return originOf(url) === origin;
}

/**
 * Whether the page's session may load `url`: its own origin, and the schemes that never leave the machine
 * (data: and blob: made by the page, devtools: for the developer tools). Anything else is remote content.
 */
export function isAllowedRequest(url: string, origin: string): boolean {
  if (isSameOrigin(url, origin)) return true;
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(url)?.[1]?.toLowerCase();
  return scheme === "data" || scheme === "blob" || scheme === "devtools";
}

/** Response headers with `csp` as the Content-Security-Policy (replacing any the server sent). */
export function withContentSecurityPolicy(headers: ResponseHeaders | undefined, csp: string): ResponseHeaders {
  const out: ResponseHeaders = {};
  for (const [name, value] of Object.entries(headers ?? {})) if (name.toLowerCase() !== "content-security-policy") out[name] = value;
  out["Content-Security-Policy"] = [csp];
  return out;
}

/** Denies new windows and every navigation, redirect and <webview> that would leave `origin`. */
export function hardenWebContents(webContents: Pick<WebContents, "setWindowOpenHandler" | "on">, origin: string): void {
  webContents.setWindowOpenHandler(() => ({ action: "deny" }));
  const stayHome = (event: { preventDefault(): void }, url: string): void => {
    if (!isSameOrigin(url, origin)) event.preventDefault();
  };
  webContents.on("will-navigate", stayHome);
  webContents.on("will-redirect", stayHome);
  webContents.on("will-attach-webview", (event) => event.preventDefault());
}

/** Throws unless the IPC message comes from a frame showing `origin` (not a page it was navigated to). */
export function checkIpcSender(event: IpcMainInvokeEvent, origin: string): void {
  const url = event.senderFrame?.url ?? "";
  if (!isSameOrigin(url, origin)) throw new TypeError(`IPC from an unexpected page: ${url || "(no frame)"}`);
}

/** Confines a session to `origin`: other requests are cancelled, responses carry `csp`, permissions are refused. */
export function confineSession(session: Session, origin: string, csp: string): void {
  session.webRequest.onBeforeRequest({ urls: ["<all_urls>"] }, (details, callback) => callback({ cancel: !isAllowedRequest(details.url, origin) }));
  session.webRequest.onHeadersReceived((details, callback) => callback({ responseHeaders: withContentSecurityPolicy(details.responseHeaders, csp) }));
  session.setPermissionRequestHandler((_webContents, _permission, callback) => callback(false));
}

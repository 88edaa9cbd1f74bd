// How a refused or failed request is reported, the same over HTTP and over Electron IPC: a stable code, a
// message written for the developer or player, and the HTTP status it maps to. Nothing unexpected is sent
// as it is (a stack trace could leak paths): it is logged here and answered with a bare "internal error".

import { ParleyError } from "../../runtime/index.js";
import { ProtocolError } from "./protocol.js";

export interface HostErrorReport {
  status: number;
  code: string;
  message: string;
}

export function describeHostError(error: unknown, log: (error: unknown) => void = (e) => console.error("parley host: request failed:", e)): HostErrorReport {
  if (error instanceof ProtocolError) return { status: 400, code: error.code, message: error.message };
  if (error instanceof ParleyError) {
    const status = error.code === "INVALID_ARGUMENT" ? 400 : error.code === "DISPOSED" ? 503 : 500;
    return { status, code: error.code, message: error.message };
  }
  log(error);
  return { status: 500, code: "INTERNAL", message: "internal error" };
}

/// <reference lib="dom" />
// The Playtest panel's client for the host's playtest routes (editor/host/playtest-routes.ts): start, answer,
// stop, save and replay calls, and the event stream the host sends a run's events on (a snapshot first, so a
// page that connects late or reconnects sees the run so far).

import type { ModelState, PlaytestHostEvent, ReplayView, RunInfo, TranscriptListing } from "../../host/playtest.js";
import type { PlaytestTranscript } from "../../../plugin/playtest/transcript.js";
import type { Value } from "../../../plugin/types.js";
import { request, type ConnectionState } from "./api.js";

export type { ModelState, PlaytestHostEvent, ReplayView, RunInfo, TranscriptListing };

export const playtestApi = {
  start: (request_: { graph: string; node?: string; variables?: Record<string, Value>; seed?: number; remember?: boolean }) =>
    request<{ run: RunInfo }>("POST", "/api/playtest/start", request_),
  choose: (index: number) => request<{ ok: true }>("POST", "/api/playtest/choose", { index }),
  submit: (text: string) => request<{ ok: true }>("POST", "/api/playtest/submit", { text }),
  forget: (character: string) => request<{ forgotten: number }>("POST", "/api/playtest/forget", { character }),
  stop: () => request<{ ok: true }>("POST", "/api/playtest/stop", {}),
  save: (name: string, overwrite: boolean) => request<{ path: string; transcript: PlaytestTranscript }>("POST", "/api/playtest/save", { name, overwrite }),
  transcripts: () => request<{ transcripts: TranscriptListing[] }>("GET", "/api/playtest/transcripts"),
  replay: (name: string) => request<ReplayView>("POST", "/api/playtest/replay", { name }),
};

/** Listens to the host's playtest events; returns the function that stops listening. */
export function watchPlaytest(onEvent: (event: PlaytestHostEvent) => void, onConnection: (state: ConnectionState) => void): () => void {
  const token = new URLSearchParams(location.search).get("token") ?? "";
  const events = new EventSource(`/api/playtest/events?token=${encodeURIComponent(token)}`);
  events.onopen = () => onConnection("open");
  events.onerror = () => onConnection("lost");
  events.onmessage = (message: MessageEvent<string>) => onEvent(JSON.parse(message.data) as PlaytestHostEvent);
  return () => events.close();
}

/// <reference lib="dom" />
// The Playtest panel's state (zustand; nothing here is undoable: a playtest edits no project file but its
// transcripts): whether the panel is open, the host's event stream and model, the run as folded from its
// events (playtest-fold.ts), the start form (node, seed, variables set by hand), the line whose prompt is
// inspected, the saved transcripts and the last replay's comparison.

import { create } from "zustand";
import type { Value, VariableType } from "../../../plugin/types.js";
import { asApiError, type ConnectionState } from "./api.js";
import { emptyRun, foldRunEvent, type RunView } from "./playtest-fold.js";
import { playtestApi, watchPlaytest, type ModelState, type ReplayView, type TranscriptListing } from "./playtest-api.js";

export interface PlaytestState {
  open: boolean;
  connection: ConnectionState;
  model: ModelState;
  view: RunView;
  /** The start form: "" = the graph's start node. */
  startNode: string;
  /** The seed field's text ("" = a random seed). */
  seed: string;
  /** Variables set by hand, as typed. */
  overrides: Record<string, string>;
  /** The NPC remembers earlier playtests that remembered. */
  remember: boolean;
  /** Index (into view.items) of the line whose prompt is shown. */
  inspected: number | null;
  busy: null | "starting" | "stopping" | "saving" | "replaying";
  transcripts: TranscriptListing[];
  replay: ReplayView | null;
  /** The last failure, for the panel's error line. */
  error: { message: string; code: string } | null;
  /** A save refused because the name exists: offered to replace. */
  existing: string | null;

  toggle(): void;
  close(): void;
  setStartNode(node: string): void;
  setSeed(seed: string): void;
  setOverride(name: string, text: string | null): void;
  setRemember(remember: boolean): void;
  forget(character: string): Promise<void>;
  inspect(index: number | null): void;
  start(graph: string, types: Record<string, VariableType>): Promise<void>;
  choose(index: number): Promise<void>;
  submit(text: string): Promise<void>;
  stop(): Promise<void>;
  save(name: string, overwrite?: boolean): Promise<void>;
  loadTranscripts(): Promise<void>;
  replayTranscript(name: string): Promise<void>;
  dismissError(): void;
}

let unwatch: (() => void) | undefined;

/** A typed variable value from a form field: numbers and true/false for their types, text as is. */
export function parseOverride(text: string, type: VariableType): Value | undefined {
  if (type === "string") return text;
  if (type === "bool") return text === "true" ? true : text === "false" ? false : undefined;
  const n = Number(text);
  return text.trim() !== "" && Number.isFinite(n) ? n : undefined;
}

export const usePlaytest = create<PlaytestState>()((set, get) => {
  const fail = (error: unknown): void => {
    const e = asApiError(error);
    set({ error: { message: e.message, code: e.code } });
  };
  const connect = (): void => {
    unwatch?.();
    unwatch = watchPlaytest(
      (event) => {
        if (event.type === "model" || event.type === "snapshot") set({ model: event.model });
        set((s) => {
          const view = foldRunEvent(s.view, event);
          // A new run shows its first line; a line the tester picked stays picked.
          return { view, ...(event.type === "run" ? { inspected: null, replay: null } : {}) };
        });
      },
      (connection) => set({ connection }),
    );
  };
  const disconnect = (): void => {
    unwatch?.();
    unwatch = undefined;
  };

  return {
    open: false,
    connection: "connecting",
    model: { state: "idle" },
    view: emptyRun,
    startNode: "",
    seed: "",
    overrides: {},
    remember: false,
    inspected: null,
    busy: null,
    transcripts: [],
    replay: null,
    error: null,
    existing: null,

    toggle() {
      if (get().open) get().close();
      else {
        set({ open: true });
        connect();
        void get().loadTranscripts();
      }
    },
    close() {
      disconnect();
      set({ open: false });
    },
    setStartNode: (startNode) => set({ startNode }),
    setSeed: (seed) => set({ seed }),
    setOverride(name, text) {
      const overrides = { ...get().overrides };
      if (text === null) delete overrides[name];
      else overrides[name] = text;
      set({ overrides });
    },
    inspect: (inspected) => set({ inspected }),
    setRemember: (remember) => set({ remember }),
    async forget(character) {
      try {
        await playtestApi.forget(character);
      } catch (error) {
        fail(error);
      }
    },

    async start(graph, types) {
      const { startNode, seed, overrides, remember } = get();
      const variables: Record<string, Value> = {};
      for (const [name, text] of Object.entries(overrides)) {
        const type = types[name];
        if (!type) continue; // a variable the graph no longer declares
        const value = parseOverride(text, type);
        if (value === undefined) return set({ error: { message: `${name} is a ${type}: ${JSON.stringify(text)} is not one`, code: "INVALID_ARGUMENT" } });
        variables[name] = value;
      }
      const seedNumber = seed.trim() === "" ? undefined : Number(seed);
      if (seedNumber !== undefined && !(Number.isInteger(seedNumber) && seedNumber >= 0 && seedNumber <= 2 ** 32 - 1)) {
        return set({ error: { message: `the seed must be a whole number from 0 to ${2 ** 32 - 1}`, code: "INVALID_ARGUMENT" } });
      }
      set({ busy: "starting", error: null, existing: null });
      try {
        const { run } = await playtestApi.start({
          graph,
          ...(startNode ? { node: startNode } : {}),
          variables,
          remember,
          ...(seedNumber !== undefined ? { seed: seedNumber } : {}),
        });
        // The stream may have been slower than the answer: the run is shown from here either way.
        set((s) => (s.view.run?.runId === run.runId ? {} : { view: foldRunEvent(s.view, { type: "run", run }) }));
      } catch (error) {
        fail(error);
      } finally {
        set({ busy: null });
      }
    },
    async choose(index) {
      try {
        await playtestApi.choose(index);
      } catch (error) {
        fail(error);
      }
    },
    async submit(text) {
      try {
        await playtestApi.submit(text);
      } catch (error) {
        fail(error);
      }
    },
    async stop() {
      set({ busy: "stopping" });
      try {
        await playtestApi.stop();
      } catch (error) {
        fail(error);
      } finally {
        set({ busy: null });
      }
    },
    async save(name, overwrite = false) {
      set({ busy: "saving", error: null, existing: null });
      try {
        await playtestApi.save(name, overwrite);
        await get().loadTranscripts();
      } catch (error) {
        const e = asApiError(error);
        if (e.code === "TRANSCRIPT_EXISTS") set({ existing: name });
        fail(e);
      } finally {
        set({ busy: null });
      }
    },
    async loadTranscripts() {
      try {
        set({ transcripts: (await playtestApi.transcripts()).transcripts });
      } catch (error) {
        fail(error);
      }
    },
    async replayTranscript(name) {
      set({ busy: "replaying", error: null, replay: null });
      try {
        set({ replay: await playtestApi.replay(name) });
      } catch (error) {
        fail(error);
      } finally {
        set({ busy: null });
      }
    },
    dismissError: () => set({ error: null, existing: null }),
  };
});

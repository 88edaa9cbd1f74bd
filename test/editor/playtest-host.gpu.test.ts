// The editor's playtest engine (editor/host/playtest.ts) on the real runtime with Parley's demo model
// (samples/demo-model/parley-demo.gguf), on a temporary copy of the village project: a run of Brom's graph streams
// a generated line with its prompt (token counts per part by the model's tokenizer, his memory of an earlier
// playtest among them) and timing, takes free text and a choice and changes variables, and replays from its
// transcript with that memory; a run starts from any node with variables set by hand; bad starts and a
// missing model are typed errors; a run can be stopped mid-way.

import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEditorHost } from "../../editor/host/editor-api.js";
import { PlaytestError, PlaytestHost, type PlaytestHostEvent } from "../../editor/host/playtest.js";
import { ProjectFolder } from "../../editor/project/index.js";
import type { DialogueEvent } from "../../plugin/events.js";

const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const DEMO = join(repoRoot, "samples", "demo-model", "parley-demo.gguf");

/** Collects a host's events and waits for the one a test needs. */
function recorder(host: PlaytestHost) {
  const events: PlaytestHostEvent[] = [];
  const waiters: { test: (e: PlaytestHostEvent) => boolean; resolve: (e: PlaytestHostEvent) => void }[] = [];
  host.subscribe((event) => {
    events.push(event);
    for (const w of [...waiters]) {
      if (!w.test(event)) continue;
      waiters.splice(waiters.indexOf(w), 1);
      w.resolve(event);
    }
  });
  const dialogue = (): DialogueEvent[] => events.flatMap((e) => (e.type === "dialogue" ? [e.event] : []));
  const next = (test: (e: DialogueEvent) => boolean): Promise<DialogueEvent> =>
    new Promise((resolve) =>
      waiters.push({ test: (e) => e.type === "dialogue" && test(e.event), resolve: (e) => resolve((e as { event: DialogueEvent }).event) }),
    );
  return { events, dialogue, next };
}

describe("the editor's playtest engine, on the demo model", () => {
  let scratch: string;
  let host: PlaytestHost;

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "parley-playtest-"));
    for (const entry of ["parley.project.json", "characters", "dialogue"])
      await cp(join(repoRoot, "samples", "village", entry), join(scratch, entry), { recursive: true });
    host = new PlaytestHost(await ProjectFolder.open(scratch), { env: { ...process.env, PARLEY_MODEL: DEMO } });
  });
  afterAll(async () => {
    await host?.close();
    await rm(scratch, { recursive: true, force: true });
  });

  it("plays Brom's graph: a streamed generated line with its prompt and timing, free text, a choice, variables", async () => {
    const r = recorder(host);
    // An earlier conversation Brom remembers (as a village NPC does): his goodbye line.
    const earlier = r.next((e) => e.type === "ended");
    await host.start({ graph: "blacksmith", node: "goodbye", seed: 1, remember: true });
    await earlier;

    const asked = r.next((e) => e.type === "input_requested");
    const run = await host.start({ graph: "blacksmith", seed: 42, remember: true });
    expect(run).toMatchObject({ graph: "blacksmith", character: "blacksmith", seed: 42, startNode: "visit", model: "parley-demo.gguf", memoryTurns: 1 });
    await asked;

    // The path so far, node by node: set, branch, the generated greeting, set, the input node.
    const nodes = r.events.flatMap((e) => (e.type === "node" && e.runId === run.runId ? [e.nodeId] : []));
    expect(nodes).toEqual(["visit", "check_met", "first_meeting", "mark_met", "ask"]);
    const greeting = r.dialogue().find((e) => e.type === "line_complete" && e.nodeId === "first_meeting");
    expect(greeting).toMatchObject({ source: "generated" });
    const chunks = r.dialogue().filter((e) => e.type === "text_chunk" && e.nodeId === "first_meeting");
    expect(chunks.length).toBeGreaterThan(1); // streamed, not one block
    expect(greeting!.type === "line_complete" && greeting!.timing!.tokens).toBeGreaterThan(0);

    // The exact prompt, with each part counted by the demo model's tokenizer.
    const prompt = r.events.find((e) => e.type === "prompt");
    expect(prompt?.type === "prompt" && prompt.nodeId).toBe("first_meeting");
    if (prompt?.type !== "prompt") throw new Error("no prompt event");
    const parts = Object.fromEntries(prompt.prompt.parts.map((p) => [p.part, p]));
    expect(parts.persona.text).toContain("You are Brom Ironhand");
    expect(parts.persona.tokens).toBeGreaterThan(50);
    expect(parts.instruction.text).toContain("Greet the stranger gruffly");
    expect(parts.memory.text).toBe("Off with you, then. The fire won't tend itself.");
    expect(parts.memory.tokens).toBeGreaterThan(5);
    expect(prompt.prompt.messages[0].content.startsWith(parts.persona.text)).toBe(true);
    const sum = prompt.prompt.parts.reduce((n, p) => n + p.tokens, 0);
    expect(prompt.prompt.totalTokens).toBeGreaterThanOrEqual(sum); // the rest is the chat template's markers

    const offered = r.next((e) => e.type === "choices_offered");
    host.submit("I want to buy a sword.");
    await offered;
    const ended = r.next((e) => e.type === "ended");
    host.choose(0);
    expect(await ended).toMatchObject({ reason: "end", nodeId: "done" });
    expect(r.dialogue()).toContainEqual({ type: "variable_changed", name: "player.gold", value: 20, previous: 50 });
    expect(r.dialogue()).toContainEqual(expect.objectContaining({ type: "intent_chosen", intent: "buy_weapon" }));

    // The transcript keeps what Brom remembered at the start, so its replay has the same prompt and words.
    const { transcript } = await host.saveTranscript("remembered");
    expect(transcript.start.memory?.turns.map((t) => t.text)).toEqual(["Off with you, then. The fire won't tend itself."]);
    expect((await host.replay("remembered")).comparison).toMatchObject({ matches: true });
    expect(host.forget("blacksmith")).toBe(1 + transcript.expected.steps.flatMap((s) => [...s.lines, ...(s.player === null ? [] : [s.player])]).length);
  });

  it("starts from any node with variables set by hand", async () => {
    const r = recorder(host);
    const offered = r.next((e) => e.type === "choices_offered");
    const run = await host.start({ graph: "blacksmith", node: "shop", variables: { "player.gold": 10 }, seed: 1 });
    expect(run).toMatchObject({ startNode: "shop", variables: { "player.gold": 10 } });
    const event = await offered;
    // With 10 gold the sword is not on offer, "can't afford" is.
    expect(event.type === "choices_offered" && event.choices.map((c) => c.index)).toEqual([1, 2]);
    await host.stop();
    expect(r.dialogue().at(-1)).toMatchObject({ type: "ended", reason: "cancelled", nodeId: "shop" });
  });

  it("refuses an unknown graph, node or variable, and a choice when none is asked, with typed errors", async () => {
    await expect(host.start({ graph: "nobody" })).rejects.toMatchObject({ status: 404, httpCode: "NOT_FOUND" });
    await expect(host.start({ graph: "blacksmith", node: "nowhere" })).rejects.toThrow(/has no node "nowhere"/);
    await expect(host.start({ graph: "blacksmith", variables: { gold: 5 } })).rejects.toThrow(/variable "gold" is not declared/);
    await expect(host.start({ graph: "blacksmith", variables: { "player.gold": "lots" } })).rejects.toBeInstanceOf(PlaytestError);
    expect(() => host.choose(0)).toThrow(PlaytestError);
  });

  it("answers the page over HTTP: typed JSON errors, no model installed as 503 NO_MODEL", async () => {
    const server = await startEditorHost(await ProjectFolder.open(scratch), {
      playtest: { env: { ...process.env, PARLEY_MODEL: join(scratch, "missing.gguf") } },
    });
    try {
      const post = async (route: string, body: object) => {
        const response = await fetch(`${server.origin}/api/playtest/${route}`, {
          method: "POST",
          headers: { "content-type": "application/json", "x-parley-token": server.token },
          body: JSON.stringify(body),
        });
        return { status: response.status, body: (await response.json()) as { error?: { code: string; message: string } } };
      };
      expect(await post("start", { graph: "blacksmith", variables: { visits: [1] } })).toMatchObject({
        status: 400,
        body: { error: { code: "INVALID_ARGUMENT" } },
      });
      expect(await post("choose", { index: 0 })).toMatchObject({ status: 409, body: { error: { code: "NO_PLAYTEST" } } });
      const noModel = await post("start", { graph: "blacksmith" });
      expect(noModel).toMatchObject({ status: 503, body: { error: { code: "NO_MODEL" } } });
      expect(noModel.body.error!.message).toMatch(/parley model get tinyllama/);
      const list = await fetch(`${server.origin}/api/playtest/transcripts?token=${server.token}`);
      expect(await list.json()).toEqual({ transcripts: [{ name: "remembered", path: "playtests/remembered.transcript.json", graph: "blacksmith", seed: 42 }] });
    } finally {
      await server.close();
    }
  });

  it("says how to get a model when none is installed", async () => {
    const bare = new PlaytestHost(await ProjectFolder.open(scratch), { env: { ...process.env, PARLEY_MODEL: join(scratch, "missing.gguf") } });
    try {
      const error = await bare.start({ graph: "blacksmith" }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PlaytestError);
      expect(error).toMatchObject({ status: 503, httpCode: "NO_MODEL" });
      expect((error as Error).message).toMatch(/missing\.gguf.*parley model get tinyllama/s);
      expect(bare.model).toMatchObject({ state: "error", code: "NO_MODEL" });
    } finally {
      await bare.close();
    }
  });
});

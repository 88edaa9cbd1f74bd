// The village's host side on the real runtime (a tiny synthetic model on lavapipe, no mock): the village's
// demo model in model resolution, the village host's rules, and the HTTP host's guards (token, Origin, Host,
// paths, body limits) plus a whole conversation streamed over SSE with Node's fetch.
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import type { ConversationHost } from "../../../plugin/host/index.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileAccessError, InvalidArgumentError } from "../../../runtime/errors.js";
import type { DialogueEvent } from "../../../plugin/index.js";
import { MAX_INPUT_CHARS, type HostEvent } from "../../../samples/village/village-npcs.js";
import { startHttpHost, type LoopbackServer as HttpHost } from "../../../plugin/host/http-host.js";
import { rawRequest } from "../../fixtures/raw-request.js";
import { DEMO_MODEL_LABEL, DEMO_MODEL_PATH, resolveVillageModel } from "../../../samples/village/host/model-resolution.js";
import { tuneForThisGpu, createVillageHost } from "../../../samples/village/host/village-host.js";
import { describeTuning } from "../../../runtime/tuning/settings.js";
import { Runtime } from "../../../runtime/runtime.js";
import { syntheticModel } from "../../fixtures/models.js";
import { readEvents as readEventStream } from "../../fixtures/event-stream.js";

const scratch = mkdtempSync(join(tmpdir(), "parley-village-host-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

// The resolution order itself is the runtime's (test/runtime/models-resolve.test.ts); the village adds its demo model.
describe("resolveVillageModel", () => {
  it("passes --model and PARLEY_MODEL through, and refuses a missing one with FileAccessError", async () => {
    const explicit = join(scratch, "explicit.gguf");
    writeFileSync(explicit, "GGUF");
    expect(await resolveVillageModel({ model: explicit, env: {} })).toMatchObject({ path: explicit, source: "explicit" });
    expect(await resolveVillageModel({ env: { PARLEY_MODEL: explicit } })).toMatchObject({ path: explicit, source: "env" });
    await expect(resolveVillageModel({ model: join(scratch, "no-such-model.gguf"), env: {} })).rejects.toBeInstanceOf(FileAccessError);
  });

  it("takes the bundled demo model when the folder has no model, before any stand-in", async () => {
    const folder = mkdtempSync(join(tmpdir(), "parley-demo-"));
    try {
      const r = await resolveVillageModel({ env: { PARLEY_MODELS: folder } });
      expect(r).toMatchObject({ path: DEMO_MODEL_PATH, source: "demo", synthetic: false });
      expect(r.note).toContain(DEMO_MODEL_LABEL);
      expect(r.note).toMatch(/demo model/);
    } finally {
      rmSync(folder, { recursive: true, force: true });
    }
  });
});

// ---------------------------------------------------------------------------------------------------

let service: ConversationHost;
let host: HttpHost;
let gameDir: string;
const PAGE = "<!doctype html><title>village</title><script type=module src=main.js></script>";

beforeAll(async () => {
  const model = await syntheticModel("tiny", "q8_0");
  service = await createVillageHost({ model, seed: 11, env: {} });
  gameDir = join(scratch, "game");
  mkdirSync(join(gameDir, "assets"), { recursive: true });
  writeFileSync(join(gameDir, "index.html"), PAGE);
  writeFileSync(join(gameDir, "main.js"), "console.log('village');");
  writeFileSync(join(gameDir, "assets", "style.css"), "body{}");
  writeFileSync(join(scratch, "secret.txt"), "TOP SECRET");
  symlinkSync(join(scratch, "secret.txt"), join(gameDir, "link.txt"));
  host = await startHttpHost(service, { staticDir: gameDir });
});

afterAll(async () => {
  await host?.close();
  await service?.dispose();
});

const origin = (): string => new URL(host.url).origin;
const api = (path: string, init: RequestInit & { token?: string | null } = {}): Promise<Response> => {
  const { token = host.token, ...rest } = init;
  const method = rest.method ?? "GET";
  const headers = new Headers(rest.headers);
  if (method === "POST") {
    if (token !== null) headers.set("x-parley-token", token);
    headers.set("content-type", "application/json");
    return fetch(`${origin()}${path}`, { ...rest, headers });
  }
  const url = new URL(path, origin());
  if (token !== null) url.searchParams.set("token", token);
  return fetch(url, { ...rest, headers });
};
const post = (route: string, body: unknown, init: RequestInit & { token?: string | null } = {}): Promise<Response> =>
  api(`/api/${route}`, { method: "POST", body: typeof body === "string" ? body : JSON.stringify(body), ...init });

/** A raw request (fetch normalizes paths and will not send a forged Host). */
function raw(path: string, headers: Record<string, string> = {}): Promise<{ status: number; body: string }> {
  return rawRequest(host.port, path, headers);
}

/** Reads an SSE response, calling `onEvent` for each `data:` event (and `onComment` for `:` lines) until one returns true. */
const readEvents = (response: Response, onEvent: (event: HostEvent) => Promise<boolean> | boolean, onComment?: (comment: string) => boolean): Promise<void> =>
  readEventStream<HostEvent>(response, onEvent, onComment);

describe("HTTP host", () => {
  it("listens on 127.0.0.1 with a 32-byte hex token in the page URL", () => {
    expect(host.token).toMatch(/^[0-9a-f]{64}$/);
    expect(host.url).toBe(`http://127.0.0.1:${host.port}/?token=${host.token}`);
  });

  it("serves the game's files with their content types", async () => {
    const page = await fetch(host.url);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    expect(await page.text()).toBe(PAGE);
    const script = await fetch(`${origin()}/main.js`);
    expect(script.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect((await fetch(`${origin()}/assets/style.css`)).headers.get("content-type")).toMatch(/^text\/css/);
    expect((await fetch(`${origin()}/nothing-here.js`)).status).toBe(404);
  });

  it("never serves a file outside the game folder", async () => {
    for (const path of [
      "/../secret.txt",
      "/..%2fsecret.txt",
      "/assets/..%2f..%2fsecret.txt",
      "/%2e%2e/secret.txt",
      "/link.txt",
      "/..%5csecret.txt",
      "/%00index.html",
    ]) {
      const r = await raw(path);
      expect([400, 403, 404], path).toContain(r.status);
      expect(r.body, path).not.toContain("TOP SECRET");
    }
    expect((await raw("/..%2fsecret.txt")).status).toBe(403);
    expect((await raw("/link.txt")).status).toBe(403);
  });

  it("refuses API calls without the right token", async () => {
    expect((await api("/api/info", { token: null })).status).toBe(401);
    const wrong = await api("/api/info", { token: "0".repeat(64) });
    expect(wrong.status).toBe(403);
    expect(await wrong.json()).toMatchObject({ error: { code: "FORBIDDEN" } });
    expect((await api("/api/info", { token: host.token.slice(0, 10) })).status).toBe(403);
    expect((await api("/api/events", { token: null })).status).toBe(401);
    expect((await post("start", { npc: "blacksmith" }, { token: null })).status).toBe(401);
    expect((await post("start", { npc: "blacksmith" }, { token: "nope" })).status).toBe(403);
    // A POST must carry the token as a header; the query string is not enough.
    const queryOnly = await fetch(`${origin()}/api/cancel?token=${host.token}`, { method: "POST", body: "{}" });
    expect(queryOnly.status).toBe(401);
    expect(service.activeNpc).toBeUndefined();
  });

  it("refuses a foreign Origin and a foreign Host even with the token", async () => {
    const foreign = await post("start", { npc: "guard" }, { headers: { origin: "http://evil.example" } });
    expect(foreign.status).toBe(403);
    expect(await foreign.json()).toMatchObject({ error: { code: "FORBIDDEN_ORIGIN" } });
    expect((await api("/api/info", { headers: { origin: "http://localhost:" + host.port } })).status).toBe(403);
    expect((await api("/api/info", { headers: { origin: "null" } })).status).toBe(403);
    expect((await api("/api/info", { headers: { origin: origin() } })).status).toBe(200);
    expect((await raw(`/api/info?token=${host.token}`, { host: `attacker.example:${host.port}` })).status).toBe(403);
    expect(service.activeNpc).toBeUndefined();
  });

  it("answers info with the NPCs and the model note", async () => {
    const { value: info } = await (await api("/api/info")).json();
    expect(info.canGenerate).toBe(true);
    expect(info.modelNote).toContain("tiny-q8_0");
    expect(info.device).toBeTruthy();
    expect(info.npcs.map((n: { id: string }) => n.id)).toEqual(["blacksmith", "guard", "innkeeper"]); // the project's characters, by file name
  });

  it("answers bad input with 4xx JSON errors and keeps working", async () => {
    const broken = await post("start", "{not json");
    expect(broken.status).toBe(400);
    expect(await broken.json()).toMatchObject({ error: { code: "BAD_JSON" } });
    expect((await post("start", "[1,2]")).status).toBe(400);
    const big = await post("submit", { text: "x".repeat(20_000) });
    expect(big.status).toBe(413);
    const blank = await post("submit", { text: " \n " });
    expect(blank.status).toBe(400);
    expect(await blank.json()).toEqual({ error: { code: "EMPTY_INPUT", message: "submit: the text is empty; type something to say before sending" } });
    const unknown = await post("start", { npc: "dragon" });
    expect(unknown.status).toBe(400);
    expect(await unknown.json()).toMatchObject({ error: { code: "INVALID_ARGUMENT", message: expect.stringContaining("dragon") } });
    expect((await post("start", { npc: 7 })).status).toBe(400);
    const notWaiting = await post("choose", { index: 0 });
    expect(notWaiting.status).toBe(400);
    expect((await notWaiting.json()).error.message).toMatch(/no conversation/);
    expect((await post("nothing", {})).status).toBe(404);
    expect((await api("/api/start")).status).toBe(405);
    expect((await api("/api/info")).status).toBe(200);
  });

  it("streams a whole conversation over SSE: start → lines → choose/submit → ended", async () => {
    const controller = new AbortController();
    const stream = await api("/api/events", { signal: controller.signal });
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toMatch(/^text\/event-stream/);

    const seen: DialogueEvent[] = [];
    const stats: HostEvent[] = [];
    const answers = ["I'd like to buy a sword, please.", "Nice forge you have."];
    const reading = readEvents(stream, async (event) => {
      if (event.type === "stats") stats.push(event);
      if (event.type !== "dialogue") return false;
      expect(event.npc).toBe("blacksmith");
      seen.push(event.event);
      const e = event.event;
      if (e.type === "input_requested") {
        // Blank and over-long lines are refused with a typed error, and the NPC keeps waiting for a real one.
        for (const [text, code] of [
          ["", "EMPTY_INPUT"],
          [" \t\n ", "EMPTY_INPUT"],
          ["y".repeat(MAX_INPUT_CHARS + 1), "INPUT_TOO_LONG"],
        ] as const) {
          const refused = await post("submit", { text });
          expect(refused.status, JSON.stringify(text.slice(0, 8))).toBe(400);
          expect((await refused.json()).error).toMatchObject({
            code,
            message: expect.stringMatching(code === "EMPTY_INPUT" ? /empty/ : new RegExp(`at most ${MAX_INPUT_CHARS}\\b`)),
          });
        }
        expect((await post("submit", { text: answers.shift() ?? "Bye." })).status).toBe(200);
      }
      if (e.type === "choices_offered") expect((await post("choose", { index: e.choices[0].index })).status).toBe(200);
      return e.type === "ended";
    });
    expect(await (await post("start", { npc: "blacksmith" })).json()).toEqual({ ok: true, value: null });
    await reading;
    controller.abort();

    const types = seen.map((e) => e.type);
    expect(types[0]).toBe("started");
    expect(types).toContain("text_chunk");
    expect(types).toContain("player_line");
    expect(types).toContain("intent_chosen");
    expect(seen.at(-1)).toMatchObject({ type: "ended", reason: "end" });
    expect(seen.find((e) => e.type === "player_line")).toMatchObject({ text: "I'd like to buy a sword, please." });
    expect(
      seen.filter((e) => e.type === "player_line").every((e) => e.type === "player_line" && e.text.trim() !== "" && e.text.length <= MAX_INPUT_CHARS),
    ).toBe(true);
    expect(stats.length).toBeGreaterThan(0);
  });

  it("sends heartbeat comments on the event stream", async () => {
    const quick = await startHttpHost(service, { staticDir: gameDir, heartbeatMs: 30 });
    try {
      const controller = new AbortController();
      const url = new URL("/api/events", quick.url);
      url.searchParams.set("token", quick.token);
      const stream = await fetch(url, { signal: controller.signal });
      const comments: string[] = [];
      await readEvents(
        stream,
        () => false,
        (comment) => {
          comments.push(comment);
          return comment.includes("heartbeat");
        },
      );
      controller.abort();
      expect(comments.some((c) => c.includes("heartbeat"))).toBe(true);
    } finally {
      await quick.close();
    }
  });
});

describe("the village host", () => {
  it("rejects bad calls with InvalidArgumentError", async () => {
    await expect(service.start("dragon" as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(service.choose(0)).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(service.submit("hello")).rejects.toThrow(/no conversation is running/);
    await expect(service.bark("dragon" as never)).rejects.toBeInstanceOf(InvalidArgumentError);
    await service.cancel(); // nothing running: a no-op
  });

  it("starting a conversation cancels the one under way, which ends first", async () => {
    const events: HostEvent[] = [];
    const off = service.subscribe((e) => events.push(e));
    await service.start("guard");
    await service.start("innkeeper");
    expect(service.activeNpc).toBe("innkeeper");
    await service.cancel();
    off();
    const dialogue = events.flatMap((e) => (e.type === "dialogue" ? [`${e.npc}:${e.event.type}`] : []));
    const guardEnd = dialogue.indexOf("guard:ended");
    expect(guardEnd).toBeGreaterThan(-1);
    expect(guardEnd).toBeLessThan(dialogue.indexOf("innkeeper:started"));
    expect(dialogue.at(-1)).toBe("innkeeper:ended");
    expect(service.activeNpc).toBeUndefined();
  });

  it("rate-limits barks: one at a time, once per cooldown per NPC, never during a conversation", async () => {
    const barks: HostEvent[] = [];
    const off = service.subscribe((e) => e.type === "bark" && barks.push(e));
    expect(await service.bark("innkeeper")).toBe("started");
    expect(await service.bark("guard")).toBe("busy");
    await service.barkSettled();
    expect(await service.bark("innkeeper")).toBe("cooldown");
    const last = barks.at(-1);
    expect(last).toMatchObject({ type: "bark", npc: "innkeeper", done: true });
    expect((last as { text: string }).text.length).toBeGreaterThan(0);

    await service.start("blacksmith");
    expect(await service.bark("guard")).toBe("conversation");
    await service.cancel();
    expect(await service.bark("guard")).toBe("started");
    await service.barkSettled();
    off();
  });

  it("runs on authored lines when the model cannot be loaded", async () => {
    const broken = join(scratch, "broken.gguf");
    writeFileSync(broken, "not a gguf file at all");
    const fallback = await createVillageHost({ model: broken, env: {} });
    try {
      const info = fallback.info();
      expect(info.canGenerate).toBe(false);
      expect(info.modelNote).toMatch(/^no model: authored lines only/);
      const barks: HostEvent[] = [];
      fallback.subscribe((e) => barks.push(e));
      expect(await fallback.bark("blacksmith")).toBe("started");
      await fallback.barkSettled();
      const line = barks.at(-1) as { text: string; done: boolean };
      expect(line.done).toBe(true);
      expect(fallback.npc("blacksmith").character.fallbackLines).toContain(line.text);
    } finally {
      await fallback.dispose();
    }
  });
});

describe("the village's kernel tuning on load", () => {
  it("tunes on a GPU (stored, described in the model line) and leaves CPU drivers on their defaults", async () => {
    const store = mkdtempSync(join(tmpdir(), "parley-village-tuning-"));
    // lavapipe is a CPU driver: the GPU branch is exercised by naming the device type a GPU would report.
    const runtime = await Runtime.create({ tuningStore: store });
    try {
      const model = await runtime.loadModel(await syntheticModel("tiny", "q4_0"));
      expect(await tuneForThisGpu(model, "cpu")).toBe("");
      expect(model.tuning).toBeNull();
      const note = await tuneForThisGpu(model, "discrete");
      expect(note).toMatch(/^ \(kernels: decode rows [1248], (un)?staged.*; prefill (gemm|tiled16|matvec|lane)/);
      expect(model.tuning).not.toBeNull();
      expect(note).toContain(describeTuning(model.tuning!));
      model.dispose();
      const again = await runtime.loadModel(await syntheticModel("tiny", "q4_0"));
      expect(again.tuning).toEqual(model.tuning); // the next launch: applied from the store
    } finally {
      runtime.dispose();
      rmSync(store, { recursive: true, force: true });
    }
  });
});

// LocalBackend on the real runtime (tiny synthetic model on the Vulkan driver) and FallbackBackend.
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { AbortError, Runtime, type ChatMessage, type Model } from "../../runtime/index.js";
import { FallbackBackend, LocalBackend, NoModelError } from "../../plugin/local-backend.js";
import { syntheticModel } from "../fixtures/models.js";

let runtime: Runtime;
let model: Model;

beforeAll(async () => {
  runtime = await Runtime.create();
  model = await runtime.loadModel(await syntheticModel("tiny", "q8_0"));
});

afterAll(() => runtime?.dispose());

const chat = (text: string): ChatMessage[] => [
  { role: "system", content: "You are Bram, the blacksmith of Oakvale. Short sentences." },
  { role: "user", content: text },
];

const settled = () => new Promise<void>((resolve) => setImmediate(resolve));

async function collect(it: AsyncIterable<string>): Promise<string> {
  let s = "";
  for await (const c of it) s += c;
  return s;
}

describe("LocalBackend", () => {
  it("describes the model, caps the context and counts tokens with the model's tokenizer", () => {
    const backend = new LocalBackend(model, { device: runtime.device.name });
    expect(backend.canGenerate).toBe(true);
    expect(backend.contextSize).toBe(Math.min(2048, model.info.contextLength)); // the default, capped by the model's context
    const capped = new LocalBackend(model, { contextSize: model.info.contextLength * 2 });
    expect(capped.contextSize).toBe(model.info.contextLength);
    capped.dispose();
    expect(backend.description).toContain("Q8_0");
    expect(backend.description).toContain(model.info.name ?? "tiny");
    expect(backend.description).toContain(runtime.device.name);
    expect(backend.countTokens("Hello there, lad.")).toBe(model.tokenize("Hello there, lad.", { addBos: false }).length);
    expect(backend.countChatTokens(chat("hi"))).toBe(model.tokenizeChat(chat("hi")).length);
    backend.dispose();
  });

  it("streams text, records timings, and reuses the KV cache for the same cacheKey", async () => {
    const backend = new LocalBackend(model, { contextSize: 256 });
    const first = await collect(backend.generate({ cacheKey: "bram", messages: chat("Good morning."), sampling: { maxTokens: 6, temperature: 0 } }));
    expect(first.length).toBeGreaterThan(0);
    const t1 = backend.lastTimings!;
    expect(t1.cachedTokens).toBe(0);
    expect(t1.generatedTokens).toBeGreaterThan(0);
    await collect(backend.generate({ cacheKey: "bram", messages: chat("Do you sell swords?"), sampling: { maxTokens: 6, temperature: 0 } }));
    const t2 = backend.lastTimings!;
    const a = model.tokenizeChat(chat("Good morning."));
    const b = model.tokenizeChat(chat("Do you sell swords?"));
    let common = 0;
    while (a[common] === b[common]) common++;
    expect(common).toBeGreaterThan(10); // the system message and the user header
    expect(t2.cachedTokens).toBe(common);
    expect(t2.cachedTokens).toBeLessThan(t2.promptTokens);
    // Another key: its own cache, nothing reused.
    await collect(backend.generate({ cacheKey: "mira", messages: chat("Do you sell swords?"), sampling: { maxTokens: 2, temperature: 0 } }));
    expect(backend.lastGeneration!.cacheKey).toBe("mira");
    expect(backend.lastTimings!.cachedTokens).toBe(0);
    expect(backend.sessionCount).toBe(2);
    backend.dispose();
  });

  it("keeps at most maxSessions KV caches, evicting the least recently used", async () => {
    const backend = new LocalBackend(model, { contextSize: 128, maxSessions: 2 });
    const run = (key: string) => collect(backend.generate({ cacheKey: key, messages: chat("Hi."), sampling: { maxTokens: 1, temperature: 0 } }));
    await run("a");
    await run("b");
    await run("a"); // a is now the most recent
    expect(backend.lastTimings!.cachedTokens).toBeGreaterThan(0);
    await run("c"); // evicts b
    expect(backend.sessionCount).toBe(2);
    await run("a");
    expect(backend.lastTimings!.cachedTokens).toBeGreaterThan(0);
    await run("b"); // re-created: nothing cached
    expect(backend.lastTimings!.cachedTokens).toBe(0);
    backend.dispose();
  });

  it("leaves the session consistent when the consumer stops early", async () => {
    const backend = new LocalBackend(model, { contextSize: 256 });
    const reference = new LocalBackend(model, { contextSize: 256 });
    const request = { messages: chat("Tell me about the forge."), sampling: { maxTokens: 8, temperature: 0 } };
    for await (const _ of backend.generate({ cacheKey: "k", ...request })) break;
    const again = await collect(backend.generate({ cacheKey: "k", ...request }));
    const fresh = await collect(reference.generate({ cacheKey: "k", ...request }));
    expect(again).toBe(fresh);
    backend.dispose();
    reference.dispose();
  });

  it("aborts with AbortError through the request's signal", async () => {
    const backend = new LocalBackend(model, { contextSize: 256 });
    const controller = new AbortController();
    const run = async () => {
      for await (const _ of backend.generate({
        cacheKey: "k",
        messages: chat("Hi."),
        sampling: { maxTokens: 50, temperature: 0 },
        signal: controller.signal,
      })) {
        controller.abort();
      }
    };
    await expect(run()).rejects.toBeInstanceOf(AbortError);
    // The session still works afterwards.
    expect(
      (await collect(backend.generate({ cacheKey: "k", messages: chat("Hi."), sampling: { maxTokens: 2, temperature: 0 } }))).length,
    ).toBeGreaterThanOrEqual(0);
    backend.dispose();
  });

  it("chooses among options with constrained decoding", async () => {
    const backend = new LocalBackend(model, { contextSize: 256 });
    const r = await backend.choose({ cacheKey: "intent", messages: chat("I want to buy a sword."), options: ["buy", "sell", "leave"] });
    expect(r.logProbs).toHaveLength(3);
    expect(r.index).toBe(r.logProbs.indexOf(Math.max(...r.logProbs)));
    for (const lp of r.logProbs) expect(lp).toBeLessThan(0);
    backend.dispose();
  });

  it("prepare() builds the first conversation's pipelines and session off the JS thread; the first line builds none", async () => {
    const fresh = await Runtime.create({ pipelineCache: false });
    try {
      const m = await fresh.loadModel(await syntheticModel("tiny", "q8_0"));
      const backend = new LocalBackend(m, { contextSize: 128 });
      const memoryBefore = fresh.deviceMemoryInUse;
      let ticks = 0;
      const ticker = setInterval(() => ticks++, 0);
      const prepared = backend.prepare();
      expect(backend.prepare()).toBe(prepared); // once
      await prepared;
      clearInterval(ticker);
      expect(ticks).toBeGreaterThan(0); // the event loop ran while the session was built
      const built = fresh.pipelineBuilds.pipelines;
      expect(built).toBeGreaterThan(5);
      expect(fresh.deviceMemoryInUse).toBeGreaterThan(memoryBefore); // the session waits, with its KV cache
      expect(backend.sessionCount).toBe(0);
      const text = await collect(backend.generate({ cacheKey: "bram", messages: chat("Good morning."), sampling: { maxTokens: 4, temperature: 0 } }));
      expect(text.length).toBeGreaterThan(0);
      expect(backend.sessionCount).toBe(1);
      expect(fresh.pipelineBuilds.pipelines).toBe(built);
      // The prepared session is the conversation's: no second KV cache was made for it.
      const oneSession = fresh.deviceMemoryInUse;
      await collect(backend.generate({ cacheKey: "mira", messages: chat("Hi."), sampling: { maxTokens: 1, temperature: 0 } }));
      expect(fresh.deviceMemoryInUse - oneSession).toBe(oneSession - memoryBefore);
      backend.dispose();
      await settled(); // a session frees its memory once its queued work has settled
      expect(fresh.deviceMemoryInUse).toBe(memoryBefore);
      await expect(backend.prepare()).rejects.toMatchObject({ code: "DISPOSED" });
      // A spare session still waiting at dispose() goes too; a failed prepare() can be tried again.
      const unused = new LocalBackend(m, { contextSize: 128 });
      process.env.PARLEY_PIPELINE_THREADS = "0";
      try {
        await expect(unused.prepare()).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
      } finally {
        delete process.env.PARLEY_PIPELINE_THREADS;
      }
      await unused.prepare();
      expect(fresh.deviceMemoryInUse).toBeGreaterThan(memoryBefore);
      unused.dispose();
      await settled();
      expect(fresh.deviceMemoryInUse).toBe(memoryBefore);
    } finally {
      fresh.dispose();
    }
  });

  it("builds a new conversation's session on a worker thread; requests for a key still being built share it", async () => {
    const backend = new LocalBackend(model, { contextSize: 128, maxSessions: 2 });
    const onThread = vi.spyOn(model, "createSession");
    const offThread = vi.spyOn(model, "createSessionAsync");
    try {
      const memoryBefore = runtime.deviceMemoryInUse;
      const request = (key: string) => ({ cacheKey: key, messages: chat("Good morning."), sampling: { maxTokens: 2, temperature: 0 } });
      // Two lines for the same NPC at once, then a choice for it: one session, built once.
      const [a, b, c] = await Promise.all([
        collect(backend.generate(request("bram"))),
        collect(backend.generate(request("bram"))),
        backend.choose({ cacheKey: "bram", messages: chat("I want to buy a sword."), options: ["buy", "leave"] }),
      ]);
      expect(a).toBe(b); // greedy, and the second ran on the first one's session and cache
      expect(c.logProbs).toHaveLength(2);
      expect(backend.sessionCount).toBe(1);
      expect(offThread).toHaveBeenCalledTimes(1);
      const oneSession = runtime.deviceMemoryInUse - memoryBefore;
      expect(oneSession).toBeGreaterThan(0);
      // Three new keys at once with room for two: the sessions being built count, nothing in use is evicted.
      await Promise.all(["mira", "tam", "oswin"].map((key) => collect(backend.generate(request(key)))));
      expect(offThread).toHaveBeenCalledTimes(4);
      expect(backend.sessionCount).toBeGreaterThanOrEqual(2);
      await collect(backend.generate(request("bram"))); // evicted above (idle); re-built, evicting idle ones down to maxSessions
      expect(offThread).toHaveBeenCalledTimes(5);
      expect(backend.sessionCount).toBe(2);
      await settled();
      expect(runtime.deviceMemoryInUse - memoryBefore).toBe(2 * oneSession);
      expect(onThread).not.toHaveBeenCalled();
      // A conversation that starts while prepare() is still building takes prepare()'s session.
      const early = new LocalBackend(model, { contextSize: 128 });
      const builtBefore = offThread.mock.calls.length;
      const preparing = early.prepare();
      await collect(early.generate(request("bram")));
      await preparing;
      expect(offThread.mock.calls.length - builtBefore).toBe(1);
      expect(early.sessionCount).toBe(1);
      early.dispose();
      // Disposed while a session is still being built: the request fails with DISPOSED, nothing leaks.
      const pending = collect(backend.generate(request("late")));
      backend.dispose();
      await expect(pending).rejects.toMatchObject({ code: "DISPOSED" });
      await settled();
      expect(runtime.deviceMemoryInUse).toBe(memoryBefore);
    } finally {
      onThread.mockRestore();
      offThread.mockRestore();
      backend.dispose();
    }
  });

  it("rejects bad arguments and use after dispose with typed errors", async () => {
    const backend = new LocalBackend(model, { contextSize: 128 });
    await expect(collect(backend.generate({ cacheKey: "", messages: chat("x"), sampling: { maxTokens: 1 } }))).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    await expect(collect(backend.generate({ cacheKey: "k", messages: chat("x"), sampling: { maxTokens: 0 } }))).rejects.toMatchObject({
      code: "INVALID_ARGUMENT",
    });
    backend.dispose();
    await expect(collect(backend.generate({ cacheKey: "k", messages: chat("x"), sampling: { maxTokens: 1 } }))).rejects.toMatchObject({ code: "DISPOSED" });
    expect(() => new LocalBackend(model, { maxSessions: 0 })).toThrow(/maxSessions/);
  });
});

describe("FallbackBackend", () => {
  it("cannot generate, and chooses the first option", async () => {
    const backend = new FallbackBackend();
    expect(backend.canGenerate).toBe(false);
    expect(() => backend.generate({ cacheKey: "k", messages: chat("x"), sampling: { maxTokens: 4 } })).toThrow(NoModelError);
    expect(await backend.choose({ cacheKey: "k", messages: chat("x"), options: ["a", "b", "c"] })).toEqual({ index: 0, logProbs: [0, 0, 0] });
    expect(backend.countChatTokens(chat("hello"))).toBeGreaterThan(0);
  });
});

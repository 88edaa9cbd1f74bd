// Cancelling is prompt at every point of a line: a prompt is evaluated in pieces with the signal checked
// between them (a cancel waits for one piece, not the whole persona prompt), a cancel while the
// conversation's session is still being built is not lost, and the village ends a conversation cancelled
// during the prompt, the intent step or the reply, ready for the next one. Latencies are printed, not
// asserted (wall-clock times are not test results; docs/PERFORMANCE.md records them with their machine).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AbortError, Runtime, type Model } from "../../runtime/index.js";
import { LocalBackend } from "../../plugin/local-backend.js";
import { createVillageHost } from "../../samples/village/host/village-host.js";
import type { DialogueEvent } from "../../plugin/index.js";
import { syntheticModel } from "../fixtures/models.js";

let runtime: Runtime;
let model: Model;

beforeAll(async () => {
  runtime = await Runtime.create();
  model = await runtime.loadModel(await syntheticModel("tiny", "q8_0"));
});
afterAll(() => runtime?.dispose());

const prompt = Array.from({ length: 400 }, (_, i) => 300 + ((i * 131) % 5000));

describe("a cancellable prompt", () => {
  it("stops between pieces and keeps what it evaluated for the next request", async () => {
    const session = await model.createSessionAsync({ contextSize: 1024 });
    try {
      const controller = new AbortController();
      setTimeout(() => controller.abort(), 0); // fires while the first piece runs
      await expect(async () => {
        for await (const _ of session.generate(prompt, { maxTokens: 4, temperature: 0, signal: controller.signal })) {
          /* nothing arrives: the prompt is cut short */
        }
      }).rejects.toThrow(AbortError);
      let cached = -1;
      for await (const chunk of session.generate(prompt, { maxTokens: 2, temperature: 0 })) if (chunk.timings) cached = chunk.timings.cachedTokens;
      // Some pieces were evaluated before the cancel was seen, not the whole prompt.
      expect(cached).toBeGreaterThan(0);
      expect(cached).toBeLessThan(prompt.length - 1);
    } finally {
      session.dispose();
    }
  });

  it("gives the same tokens in pieces as in one evaluation", async () => {
    const a = await model.createSessionAsync({ contextSize: 1024 });
    const b = await model.createSessionAsync({ contextSize: 1024 });
    try {
      const ids = async (s: typeof a, signal?: AbortSignal): Promise<number[]> => {
        const out: number[] = [];
        for await (const chunk of s.generate(prompt, { maxTokens: 8, temperature: 0, signal })) out.push(...chunk.tokens);
        return out;
      };
      expect(await ids(a, new AbortController().signal)).toEqual(await ids(b));
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});

describe("LocalBackend", () => {
  it("does not miss a cancel that arrives while the conversation's session is being built", async () => {
    const backend = new LocalBackend(model, { contextSize: 512 });
    try {
      const controller = new AbortController();
      const request = {
        cacheKey: "npc:a",
        messages: [{ role: "user" as const, content: "Hello there." }],
        sampling: { maxTokens: 8, temperature: 0 },
        signal: controller.signal,
      };
      const it = backend.generate(request)[Symbol.asyncIterator]();
      const first = it.next();
      controller.abort(); // the session is still being built on its worker thread
      await expect(first).rejects.toThrow(AbortError);
      // The backend is usable afterwards, with the same key.
      let text = "";
      for await (const chunk of backend.generate({ ...request, signal: undefined })) text += chunk;
      expect(typeof text).toBe("string");
    } finally {
      backend.dispose();
    }
  });
});

describe("the village with the demo model", () => {
  it("ends a conversation cancelled during the prompt, the intent step or the reply", async () => {
    const service = await createVillageHost({ model: new URL("../../samples/demo-model/parley-demo.gguf", import.meta.url).pathname, seed: 5 });
    try {
      let listener: ((e: DialogueEvent) => void) | undefined;
      service.subscribe((e) => {
        if (e.type === "dialogue") listener?.(e.event);
      });
      // Each case: whom to talk to, and when to cancel (an event, then a short wait so the work is under way).
      // Brom opens with a generated line; Maren generates one after the player's name; Hale routes the
      // player's business through an intent node.
      let generating = false;
      const cases: { name: string; npc: "blacksmith" | "innkeeper" | "guard"; at: (e: DialogueEvent) => boolean }[] = [
        { name: "prompt", npc: "blacksmith", at: (e) => e.type === "line_started" && e.source === "generated" },
        { name: "reply", npc: "innkeeper", at: (e) => e.type === "text_chunk" && generating },
        { name: "intent", npc: "guard", at: (e) => e.type === "player_line" },
      ];
      for (const c of cases) {
        let cancelledAt = 0;
        let armed = false;
        const ended = new Promise<DialogueEvent>((resolve) => {
          listener = (e) => {
            if (e.type === "line_started") generating = e.source === "generated";
            if (e.type === "input_requested") setTimeout(() => void service.submit("Why is the iron from the mine so late?").catch(() => undefined), 0);
            if (!armed && c.at(e)) {
              armed = true;
              setTimeout(() => {
                cancelledAt = performance.now();
                void service.cancel();
              }, 100);
            }
            if (e.type === "ended") resolve(e);
          };
        });
        await service.start(c.npc);
        const e = await ended;
        expect(cancelledAt, `${c.name}: the conversation reached the point to cancel at`).toBeGreaterThan(0);
        expect(e.type === "ended" && e.reason, c.name).toBe("cancelled");
        console.log(`[cancel] ${c.name}: ended ${(performance.now() - cancelledAt).toFixed(0)} ms after cancel()`);
      }
      // The next conversation runs normally.
      const next = new Promise<void>((resolve) => {
        listener = (e) => {
          if (e.type === "input_requested") resolve();
        };
      });
      await service.start("blacksmith");
      await next;
      expect(service.activeRunner?.status).toBe("waiting_input");
    } finally {
      await service.dispose();
    }
  });
});

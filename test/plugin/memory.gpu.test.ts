// NpcMemory: JSON round trip with validation, atomic save/load, typed errors for corrupt files, and
// compaction (model summary on the real runtime, or dropping without a model) that keeps the persona out.
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FileAccessError } from "../../runtime/index.js";
import { FallbackBackend, LocalBackend } from "../../plugin/local-backend.js";
import { MEMORY_SCHEMA, MemoryFormatError, NpcMemory } from "../../plugin/memory/memory.js";
import { buildPersonaPrefix } from "../../plugin/prompt/prompt-builder.js";
import { CHARACTER_SCHEMA, type Character } from "../../plugin/types.js";
import type { DialogueBackend, GenerateRequest } from "../../plugin/backend.js";
import { scratchPath } from "../fixtures/models.js";
import { useLocalBackend } from "../fixtures/local-backend.js";

const dir = scratchPath("memory-test");

beforeAll(async () => {
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

function sample(turns = 6): NpcMemory {
  const m = new NpcMemory("bram");
  for (let i = 0; i < turns; i++)
    m.add(i % 2 ? "npc" : "player", i % 2 ? `Aye, lad, that will be ${i} gold.` : `How much for blade ${i}?`, 1_700_000_000_000 + i * 1000);
  m.summary = "The player bought a dagger last week.";
  return m;
}

describe("NpcMemory documents", () => {
  it("round-trips through toJSON/fromJSON with a versioned schema", () => {
    const m = sample();
    const doc = m.toJSON();
    expect(doc.schema).toBe(MEMORY_SCHEMA);
    const back = NpcMemory.fromJSON(JSON.parse(JSON.stringify(doc)));
    expect(back.toJSON()).toEqual(doc);
    expect(back.turns[1]).toEqual({ speaker: "npc", text: "Aye, lad, that will be 1 gold.", time: 1_700_000_001_000 });
  });

  it("rejects malformed documents with MemoryFormatError", () => {
    const good = sample().toJSON() as unknown as Record<string, unknown>;
    const bad: unknown[] = [
      null,
      [],
      "text",
      { ...good, schema: undefined },
      { ...good, schema: "parley.memory/2" },
      { ...good, schema: "parley.character/1" },
      { ...good, characterId: "Bram Smith" },
      { ...good, summary: 3 },
      { ...good, forgottenTurns: -1 },
      { ...good, turns: {} },
      { ...good, turns: [{ speaker: "narrator", text: "x", time: 1 }] },
      { ...good, turns: [{ speaker: "npc", text: 5, time: 1 }] },
      { ...good, turns: [{ speaker: "npc", text: "x", time: "yesterday" }] },
    ];
    for (const b of bad) expect(() => NpcMemory.fromJSON(b), JSON.stringify(b)).toThrow(MemoryFormatError);
    expect(() => NpcMemory.fromJSON({ ...good, schema: "parley.memory/2" })).toThrow(/not supported by this version/);
    try {
      NpcMemory.fromJSON(null);
    } catch (e) {
      expect(e).toMatchObject({ code: "INVALID_ARGUMENT", name: "MemoryFormatError" });
    }
  });

  it("validates what is added", () => {
    const m = new NpcMemory("bram");
    expect(() => m.add("narrator" as "npc", "x")).toThrow(/speaker/);
    expect(() => new NpcMemory("Bram!")).toThrow(/character id/);
  });
});

describe("save/load", () => {
  it("round-trips through a file and leaves no temporary files", async () => {
    const path = join(dir, "saves", "bram.memory.json");
    const m = sample();
    await m.save(path);
    const back = await NpcMemory.load(path);
    expect(back.toJSON()).toEqual(m.toJSON());
    expect(await readdir(join(dir, "saves"))).toEqual(["bram.memory.json"]);
  });

  it("replaces the file atomically: concurrent readers never see a partial document", async () => {
    const path = join(dir, "atomic.json");
    const big = (n: number) => {
      const m = new NpcMemory("bram");
      for (let i = 0; i < 400; i++) m.add("player", `line ${n}-${i} ${"x".repeat(200)}`, i);
      return m;
    };
    await big(0).save(path);
    let reads = 0;
    let writing = true;
    const reader = (async () => {
      while (writing) {
        const loaded = await NpcMemory.load(path); // throws on a partial file
        expect(loaded.turns).toHaveLength(400);
        reads++;
      }
    })();
    await Promise.all(Array.from({ length: 12 }, (_, n) => big(n + 1).save(path)));
    writing = false;
    await reader;
    expect(reads).toBeGreaterThan(0);
    expect((await readdir(dir)).filter((f) => f.endsWith(".tmp"))).toEqual([]);
  });

  it("keeps the old file when writing fails, with a typed error", async () => {
    const blocker = join(dir, "not-a-folder");
    await writeFile(blocker, "x");
    await expect(sample().save(join(blocker, "bram.json"))).rejects.toBeInstanceOf(FileAccessError);
    expect(await readFile(blocker, "utf8")).toBe("x");
  });

  it("reports missing, corrupt and wrong-schema files with typed errors", async () => {
    await expect(NpcMemory.load(join(dir, "missing.json"))).rejects.toMatchObject({ code: "FILE_ACCESS" });
    await expect(NpcMemory.load(dir)).rejects.toBeInstanceOf(FileAccessError);
    const corrupt = join(dir, "corrupt.json");
    const text = JSON.stringify(sample().toJSON());
    await writeFile(corrupt, text.slice(0, text.length / 2)); // a torn write
    await expect(NpcMemory.load(corrupt)).rejects.toBeInstanceOf(MemoryFormatError);
    await expect(NpcMemory.load(corrupt)).rejects.toThrow(/corrupt/);
    const wrong = join(dir, "wrong.json");
    await writeFile(wrong, JSON.stringify({ ...sample().toJSON(), schema: "parley.memory/9" }));
    await expect(NpcMemory.load(wrong)).rejects.toMatchObject({ name: "MemoryFormatError", path: wrong });
  });
});

describe("compaction", () => {
  const fixture = useLocalBackend({ contextSize: 512 });
  let backend: LocalBackend;
  beforeAll(() => ({ backend } = fixture));

  const bram: Character = {
    schema: CHARACTER_SCHEMA,
    id: "bram",
    name: "Bram",
    role: "the blacksmith",
    description: "A smith who lost his brother in the war.",
    scenario: "",
    personality: ["gruff"],
    speakingStyle: { description: "short", maxWords: 30 },
    knowledge: [{ keywords: [], text: "Oakvale is a mining village.", always: true, priority: 1 }],
    goals: ["Sell a blade"],
    secrets: [{ text: "He hid Dawnbreaker under the anvil.", leakPatterns: ["Dawnbreaker"] }],
    relationships: [],
    greeting: "Hm?",
    alternateGreetings: [],
    examples: [],
    systemPrompt: "",
    postHistoryInstructions: "",
    mood: "calm",
    fallbackLines: ["Busy."],
    extensions: {},
  };

  it("summarizes the oldest turns with the model, without the persona, and shrinks the memory", async () => {
    const m = sample(10);
    const before = m.tokenCount(backend);
    const requests: GenerateRequest[] = [];
    const recording: DialogueBackend = {
      description: backend.description,
      canGenerate: true,
      contextSize: backend.contextSize,
      countTokens: (t) => backend.countTokens(t),
      countChatTokens: (x) => backend.countChatTokens(x),
      generate: (r) => {
        requests.push(r);
        return backend.generate(r);
      },
      choose: (r) => backend.choose(r),
    };
    const t0 = performance.now();
    const r = await m.compact(recording, { keepTurns: 2, maxTokens: 16, npcName: "Bram" });
    const ms = performance.now() - t0;
    expect(r.removedTurns).toBe(8);
    expect(m.turns).toHaveLength(2);
    expect(m.turns[1].text).toBe("Aye, lad, that will be 9 gold.");
    expect(m.forgottenTurns).toBe(8);
    expect(requests).toHaveLength(1);
    expect(requests[0].sampling.maxTokens).toBe(16);
    const sent = requests[0].messages.map((x) => x.content).join("\n");
    expect(sent).toContain("How much for blade 0?");
    expect(sent).toContain("The player bought a dagger last week.");
    // The persona is never part of memory or of the summarization prompt.
    const persona = buildPersonaPrefix(bram);
    for (const piece of ["lost his brother", "Dawnbreaker", "mining village", "Sell a blade", persona.slice(0, 40)]) {
      expect(sent).not.toContain(piece);
      expect(JSON.stringify(m.toJSON())).not.toContain(piece);
    }
    expect(r.mode).toBe(m.summary ? "summarized" : "dropped");
    const after = m.tokenCount(backend);
    expect(after).toBeLessThan(before);
    console.log(`compaction: ${before} → ${after} memory tokens in ${ms.toFixed(0)} ms; summary ${JSON.stringify(m.summary)}`);
  });

  it("drops the oldest turns without a model", async () => {
    for (const b of [undefined, new FallbackBackend()]) {
      const m = sample(6);
      const r = await m.compact(b, { keepTurns: 4 });
      expect(r).toEqual({ removedTurns: 2, mode: "dropped" });
      expect(m.turns).toHaveLength(4);
      expect(m.turns[0].text).toBe("How much for blade 2?");
      expect(m.summary).toBe("The player bought a dagger last week.");
      expect(m.forgottenTurns).toBe(2);
    }
    const m = sample(2);
    expect(await m.compact(undefined, { keepTurns: 4 })).toEqual({ removedTurns: 0, mode: "none" });
    await expect(m.compact(undefined, { keepTurns: -1 })).rejects.toThrow(/keepTurns/);
    expect(existsSync(dir)).toBe(true);
  });
});

// The card corpus (test/fixtures/cards/, written by make-corpus.ts): every file imports as the table says
// or is refused with its code, its character's prompt carries what the card carries (scenario, examples,
// the seed's greeting, macros resolved with the player's name), and every imported character goes out as
// Card V2 and V3 JSON and PNG and comes back the same. Exported PNGs are read with a chunk walk written here (CRC-checked), not with the
// libraries the plugin writes them with; exported cards keep the fields no spec or Parley knows.
import { readdirSync, readFileSync } from "node:fs";
import { inflateRawSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { CardFileError, type CardFileProblem } from "../../plugin/character/card-errors.js";
import { exportCardJson, exportCardPng, importCardFile, type CardFileSource } from "../../plugin/character/card-file.js";
import type { DialogueBackend } from "../../plugin/backend.js";
import { DialogueRunner } from "../../plugin/dialogue/runner.js";
import { buildPrompt } from "../../plugin/prompt/prompt-builder.js";
import type { Character, DialogueGraph } from "../../plugin/types.js";
import { corpusFiles, zipFile } from "../fixtures/cards/make-corpus.js";

const DIR = new URL("../fixtures/cards/", import.meta.url);
const read = (name: string) => new Uint8Array(readFileSync(new URL(name, DIR)));

// Cards are read loosely here: the corpus is every shape a card comes in.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

interface Imports {
  source: CardFileSource;
  name: string;
  /** How an export in the source's spec compares with the card in the file: equal, or containing all of it. */
  roundTrip: "exact" | "contains";
  /** The card the export is compared with, when not the file's own (a V1 card is written as V2 data). */
  expectedCard?: (original: Json) => Json;
  check?: (c: Character) => void;
}

interface Refused {
  refused: CardFileProblem;
  /** For INVALID_CARD: the card paths the error names. */
  paths?: string[];
}

const v2 = (chunk?: "chara" | "ccv3"): CardFileSource => (chunk ? { format: "png", chunk, spec: "v2" } : { format: "json", spec: "v2" });

/** Every corpus file and what reading it gives. */
const CORPUS: Record<string, Imports | Refused> = {
  "v2-minimal-no-version.json": { source: v2(), name: "Ida", roundTrip: "contains", check: (c) => expect(c.greeting).toBe("Hm? Flour's by the door.") },
  "v2-full.json": {
    source: v2(),
    name: "Seraphina",
    roundTrip: "exact",
    check: (c) => {
      expect(c.scenario).toBe("{{user}} wakes up in {{char}}'s glade after a wolf attack.");
      expect(c.systemPrompt).toBe("You are {{char}}. Stay in character and never speak for {{user}}.");
      expect(c.postHistoryInstructions).toBe("Reply in under 80 words.");
      expect(c.alternateGreetings).toEqual(["*{{char}} hums a song.* Oh! A visitor.", "Welcome back, {{user}}."]);
      expect(c.greeting).toBe("*{{char}} kneels beside you.* Easy now, {{user}}. You're safe here.");
      expect(c.examples[0]).toEqual({ player: "Who are you?", npc: "I am {{char}}, keeper of this forest." });
      // The disabled entry is no knowledge (it stays in the kept book, written back on export).
      expect(c.knowledge).toEqual([
        { keywords: ["Eldoria", "forest"], text: "Eldoria is an ancient forest protected by {{char}}'s magic.", always: true, priority: 100 },
        { keywords: ["wolves", "wolf"], text: "Shadow wolves roam the edges of Eldoria at night.", always: false, priority: 50 },
      ]);
      expect(c.extensions.depth_prompt).toEqual({ prompt: "{{char}} is gentle.", depth: 4, role: "system" });
    },
  },
  "v2-st-mirror.json": { source: v2(), name: "Seraphina", roundTrip: "exact" },
  "v1-flat.json": {
    source: { format: "json", spec: "v1" },
    name: "Old Pell",
    roundTrip: "contains",
    // The V1 fields become V2 data; the V1 tools' own flat fields stay at the top level.
    expectedCard: ({ name, description, personality, scenario, first_mes, mes_example, ...outer }) => ({
      ...outer,
      data: { name, description, personality, scenario, first_mes, mes_example },
    }),
    check: (c) => {
      expect(c.greeting).toBe("Fare's a copper, <USER>.");
      expect(c.description).toBe("{{char}} is a ferryman.");
      expect(c.examples).toEqual([{ player: "Cheaper?", npc: "No." }]);
      expect(c.scenario).toBe("At the dock.");
    },
  },
  "v2-data-without-spec.json": { source: v2(), name: "Nell", roundTrip: "contains" },
  "v3-full.json": {
    source: { format: "json", spec: "v3" },
    name: "Corvin Ashdown",
    roundTrip: "exact",
    check: (c) => {
      const kept = c.extensions.chara_card as Json;
      expect(kept.nickname).toBe("Corv");
      expect(kept.assets).toHaveLength(2);
      expect(kept.group_only_greetings).toEqual(["*{{char}} counts heads.* All aboard?"]);
      expect(kept.creator_notes_multilingual.ja).toBe("アセット付きのV3カード");
      expect(c.knowledge.map((k) => k.keywords)).toEqual([["copper", "fare"], ["/drown(ed|ing)/"]]);
    },
  },
  "v2-legacy-book.json": {
    source: v2(),
    name: "Sal",
    roundTrip: "contains",
    // The book is written back where the spec puts it; the card's other extensions stay.
    expectedCard: (card) => {
      const { character_book, ...extensions } = card.data.extensions;
      return { ...card, data: { ...card.data, extensions, character_book } };
    },
    check: (c) => expect(c.knowledge).toEqual([{ keywords: ["salt"], text: "Salt is dear this year.", always: false, priority: 3 }]),
  },
  "v2-korean-book.json": {
    source: v2(),
    name: "이서연",
    roundTrip: "exact",
    check: (c) => {
      expect(c.id).toBe("character"); // no Latin letters to make an id of; the editor makes it unique
      expect(c.personality).toEqual(["다정함", "호기심 많음", "차분함"]);
      expect(c.knowledge).toEqual([
        { keywords: ["유자차", "차"], text: "유자차는 {{char}}가 직접 담근다.", always: false, priority: 100 },
        { keywords: ["고양이"], text: "찻집에는 '보리'라는 고양이가 산다.", always: true, priority: 50 },
      ]);
    },
  },
  "v2-huge-description.json": { source: v2(), name: "Archivist", roundTrip: "contains", check: (c) => expect(c.description).toHaveLength(16_000) },
  "v2-alternate-greetings.json": {
    source: v2(),
    name: "Mira",
    roundTrip: "contains",
    check: (c) => {
      // The blank one is no greeting; export writes the card's list back as it was.
      expect(c.alternateGreetings).toEqual(["Evening, {{user}}.", "You again? *{{char}} grins.*"]);
      expect(c.scenario).toBe("The village well.");
    },
  },
  "v2-book-details.json": {
    source: v2(),
    name: "Tobin",
    roundTrip: "contains",
    check: (c) => {
      // Only the enabled entry with content is knowledge; `priority` stands in for a missing insertion_order.
      expect(c.knowledge).toEqual([{ keywords: ["map"], text: "{{char}} draws maps of the marsh.", always: false, priority: 7 }]);
      const book = (c.extensions.chara_card as Json).character_book;
      expect(book.entries[0]).toMatchObject({ selective: true, secondary_keys: ["marsh"], case_sensitive: true, keys: ["map", ""] });
      expect(book.entries[1]).toMatchObject({ enabled: false, content: "The old road floods in spring." });
    },
  },
  "v2-chara.png": { source: v2("chara"), name: "Seraphina", roundTrip: "exact" },
  "v3-both-chunks.png": { source: { format: "png", chunk: "ccv3", spec: "v3" }, name: "Corvin Ashdown", roundTrip: "exact" },
  "v2-japanese.png": {
    source: v2("chara"),
    name: "佐藤 灯",
    roundTrip: "exact",
    check: (c) => {
      expect(c.greeting).toBe("いらっしゃいませ、{{user}}様。お部屋へご案内いたします。");
      expect(c.knowledge[0].keywords).toEqual(["温泉"]);
    },
  },
  "v2-capital-keyword.png": { source: v2("chara"), name: "Wren", roundTrip: "contains" },
  "v3-card.charx": { source: { format: "charx", spec: "v3" }, name: "Corvin Ashdown", roundTrip: "exact" },
  "v2-stored.charx": { source: { format: "charx", spec: "v2" }, name: "Stored", roundTrip: "contains" },

  "not-json.json": { refused: "NOT_A_CARD_FILE" },
  "broken.json": { refused: "BAD_JSON" },
  "no-name.json": { refused: "INVALID_CARD", paths: ["data.name"] },
  "wrong-types.json": {
    refused: "INVALID_CARD",
    paths: ["data.alternate_greetings[0]", "data.tags", "data.character_book.entries[3].keys", "data.character_book.entries[3].content"],
  },
  "plain-image.png": { refused: "NO_CARD_CHUNK" },
  "truncated.png": { refused: "CORRUPT_PNG" },
  "bad-base64.png": { refused: "BAD_BASE64" },
  "hostile-chunk-length.png": { refused: "CORRUPT_PNG" },
  "corrupt.charx": { refused: "CORRUPT_ZIP" },
  "no-card-json.charx": { refused: "NO_CARD_JSON" },
  "nested-card-json.charx": { refused: "NO_CARD_JSON" },
  "bzip2-card-json.charx": { refused: "CORRUPT_ZIP" },
  "deep-nesting.json": { refused: "BAD_JSON" },
  "zip-bomb-declared.charx": { refused: "TOO_LARGE" },
  "zip-bomb-lying.charx": { refused: "TOO_LARGE" },
};

/** Files whose bytes come from node:zlib's deflate, which may differ between zlib builds. */
const DEFLATED = new Set(["v3-card.charx", "zip-bomb-declared.charx", "zip-bomb-lying.charx"]);

// ---------------------------------------------------------------------------------------------------
// Independent readers: PNG chunks (with a table CRC-32) and a zip's first entry

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** The tEXt chunks of a PNG (keyword → text) after checking the signature, every CRC, IHDR first and IEND last. */
function pngTextChunks(png: Uint8Array): Map<string, string> {
  expect([...png.subarray(0, 8)]).toEqual([137, 80, 78, 71, 13, 10, 26, 10]);
  const view = new DataView(png.buffer, png.byteOffset, png.byteLength);
  const types: string[] = [];
  const texts = new Map<string, string>();
  let at = 8;
  while (at < png.length) {
    const length = view.getUint32(at);
    const type = new TextDecoder("latin1").decode(png.subarray(at + 4, at + 8));
    const data = png.subarray(at + 8, at + 8 + length);
    expect(view.getUint32(at + 8 + length), `CRC of ${type} at ${at}`).toBe(crc(png.subarray(at + 4, at + 8 + length)));
    types.push(type);
    if (type === "tEXt") {
      const zero = data.indexOf(0);
      texts.set(new TextDecoder("latin1").decode(data.subarray(0, zero)), new TextDecoder("latin1").decode(data.subarray(zero + 1)));
    }
    at += 12 + length;
  }
  expect(at).toBe(png.length);
  expect(types[0]).toBe("IHDR");
  expect(types.at(-1)).toBe("IEND");
  return texts;
}

const base64Json = (text: string): Json => JSON.parse(Buffer.from(text, "base64").toString("utf8"));

/** The card JSON a corpus file holds, read without the plugin. */
function cardInFile(name: string, bytes: Uint8Array): Json {
  if (name.endsWith(".png")) {
    const texts = new Map([...pngTextChunks(bytes)].map(([k, v]) => [k.toLowerCase(), v]));
    return base64Json(texts.get("ccv3") ?? texts.get("chara")!);
  }
  if (name.endsWith(".charx")) {
    // The corpus's archives start with card.json: its local header, then its data, stored or deflated.
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const start = 30 + view.getUint16(26, true) + view.getUint16(28, true);
    const data = bytes.subarray(start, start + view.getUint32(18, true));
    return JSON.parse((view.getUint16(8, true) === 8 ? inflateRawSync(data) : Buffer.from(data)).toString("utf8"));
  }
  return JSON.parse(new TextDecoder().decode(bytes));
}

function refusal(run: () => unknown): CardFileError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CardFileError);
    return error as CardFileError;
  }
  throw new Error("expected the file to be refused");
}

// ---------------------------------------------------------------------------------------------------

describe("the card corpus", () => {
  it("is the committed files, exactly as make-corpus.ts writes them, and the table lists each one", () => {
    const written = corpusFiles();
    const committed = readdirSync(DIR).filter((f) => !f.endsWith(".ts"));
    expect(committed.sort()).toEqual([...written.keys()].sort());
    expect(Object.keys(CORPUS).sort()).toEqual(committed);
    expect(committed.length).toBeGreaterThanOrEqual(20);
    for (const [name, bytes] of written) if (!DEFLATED.has(name)) expect(Buffer.compare(read(name), bytes), name).toBe(0);
  });

  const importing = Object.entries(CORPUS).filter((e): e is [string, Imports] => "source" in e[1]);
  const refused = Object.entries(CORPUS).filter((e): e is [string, Refused] => "refused" in e[1]);

  describe.each(importing)("%s", (name, expected) => {
    const bytes = read(name);
    const { character, source } = importCardFile(bytes);

    it("imports as the table says", () => {
      expect(source).toEqual(expected.source);
      expect(character.name).toBe(expected.name);
      expected.check?.(character);
    });

    it("comes back the same from Card V2 and V3 JSON", () => {
      for (const spec of ["v2", "v3"] as const) {
        const json = exportCardJson(character, { spec });
        expect(JSON.parse(json).spec).toBe(spec === "v2" ? "chara_card_v2" : "chara_card_v3");
        expect(importCardFile(new TextEncoder().encode(json)).character).toEqual(character);
      }
    });

    it("exports in its own spec with every field of the file's card (unknown ones included)", () => {
      const spec = expected.source.spec === "v3" ? "v3" : "v2";
      const exported = JSON.parse(exportCardJson(character, { spec })) as Json;
      const original = cardInFile(name, bytes);
      const card = expected.expectedCard ? expected.expectedCard(original) : original;
      const { spec: _s, spec_version: _v, ...rest } = card;
      if (expected.roundTrip === "exact") expect(exported).toEqual(card);
      else expect(exported).toMatchObject(rest);
    });

    it("exports a PNG whose chara (V2) and ccv3 (V3) chunks an independent reader takes, and that imports back", () => {
      const png = exportCardPng(character);
      const texts = pngTextChunks(png);
      expect([...texts.keys()]).toEqual(["chara", "ccv3"]);
      const chara = base64Json(texts.get("chara")!);
      const ccv3 = base64Json(texts.get("ccv3")!);
      expect([chara.spec, chara.spec_version, ccv3.spec, ccv3.spec_version]).toEqual(["chara_card_v2", "2.0", "chara_card_v3", "3.0"]);
      for (const card of [chara, ccv3]) {
        expect(card.data).toMatchObject({
          name: character.name,
          first_mes: character.greeting,
          scenario: character.scenario,
          alternate_greetings: expect.any(Array),
        });
      }
      expect(ccv3.data.group_only_greetings).toEqual(expect.any(Array));
      expect(importCardFile(png).character).toEqual(character);
    });
  });

  it.each(refused)("%s is refused with its code and a clear message", (name, expected) => {
    const error = refusal(() => importCardFile(read(name)));
    expect(error.problem).toBe(expected.refused);
    expect(error.message).not.toMatch(/\n\s+at /); // a message for a person, not a stack
    if (expected.paths) expect(error.issues.map((i) => i.path)).toEqual(expected.paths);
    for (const path of expected.paths ?? []) expect(error.message).toContain(path);
  });

  it("refuses a file over the size limit before reading it", () => {
    expect(refusal(() => importCardFile(read("v2-full.json"), { maxBytes: 1024 })).problem).toBe("TOO_LARGE");
  });

  it("refuses a zip listing more files than any card archive, before inflating any", () => {
    const many = Array.from({ length: 10_001 }, (_, i) => ({ name: `f${i}`, data: new Uint8Array(0), deflate: false }));
    const error = refusal(() => importCardFile(zipFile([...many, { name: "card.json", data: read("v2-full.json"), deflate: false }])));
    expect([error.problem, error.message]).toEqual(["CORRUPT_ZIP", expect.stringMatching(/more than 10000 files/)]);
  });

  describe("prompted", () => {
    const PLAYER = "Aria";
    // Token counts need no model here: a stand-in that counts characters keeps budgets generous.
    const backend = {
      contextSize: 32_768,
      countTokens: (t: string) => Math.ceil(t.length / 3),
      countChatTokens: (m: { content: string }[]) => m.reduce((n, x) => n + 4 + Math.ceil(x.content.length / 3), 0),
    };
    const graph = {
      schema: "parley.dialogue/1",
      id: "corpus",
      character: "x",
      start: "end",
      variables: {},
      nodes: { end: { type: "end" } },
    } as unknown as DialogueGraph;
    /** Macros resolved the way the card tools mean them, written here rather than taken from the plugin. */
    const resolved = (c: Character, text: string) => text.replace(/\{\{char\}\}|<BOT>/gi, c.name).replace(/\{\{user\}\}|<USER>/gi, PLAYER);
    const flat = (text: string) => text.replace(/\s+/g, " ").trim();

    it.each(importing)("%s: the built prompt has the scenario, the examples and the card's greeting", (name) => {
      const { character } = importCardFile(read(name));
      const prompt = buildPrompt({ character, backend, replyTokens: 64, userName: PLAYER, playerText: "Hello there." });
      const text = flat(prompt.messages.map((m) => m.content).join("\n"));
      if (character.scenario) expect(text).toContain(flat(resolved(character, character.scenario)));
      if (character.systemPrompt) expect(text).toContain(flat(resolved(character, character.systemPrompt)));
      if (character.postHistoryInstructions)
        expect(flat(prompt.messages.at(-1)!.content)).toContain(flat(resolved(character, character.postHistoryInstructions)));
      for (const example of character.examples) expect(text).toContain(flat(resolved(character, example.npc)));
      expect(text).not.toMatch(/\{\{(char|user)\}\}|<(BOT|USER)>/i);

      // The greeting a conversation opens with is the card's first_mes or one of its alternates, by seed.
      const greetings = [character.greeting, ...character.alternateGreetings].map((g) => resolved(character, g));
      const picked = new Set<string>();
      for (let seed = 0; seed < 64; seed++) {
        const runner = new DialogueRunner({ graph, character, backend: backend as unknown as DialogueBackend, seed, playerName: PLAYER });
        expect(greetings).toContain(runner.greeting);
        picked.add(runner.greeting);
      }
      expect(picked.size).toBe(new Set(greetings).size);
    });
  });
});

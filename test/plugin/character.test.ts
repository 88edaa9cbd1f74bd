// parley.character/1: valid documents load with defaults; every problem is reported with its JSON path.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseCharacter, serializeCharacter } from "../../plugin/character/validate.js";
import { PluginValidationError, type ValidationIssue } from "../../plugin/errors.js";
import { ParleyError } from "../../runtime/errors.js";

const minimal = {
  schema: "parley.character/1",
  id: "old_tom",
  name: "Old Tom",
  role: "fisherman",
  description: "Tom has fished the lake for sixty years.",
  speakingStyle: { maxWords: 30 },
  greeting: "Fish aren't biting today.",
};

function issues(json: unknown): ValidationIssue[] {
  try {
    parseCharacter(json);
  } catch (e) {
    expect(e).toBeInstanceOf(PluginValidationError);
    expect(e).toBeInstanceOf(ParleyError);
    expect((e as PluginValidationError).code).toBe("INVALID_ARGUMENT");
    return [...(e as PluginValidationError).issues];
  }
  throw new Error("expected a PluginValidationError");
}

const paths = (json: unknown) => issues(json).map((i) => i.path);

describe("parseCharacter", () => {
  it("fills the defaults of every optional field", () => {
    expect(parseCharacter(minimal)).toEqual({
      schema: "parley.character/1",
      id: "old_tom",
      name: "Old Tom",
      role: "fisherman",
      description: "Tom has fished the lake for sixty years.",
      scenario: "",
      personality: [],
      speakingStyle: { description: "", maxWords: 30 },
      knowledge: [],
      goals: [],
      secrets: [],
      relationships: [],
      greeting: "Fish aren't biting today.",
      alternateGreetings: [],
      examples: [],
      systemPrompt: "",
      postHistoryInstructions: "",
      mood: "neutral",
      fallbackLines: [],
      extensions: {},
    });
  });

  it("fills nested defaults: lore always/priority, secret leakPatterns, relationship description", () => {
    const c = parseCharacter({
      ...minimal,
      knowledge: [{ keywords: ["lake"], text: "The lake is deep." }],
      secrets: [{ text: "Tom found gold in the lake." }],
      relationships: [{ target: "player", attitude: "friendly" }],
    });
    expect(c.knowledge).toEqual([{ keywords: ["lake"], text: "The lake is deep.", always: false, priority: 0 }]);
    expect(c.secrets).toEqual([{ text: "Tom found gold in the lake.", leakPatterns: [] }]);
    expect(c.relationships).toEqual([{ target: "player", attitude: "friendly", description: "" }]);
  });

  it("keeps extensions untouched (any shape), and copies them", () => {
    const extensions = { chub: { tags: ["npc"], depth: 4 }, fav: true, nested: [{ a: null }] };
    const c = parseCharacter({ ...minimal, extensions });
    expect(c.extensions).toEqual(extensions);
    expect(c.extensions).not.toBe(extensions);
    (c.extensions.chub as { depth: number }).depth = 9;
    expect(extensions.chub.depth).toBe(4);
  });

  it("names the path of every missing required field, all at once", () => {
    expect(paths({ schema: "parley.character/1" })).toEqual(["id", "name", "role", "description", "speakingStyle", "greeting"]);
    expect(paths({ ...minimal, speakingStyle: {} })).toEqual(["speakingStyle.maxWords"]);
  });

  it("checks the id pattern and maxWords range", () => {
    const found = issues({ ...minimal, id: "Old Tom", speakingStyle: { maxWords: 0 } });
    expect(found).toEqual([
      { path: "id", message: expect.stringContaining("lowercase letters, digits, _ and -") },
      { path: "speakingStyle.maxWords", message: "must be at least 1, got 0" },
    ]);
    expect(issues({ ...minimal, speakingStyle: { maxWords: 201 } })[0].message).toBe("must be at most 200, got 201");
    expect(issues({ ...minimal, speakingStyle: { maxWords: 12.5 } })[0].message).toBe("must be a whole number, got 12.5");
  });

  it("reports wrong types with the path inside arrays", () => {
    const found = issues({
      ...minimal,
      name: 7,
      personality: ["kind", 3],
      knowledge: [{ keywords: ["a"], text: "ok" }, { keywords: "lake", text: "" }, "text"],
      secrets: [{ text: "x", leakPatterns: [1] }],
      examples: [{ player: "hi" }],
      relationships: [{ target: "Big Bob", attitude: "ok" }],
      mood: "",
      extensions: [],
    });
    expect(found.map((i) => i.path)).toEqual([
      "name",
      "personality[1]",
      "knowledge[1].keywords",
      "knowledge[1].text",
      "knowledge[2]",
      "secrets[0].leakPatterns[0]",
      "relationships[0].target",
      "examples[0].npc",
      "mood",
      "extensions",
    ]);
    expect(found[0].message).toBe("must be a string, got number 7");
    expect(found[4].message).toBe('must be an object, got the string "text"');
  });

  it("refuses unknown fields (typos) and suggests the right name, but not inside extensions", () => {
    const found = issues({ ...minimal, greting: "hi", knowledge: [{ keyword: ["x"], text: "t" }], extensions: { anything: { goes: 1 } } });
    expect(found).toEqual([
      { path: "greting", message: expect.stringMatching(/^unknown field \(did you mean "greeting"\?\)/) },
      { path: "knowledge[0].keyword", message: expect.stringMatching(/did you mean "keywords"/) },
    ]);
  });

  it("lists the issues in the error message", () => {
    expect(() => parseCharacter({ ...minimal, id: "x y", greeting: "" })).toThrow(
      /invalid character "x y": 2 problems\n {2}- id: .*\n {2}- greeting: must not be empty/,
    );
  });

  it("refuses other schema versions with a clear message (and nothing else)", () => {
    expect(issues({ ...minimal, schema: "parley.character/2", bogus: 1 })).toEqual([
      { path: "schema", message: 'unsupported character schema "parley.character/2" (this Parley reads parley.character/1)' },
    ]);
    expect(issues({ ...minimal, schema: undefined })[0]).toEqual({ path: "schema", message: 'required: "parley.character/1"' });
    expect(issues(null)).toEqual([{ path: "", message: "must be an object, got null" }]);
    expect(() => parseCharacter([])).toThrow(/\(document\): must be an object, got an array/);
  });
});

describe("serializeCharacter", () => {
  it("writes stable 2-space JSON in schema order, defaults included, and reads back equal", () => {
    const shuffled = {
      greeting: minimal.greeting,
      speakingStyle: { maxWords: 30 },
      name: "Old Tom",
      schema: minimal.schema,
      id: "old_tom",
      role: "fisherman",
      description: minimal.description,
    };
    const text = serializeCharacter(parseCharacter(shuffled));
    expect(text).toBe(serializeCharacter(parseCharacter(minimal)));
    // The order a character file is written in, as a writer reads it top to bottom.
    const order = "schema id name role description scenario personality speakingStyle knowledge goals secrets relationships greeting";
    const rest = "alternateGreetings examples systemPrompt postHistoryInstructions mood fallbackLines extensions";
    expect(Object.keys(JSON.parse(text))).toEqual(`${order} ${rest}`.split(" "));
    expect(text.startsWith('{\n  "schema": "parley.character/1",\n  "id": "old_tom",')).toBe(true);
    expect(text.endsWith("}\n")).toBe(true);
    expect(parseCharacter(JSON.parse(text))).toEqual(parseCharacter(minimal));
  });

  it("refuses to write an invalid character", () => {
    const bad = { ...parseCharacter(minimal), id: "Not Valid" };
    expect(() => serializeCharacter(bad)).toThrow(PluginValidationError);
  });
});

describe("sample village characters", () => {
  for (const id of ["blacksmith", "innkeeper", "guard"]) {
    it(`${id}.json is valid and complete`, () => {
      const text = readFileSync(new URL(`../../samples/village/characters/${id}.json`, import.meta.url), "utf8");
      const c = parseCharacter(JSON.parse(text));
      expect(c.id).toBe(id);
      expect(c.knowledge.some((k) => k.always)).toBe(true);
      expect(c.knowledge.filter((k) => !k.always).every((k) => k.keywords.length > 0)).toBe(true);
      expect(c.secrets).toHaveLength(1);
      expect(c.secrets[0].leakPatterns.length).toBeGreaterThan(0);
      expect(c.examples.length).toBeGreaterThanOrEqual(2);
      expect(c.fallbackLines.length).toBeGreaterThanOrEqual(2);
      for (const r of c.relationships) expect(["player", "blacksmith", "innkeeper", "guard"]).toContain(r.target);
    });
  }

  it("the three personas are distinct", () => {
    const read = (id: string) => parseCharacter(JSON.parse(readFileSync(new URL(`../../samples/village/characters/${id}.json`, import.meta.url), "utf8")));
    const all = ["blacksmith", "innkeeper", "guard"].map(read);
    expect(new Set(all.map((c) => c.name)).size).toBe(3);
    expect(new Set(all.map((c) => c.speakingStyle.description)).size).toBe(3);
    expect(new Set(all.map((c) => c.greeting)).size).toBe(3);
  });
});

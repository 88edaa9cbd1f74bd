// The project search: which fields a query finds (every word, any case, any order), which it does not
// (exits that merely point at a node, the node type), how hits are named and marked, and the host's
// GET /api/search over a copy of the village, a file with a JSON syntax error included.
import { cp, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEditorHost, type EditorHost } from "../../editor/host/editor-api.js";
import { ProjectFolder } from "../../editor/project/index.js";
import { fieldLabel, jsonPath, matchRanges, searchDocument, searchDocuments, type SearchResult } from "../../editor/project/search.js";

const graph = {
  schema: "parley.dialogue/1",
  id: "smithy",
  character: "blacksmith",
  start: "greet",
  variables: { gold: { type: "number", default: 10 }, mood: { type: "string", default: "Grumpy smith" } },
  nodes: {
    greet: { type: "line", text: "Welcome to the Forge, stranger.", next: "menu", tags: ["anim:wave"] },
    menu: {
      type: "choice",
      options: [
        { text: "Buy a sword", next: "pay", condition: "gold >= 30" },
        { text: "Leave", next: "bye", condition: null },
      ],
    },
    pay: { type: "set", effects: ["gold = gold - 30"], next: "forge_talk" },
    forge_talk: { type: "llm_line", instruction: "Boast about the forge's fire", fallback: "The forge never sleeps.", next: "bye" },
    classify: { type: "intent", intents: [{ id: "buy", description: "wants a blade", examples: ["sell me a sword"], next: "pay" }], fallback: "greet" },
    bye: { type: "end" },
  },
};
const doc = { path: "dialogue/smithy.json", kind: "dialogue", id: "smithy", value: graph };
const fields = (query: string) => searchDocument(doc, query).map((hit) => `${hit.node ?? "-"} ${hit.field}`);

describe("searching a graph", () => {
  it("finds node text, instructions, fallbacks, choice labels and intent examples, in the file's order, any case", () => {
    expect(fields("FORGE")).toEqual([
      "greet nodes.greet.text",
      "forge_talk nodes.forge_talk",
      "forge_talk nodes.forge_talk.instruction",
      "forge_talk nodes.forge_talk.fallback",
    ]);
    expect(fields("sword")).toEqual(["menu nodes.menu.options[0].text", "classify nodes.classify.intents[0].examples[0]"]);
  });

  it("finds variables where they are declared and where conditions and effects use them", () => {
    expect(fields("gold")).toEqual(["- variables.gold", "menu nodes.menu.options[0].condition", "pay nodes.pay.effects[0]"]);
    expect(fields("grumpy")).toEqual(["- variables.mood.default"]);
  });

  it("needs every word in the same field, in any order", () => {
    expect(fields("stranger welcome")).toEqual(["greet nodes.greet.text"]);
    expect(fields("welcome sword")).toEqual([]);
    expect(fields("   ")).toEqual([]);
  });

  it("finds a node's id once, at the node, not at the exits that lead to it or in its type", () => {
    expect(fields("pay")).toEqual(["pay nodes.pay"]);
    expect(fields("greet")).toEqual(["greet nodes.greet"]); // classify's fallback points at it: not a hit
    expect(fields("choice")).toEqual([]);
    expect(searchDocument(doc, "pay")[0]).toMatchObject({ node: "pay", label: "node id" });
  });

  it("names the field as a writer reads it and marks every word", () => {
    const [hit] = searchDocument(doc, "sword buy");
    expect(hit).toMatchObject({
      path: "dialogue/smithy.json",
      kind: "dialogue",
      id: "smithy",
      node: "menu",
      label: "option 1 › text",
      text: "Buy a sword",
      ranges: [
        [0, 3],
        [6, 11],
      ],
    });
    expect(fieldLabel(["intents", 0, "examples", 2])).toBe("intent 1 › example 3");
    expect(fieldLabel(["effects", 1])).toBe("effect 2");
    expect(jsonPath(["nodes", "1st", "options", 0, "text"])).toBe('nodes["1st"].options[0].text');
  });

  it("cuts a long field around its first match", () => {
    const long = `${"a".repeat(300)} needle ${"b".repeat(300)}`;
    const [hit] = searchDocument({ ...doc, value: { ...graph, nodes: { n: { type: "line", text: long, next: null } } } }, "needle");
    expect(hit.text.length).toBeLessThan(130);
    expect(hit.text.startsWith("…") && hit.text.endsWith("…")).toBe(true);
    const [start, end] = hit.ranges[0];
    expect(hit.text.slice(start, end)).toBe("needle");
  });

  it("merges overlapping words and gives no positions where lowercasing changes the length", () => {
    expect(matchRanges("abcdef", ["bcd", "cde"])).toEqual([[1, 5]]);
    expect(matchRanges("İstanbul gate", ["gate"])).toEqual([]);
    expect(matchRanges("abc", ["x"])).toBeNull();
  });
});

describe("searching characters and a whole project", () => {
  const character = {
    path: "characters/smith.json",
    kind: "character",
    id: "smith",
    value: { schema: "parley.character/1", id: "smith", name: "Brom", knowledge: [{ keywords: ["forge"], text: "The forge was his father's." }] },
  };

  it("searches every character field but the schema", () => {
    expect(searchDocument(character, "forge").map((h) => `${h.field} | ${h.label}`)).toEqual([
      "knowledge[0].keywords[0] | knowledge 1 › keyword 1",
      "knowledge[0].text | knowledge 1 › text",
    ]);
    expect(searchDocument(character, "parley")).toEqual([]);
  });

  it("skips layouts and the manifest, and counts the hits past the limit", () => {
    const layout = { path: "dialogue/smithy.layout.json", kind: "layout", id: "smithy", value: { nodes: { forge: { x: 0, y: 0 } } } };
    const result = searchDocuments([character, layout, doc], "forge", 3);
    expect(result.hits.map((h) => h.path)).toEqual(["characters/smith.json", "characters/smith.json", "dialogue/smithy.json"]);
    expect(result.total).toBe(6);
  });
});

describe("GET /api/search", () => {
  let scratch: string;
  let host: EditorHost;
  const search = async (query: string, extra = ""): Promise<{ status: number; body: SearchResult & { error?: { code: string } } }> => {
    const response = await fetch(`${host.origin}/api/search?token=${host.token}&q=${encodeURIComponent(query)}${extra}`);
    return { status: response.status, body: (await response.json()) as SearchResult & { error?: { code: string } } };
  };

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "parley-search-"));
    const village = fileURLToPath(new URL("../../samples/village/", import.meta.url));
    for (const entry of ["characters", "dialogue", "parley.project.json"]) await cp(join(village, entry), join(scratch, entry), { recursive: true });
    // A graph with a syntax error is still searched, as far as it parses.
    await writeFile(
      join(scratch, "dialogue", "broken.json"),
      '{"schema": "parley.dialogue/1", "id": "broken", "nodes": {"lost": {"type": "line", "text": "A misplaced lantern"}} ,,}',
    );
    host = await startEditorHost(await ProjectFolder.open(scratch));
  });
  afterAll(async () => {
    await host?.close();
    await rm(scratch, { recursive: true, force: true });
  });

  it("answers the hits of every character and graph, grouped by file", async () => {
    const { status, body } = await search("halt traveller");
    expect(status).toBe(200);
    expect(body.hits.map((hit) => `${hit.path} ${hit.field}`)).toEqual(["characters/guard.json greeting", "dialogue/guard.json nodes.halt.text"]);
    const ironhand = await search("ironhand");
    expect(ironhand.body.hits[0]).toMatchObject({ path: "characters/blacksmith.json", kind: "character", field: "name" });
    expect((await search("misplaced lantern")).body.hits).toEqual([expect.objectContaining({ path: "dialogue/broken.json", node: "lost" })]);
  });

  it("limits the answer and refuses a bad limit", async () => {
    const { body } = await search("the", "&limit=5");
    expect(body.hits).toHaveLength(5);
    expect(body.total).toBeGreaterThan(5);
    expect((await search("the", "&limit=0")).status).toBe(400);
  });
});

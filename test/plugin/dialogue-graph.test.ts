// parley.dialogue/1: every node type loads with its defaults; broken references, bad expressions and
// other problems are reported with their paths; unreachable nodes are warnings.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { checkDialogueGraph, parseDialogueGraph, serializeDialogueGraph, successors } from "../../plugin/dialogue/validate.js";
import { PluginValidationError, type ValidationIssue } from "../../plugin/errors.js";
import type { DialogueNodeType } from "../../plugin/types.js";

const base = {
  schema: "parley.dialogue/1",
  id: "smith_talk",
  character: "blacksmith",
  start: "hello",
};

function graph(nodes: Record<string, unknown>, variables: Record<string, unknown> = {}, extra: Record<string, unknown> = {}) {
  return { ...base, variables, nodes, ...extra };
}

function issues(json: unknown, options?: { characters?: string[] }): ValidationIssue[] {
  try {
    parseDialogueGraph(json, options);
  } catch (e) {
    expect(e).toBeInstanceOf(PluginValidationError);
    return [...(e as PluginValidationError).issues];
  }
  throw new Error("expected a PluginValidationError");
}

describe("parseDialogueGraph: defaults", () => {
  it("fills the defaults of every node type and variable", () => {
    const g = parseDialogueGraph(
      graph(
        {
          hello: { type: "line", text: "Hello." },
          pick: { type: "choice", options: [{ text: "Bye", next: "stop" }] },
          gen: { type: "llm_line", instruction: "Say hi", fallback: "Hi." },
          ask: { type: "player_input" },
          classify: { type: "intent", intents: [{ id: "a", description: "anything", next: "stop" }], fallback: "stop" },
          branch: { type: "branch", branches: [{ condition: "gold > 1", next: "stop" }], otherwise: "stop" },
          pay: { type: "set", effects: ["gold -= 1"] },
          again: { type: "jump", target: "hello" },
          stop: { type: "end" },
        },
        { gold: { type: "number" }, met: { type: "bool" }, said: { type: "string", default: "hi" } },
      ),
    );
    expect(g.variables).toEqual({ gold: { type: "number", default: 0 }, met: { type: "bool", default: false }, said: { type: "string", default: "hi" } });
    const empty = { tags: [], events: [] };
    expect(g.nodes).toEqual({
      hello: { type: "line", text: "Hello.", next: null, ...empty },
      pick: { type: "choice", options: [{ text: "Bye", next: "stop", condition: null, tags: [] }], ...empty },
      gen: { type: "llm_line", instruction: "Say hi", maxWords: null, fallback: "Hi.", next: null, ...empty },
      ask: { type: "player_input", prompt: "", reply: false, instruction: "", store: null, next: null, ...empty },
      classify: {
        type: "intent",
        intents: [{ id: "a", description: "anything", examples: [], next: "stop" }],
        fallback: "stop",
        minConfidence: null,
        ...empty,
      },
      branch: { type: "branch", branches: [{ condition: "gold > 1", next: "stop" }], otherwise: "stop", ...empty },
      pay: { type: "set", effects: ["gold -= 1"], next: null, ...empty },
      again: { type: "jump", target: "hello", ...empty },
      stop: { type: "end", ...empty },
    });
  });

  it("reads events with their args and tags", () => {
    const g = parseDialogueGraph(
      graph({
        hello: { type: "end", tags: ["anim:wave"], events: [{ name: "give_item", args: { item: "sword", count: 1, cursed: false } }, { name: "wave" }] },
      }),
    );
    expect(g.nodes.hello.events).toEqual([
      { name: "give_item", args: { item: "sword", count: 1, cursed: false } },
      { name: "wave", args: {} },
    ]);
    expect(g.nodes.hello.tags).toEqual(["anim:wave"]);
  });

  it("serializes in a stable order that reads back equal", () => {
    const doc = graph({ hello: { next: null, text: "Hi", type: "line" } }, { gold: { default: 5, type: "number" } });
    const text = serializeDialogueGraph(parseDialogueGraph(doc));
    expect(text).toBe(
      `{\n  "schema": "parley.dialogue/1",\n  "id": "smith_talk",\n  "character": "blacksmith",\n  "start": "hello",\n  "variables": {\n    "gold": {\n      "type": "number",\n      "default": 5\n    }\n  },\n  "nodes": {\n    "hello": {\n      "type": "line",\n      "text": "Hi",\n      "next": null,\n      "tags": [],\n      "events": []\n    }\n  }\n}\n`,
    );
    expect(parseDialogueGraph(JSON.parse(text))).toEqual(parseDialogueGraph(doc));
  });
});

describe("parseDialogueGraph: errors name their paths", () => {
  it("missing required fields and an unsupported schema", () => {
    expect(issues({ schema: "parley.dialogue/1" }).map((i) => i.path)).toEqual(["id", "character", "start", "nodes"]);
    expect(issues({ ...graph({}), schema: "parley.dialogue/9" })).toEqual([
      { path: "schema", message: 'unsupported dialogue schema "parley.dialogue/9" (this Parley reads parley.dialogue/1)' },
    ]);
    expect(issues(graph({}))).toEqual([{ path: "nodes", message: "needs at least one node" }]);
  });

  it("start and every kind of reference must exist", () => {
    const found = issues(
      graph(
        {
          greet: { type: "line", text: "Hi", next: "gone" },
          pick: { type: "choice", options: [{ text: "A", next: "nowhere" }] },
          gen: { type: "llm_line", instruction: "x", fallback: "y", next: "Greet" },
          classify: { type: "intent", intents: [{ id: "a", description: "d", next: "x1" }], fallback: "x2" },
          branch: { type: "branch", branches: [{ condition: "true", next: "x3" }], otherwise: "x4" },
          jump: { type: "jump", target: "x5" },
        },
        {},
        { start: "greeting" },
      ),
    );
    expect(found).toEqual([
      { path: "start", message: 'no node "greeting" (did you mean "greet"?)' },
      { path: "nodes.greet.next", message: 'no node "gone"' },
      { path: "nodes.pick.options[0].next", message: 'no node "nowhere"' },
      { path: "nodes.gen.next", message: 'no node "Greet" (did you mean "greet"?)' },
      { path: "nodes.classify.intents[0].next", message: 'no node "x1"' },
      { path: "nodes.classify.fallback", message: 'no node "x2"' },
      { path: "nodes.branch.branches[0].next", message: 'no node "x3"' },
      { path: "nodes.branch.otherwise", message: 'no node "x4"' },
      { path: "nodes.jump.target", message: 'no node "x5"' },
    ]);
  });

  it("conditions and effects compile and type-check against the declared variables", () => {
    const found = issues(
      graph(
        {
          hello: {
            type: "choice",
            options: [
              { text: "Buy", next: "pay", condition: "gold >= " },
              { text: "Hm", next: "pay", condition: "met == 1" },
            ],
          },
          pay: { type: "set", effects: ["gold -= 10", 'gold = "many"', "silver += 1"], next: "check" },
          check: { type: "branch", branches: [{ condition: "gold", next: "hello" }], otherwise: "hello" },
        },
        { gold: { type: "number", default: 20 }, met: { type: "bool" } },
      ),
    );
    expect(found.map((i) => i.path)).toEqual([
      "nodes.hello.options[0].condition",
      "nodes.hello.options[1].condition",
      "nodes.pay.effects[1]",
      "nodes.pay.effects[2]",
      "nodes.check.branches[0].condition",
    ]);
    expect(found[0].message).toBe('unexpected end of expression: expected a value, a variable or "(" at column 9 of `gold >= `');
    expect(found[1].message).toMatch(/compares values of the same type.* at column 5 of `met == 1`/);
    expect(found[2].message).toMatch(/^cannot assign a string to gold \(a number variable\) at column 8/);
    expect(found[3].message).toMatch(/^unknown variable "silver"/);
    expect(found[4].message).toMatch(/^a condition must be true or false, but this is a number/);
  });

  it("variables: types, defaults of the declared type, usable names", () => {
    const found = issues(
      graph(
        { hello: { type: "end" } },
        {
          gold: { type: "number", default: "10" },
          met: { type: "boolean" },
          "bad name": { type: "string" },
          and: { type: "bool" },
          player_text: { type: "string" },
          ok: { type: "bool", defualt: true },
        },
      ),
    );
    expect(found).toEqual([
      { path: "variables.gold.default", message: 'must be a number like the variable, got "10"' },
      { path: "variables.met.type", message: 'must be one of bool, number, string, got "boolean"' },
      { path: 'variables["bad name"]', message: expect.stringContaining("not a usable variable name") },
      { path: "variables.and", message: expect.stringContaining("not a keyword") },
      { path: "variables.player_text", message: expect.stringContaining("reserved") },
      { path: "variables.ok.defualt", message: expect.stringContaining('did you mean "default"') },
    ]);
  });

  it("intents are unique; choices, branches, intents and effects need at least one item", () => {
    const found = issues(
      graph({
        hello: {
          type: "intent",
          intents: [
            { id: "buy", description: "buys", next: "stop" },
            { id: "sell", description: "sells", next: "stop" },
            { id: "buy", description: "buys again", next: "stop" },
          ],
          fallback: "stop",
        },
        c: { type: "choice", options: [] },
        b: { type: "branch", branches: [], otherwise: "stop" },
        i: { type: "intent", intents: [], fallback: "stop" },
        s: { type: "set", effects: [] },
        stop: { type: "end" },
      }),
    );
    expect(found).toEqual([
      { path: "nodes.hello.intents[2].id", message: 'duplicate intent id "buy" (also intents[0])' },
      { path: "nodes.c.options", message: "needs at least 1 item" },
      { path: "nodes.b.branches", message: "needs at least 1 item" },
      { path: "nodes.i.intents", message: "needs at least 1 item" },
      { path: "nodes.s.effects", message: "needs at least 1 item" },
    ]);
  });

  it("store names a declared string variable", () => {
    const found = issues(
      graph(
        {
          hello: { type: "player_input", store: "said", next: "b" },
          b: { type: "player_input", store: "gold", next: "c" },
          c: { type: "player_input", store: "answer" },
        },
        { said: { type: "string" }, gold: { type: "number" } },
      ),
    );
    expect(found).toEqual([
      { path: "nodes.b.store", message: '"gold" is a number variable; the player\'s text needs a string variable' },
      { path: "nodes.c.store", message: 'no variable "answer": declare it in "variables" with type string' },
    ]);
  });

  it("node types, unknown fields, field types, maxWords, event args", () => {
    const found = issues(
      graph({
        hello: { type: "speech", text: "x" },
        b: { text: "x" },
        c: { type: "jump", target: "hello", next: "hello" },
        d: { type: "llm_line", instruction: "", fallback: "y", maxWords: 500 },
        e: { type: "line", text: "x", tags: "wave", events: [{ name: "give", args: { item: ["a"] } }] },
        "bad id!": { type: "end" },
      }),
    );
    expect(found).toEqual([
      { path: "nodes.hello.type", message: expect.stringMatching(/^unknown node type "speech"; use one of line, choice/) },
      { path: "nodes.b.type", message: expect.stringMatching(/^required: one of line/) },
      { path: "nodes.c.next", message: expect.stringMatching(/^unknown field; allowed: type, target, tags, events/) },
      { path: "nodes.d.instruction", message: "must not be empty" },
      { path: "nodes.d.maxWords", message: "must be at most 200, got 500" },
      { path: "nodes.e.tags", message: 'must be an array, got the string "wave"' },
      { path: "nodes.e.events[0].args.item", message: "event arguments are bools, numbers or strings, got an array" },
      { path: 'nodes["bad id!"]', message: "node ids use letters, digits, _ and - only" },
    ]);
  });

  it("the character must be one the game has, when told which", () => {
    expect(issues(graph({ hello: { type: "end" } }), { characters: ["innkeeper", "guard"] })).toEqual([
      { path: "character", message: 'no character "blacksmith" (known: innkeeper, guard)' },
    ]);
    expect(parseDialogueGraph(graph({ hello: { type: "end" } }), { characters: ["blacksmith"] }).character).toBe("blacksmith");
  });

  it("the error message lists every problem", () => {
    expect(() => parseDialogueGraph(graph({ hello: { type: "line", text: "", next: "nope" } }))).toThrow(
      /^invalid dialogue graph "smith_talk": 2 problems\n {2}- nodes\.hello\.text: must not be empty\n {2}- nodes\.hello\.next: no node "nope"$/,
    );
  });
});

describe("checkDialogueGraph: warnings", () => {
  it("unreachable nodes, unknown placeholders and an unused instruction are warnings, not errors", () => {
    const { graph: g, warnings } = checkDialogueGraph(
      graph(
        {
          hello: { type: "line", text: "Hi {player_name}, you have {gold} gold, {golde}? I'm {npc_name}.", next: "ask" },
          ask: { type: "player_input", instruction: "be nice" },
          island: { type: "line", text: "Nobody gets here.", next: "island2" },
          island2: { type: "end" },
        },
        { gold: { type: "number" }, player_name: { type: "string" } },
      ),
    );
    expect(Object.keys(g.nodes)).toHaveLength(4);
    expect(warnings).toEqual([
      { path: "nodes.hello.text", message: "{golde} names no declared variable, so it is shown as written" },
      { path: "nodes.ask.instruction", message: "only used when `reply` is true" },
      { path: "nodes.island", message: 'unreachable from the start node "hello"' },
      { path: "nodes.island2", message: 'unreachable from the start node "hello"' },
    ]);
  });
});

describe("sample village dialogues", () => {
  const characters = ["blacksmith", "innkeeper", "guard"];
  for (const id of characters) {
    it(`${id}.json is valid, fully reachable, and uses every node type, a conditional choice and game events`, () => {
      const json = JSON.parse(readFileSync(new URL(`../../samples/village/dialogue/${id}.json`, import.meta.url), "utf8"));
      const { graph: g, warnings } = checkDialogueGraph(json, { characters });
      expect(warnings).toEqual([]);
      expect(g.character).toBe(id);
      const nodes = Object.values(g.nodes);
      const types = new Set<DialogueNodeType>(nodes.map((n) => n.type));
      expect([...types].sort()).toEqual(["branch", "choice", "end", "intent", "jump", "line", "llm_line", "player_input", "set"]);
      expect(nodes.some((n) => n.type === "choice" && n.options.some((o) => o.condition !== null))).toBe(true);
      expect(nodes.some((n) => n.type === "intent" && n.intents.length === 3)).toBe(true);
      expect(nodes.some((n) => n.type === "player_input" && n.reply)).toBe(true);
      expect(nodes.flatMap((n) => n.events.map((e) => e.name)).some((name) => name === "give_item" || name === "start_quest")).toBe(true);
      expect(new Set(Object.values(g.variables).map((v) => v.type)).size).toBeGreaterThanOrEqual(2);
      // Every path ends: some node leads nowhere or to an end node.
      expect(nodes.some((n) => n.type === "end" && successors(n).length === 0)).toBe(true);
    });
  }
});

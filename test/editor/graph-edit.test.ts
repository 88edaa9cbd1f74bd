// The editor's pure graph edits (editor/ui/src/graph-edit.ts): what each does to a graph's JSON, that it
// leaves its input alone, and that the results are what the plugin's validator expects.

import { describe, expect, it } from "vitest";
import { checkDialogueGraph, NODE_TYPES, parseDialogueGraph } from "../../plugin/dialogue/validate.js";
import {
  addNode,
  addVariable,
  connect,
  copyNodes,
  deleteNodes,
  editableGraph,
  exitSlots,
  freshNodeId,
  newNode,
  pasteNodes,
  removeListItem,
  renameNode,
  renameVariable,
  setIn,
  setNodeField,
  setVariable,
  type GraphJson,
} from "../../editor/ui/src/graph-edit.js";

function sample(): GraphJson {
  return {
    schema: "parley.dialogue/1",
    id: "ferry",
    character: "guard",
    start: "hello",
    variables: { paid: { type: "bool", default: false } },
    nodes: {
      hello: { type: "line", text: "Need a crossing?", next: "ask" },
      ask: {
        type: "choice",
        options: [
          { text: "Yes.", next: "pay" },
          { text: "No.", next: "bye" },
        ],
      },
      pay: { type: "set", effects: ["paid = true"], next: "check" },
      check: { type: "branch", branches: [{ condition: "paid", next: "bye" }], otherwise: "hello" },
      bye: { type: "end" },
    },
  };
}

describe("graph-edit", () => {
  it("gives every node type fields the schema reads; the simple ones are valid at once", () => {
    for (const type of NODE_TYPES) {
      const graph = addNode(sample(), "fresh", newNode(type));
      const exits = exitSlots(graph.nodes.fresh);
      // Connected to an existing node, each new node passes validation (a set node also needs its effect).
      let wired = exits.reduce((g, slot) => connect(g, "fresh", slot.handle, "bye"), graph);
      if (type === "set") wired = setNodeField(wired, "fresh", ["effects", 0], "paid = false");
      expect(() => parseDialogueGraph(wired), type).not.toThrow();
    }
    // Lines, generated lines, player input and the end node are valid unconnected (next: null ends it).
    for (const type of ["line", "llm_line", "player_input", "end"] as const)
      expect(() => parseDialogueGraph(addNode(sample(), "fresh", newNode(type))), type).not.toThrow();
  });

  it("names new nodes after their type, never reusing an id", () => {
    const graph = addNode(addNode(sample(), "line_1", newNode("line")), "line_3", newNode("line"));
    expect(freshNodeId(graph, "line")).toBe("line_2");
    expect(freshNodeId(graph, "choice")).toBe("choice_1");
    expect(freshNodeId(graph, "line", new Set(["line_2"]))).toBe("line_4");
    expect(() => addNode(graph, "hello", newNode("end"))).toThrow(/already has a node "hello"/);
  });

  it("connects each exit by its handle and clears it with null (null for next, empty for the others)", () => {
    const graph = sample();
    const before = JSON.stringify(graph);
    const a = connect(graph, "ask", "option-1", "hello");
    expect(a.nodes.ask).toEqual({
      type: "choice",
      options: [
        { text: "Yes.", next: "pay" },
        { text: "No.", next: "hello" },
      ],
    });
    expect(a.nodes.hello).toBe(graph.nodes.hello); // untouched nodes are shared
    expect(connect(graph, "check", "otherwise", "bye").nodes.check).toMatchObject({ otherwise: "bye" });
    expect(connect(graph, "check", "branch-0", null).nodes.check).toMatchObject({ branches: [{ condition: "paid", next: "" }] });
    expect(connect(graph, "hello", "next", null).nodes.hello).toEqual({ type: "line", text: "Need a crossing?", next: null });
    const jump = addNode(graph, "j", newNode("jump"));
    expect(connect(jump, "j", "target", "bye").nodes.j).toEqual({ type: "jump", target: "bye" });
    expect(() => connect(graph, "bye", "next", "hello")).toThrow(/no exit "next"/);
    expect(JSON.stringify(graph)).toBe(before); // the input is never changed
  });

  it("deletes nodes and clears the exits that led to them", () => {
    const graph = deleteNodes(sample(), ["bye"]);
    expect(Object.keys(graph.nodes)).toEqual(["hello", "ask", "pay", "check"]);
    expect(graph.nodes.ask).toMatchObject({ options: [{ next: "pay" }, { next: "" }] });
    expect(graph.nodes.check).toMatchObject({ branches: [{ next: "" }], otherwise: "hello" });
    const issues = (() => {
      try {
        checkDialogueGraph(graph);
        return [];
      } catch (e) {
        return (e as { issues: { path: string }[] }).issues.map((i) => i.path);
      }
    })();
    expect(issues).toEqual(["nodes.ask.options[1].next", "nodes.check.branches[0].next"]);
  });

  it("pastes copies with fresh ids; exits between copies follow, others stay", () => {
    const graph = sample();
    const clip = copyNodes(graph, ["pay", "check"]);
    expect(Object.keys(clip)).toEqual(["pay", "check"]);
    const { graph: pasted, ids } = pasteNodes(graph, clip);
    expect([...ids]).toEqual([
      ["pay", "set_1"],
      ["check", "branch_1"],
    ]);
    expect(pasted.nodes.set_1).toEqual({ type: "set", effects: ["paid = true"], next: "branch_1" });
    expect(pasted.nodes.branch_1).toEqual({ type: "branch", branches: [{ condition: "paid", next: "bye" }], otherwise: "hello" });
    expect(pasted.nodes.pay).toBe(graph.nodes.pay);
    expect(() => parseDialogueGraph(pasted)).not.toThrow();
    // Pasting again gives other ids.
    expect([...pasteNodes(pasted, clip).ids.values()]).toEqual(["set_2", "branch_2"]);
  });

  it("renames a node, with every exit and the start that named it", () => {
    const graph = renameNode(sample(), "hello", "greet");
    expect(graph.start).toBe("greet");
    expect(Object.keys(graph.nodes)).toEqual(["greet", "ask", "pay", "check", "bye"]);
    expect(graph.nodes.check).toMatchObject({ otherwise: "greet" });
    expect(() => parseDialogueGraph(graph)).not.toThrow();
    expect(() => renameNode(graph, "greet", "ask")).toThrow(/already has a node "ask"/);
  });

  it("sets fields by path and removes list items", () => {
    const graph = sample();
    const before = JSON.stringify(graph);
    const a = setNodeField(graph, "ask", ["options", 0, "condition"], "not paid");
    expect(a.nodes.ask).toMatchObject({ options: [{ text: "Yes.", next: "pay", condition: "not paid" }, { text: "No." }] });
    expect(removeListItem(a, "ask", "options", 0).nodes.ask).toEqual({ type: "choice", options: [{ text: "No.", next: "bye" }] });
    expect(setIn({ a: { b: 1 } }, ["a", "b"], undefined)).toEqual({ a: {} });
    expect(setIn({}, ["list", 1, "x"], 2)).toEqual({ list: [undefined, { x: 2 }] });
    expect(JSON.stringify(graph)).toBe(before); // the input is never changed
  });

  it("adds, renames, retypes and removes variables", () => {
    const { graph, name } = addVariable(sample());
    expect(name).toBe("var_1");
    expect(graph.variables).toEqual({ paid: { type: "bool", default: false }, var_1: { type: "number", default: 0 } });
    const renamed = renameVariable(graph, "var_1", "fare");
    expect(Object.keys(renamed.variables as object)).toEqual(["paid", "fare"]);
    expect(() => renameVariable(renamed, "fare", "paid")).toThrow(/already a variable "paid"/);
    expect(setVariable(renamed, "fare", { type: "string" }).variables).toMatchObject({ fare: { type: "string", default: "" } });
    expect(setVariable(renamed, "fare", { default: 30 }).variables).toMatchObject({ fare: { type: "number", default: 30 } });
    expect(() => parseDialogueGraph(setVariable(renamed, "fare", { default: 30 }))).not.toThrow();
  });

  it("edits only graphs whose root and nodes are objects", () => {
    expect(editableGraph(sample())).toBeDefined();
    expect(editableGraph({ nodes: [] })).toBeUndefined();
    expect(editableGraph({ nodes: { a: "line" } })).toBeUndefined();
    expect(editableGraph("text")).toBeUndefined();
  });
});

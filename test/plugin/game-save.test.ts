// GameSave (plugin/save/game-save.ts): variables shared by every graph or kept per graph, memories, a
// versioned document written atomically and refused with typed errors when corrupt.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { FileAccessError } from "../../runtime/errors.js";
import { GameSave, SaveFormatError, parseDialogueGraph, type DialogueGraph } from "../../plugin/index.js";

const dir = mkdtempSync(join(tmpdir(), "parley-save-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function graph(id: string, variables: Record<string, { type: "number" | "bool" | "string"; default: number | boolean | string }>): DialogueGraph {
  return parseDialogueGraph({
    schema: "parley.dialogue/1",
    id,
    character: "smith",
    start: "a",
    variables,
    nodes: { a: { type: "line", text: "Hello.", next: "b" }, b: { type: "end" } },
  });
}

const forge = graph("forge", { "player.gold": { type: "number", default: 50 }, visits: { type: "number", default: 0 }, met: { type: "bool", default: false } });
const inn = graph("inn", { "player.gold": { type: "number", default: 50 }, visits: { type: "number", default: 0 } });

describe("GameSave", () => {
  it("shares dotted variables between graphs and keeps the others per graph", () => {
    const save = new GameSave();
    expect(save.variablesFor(forge)).toEqual({});
    save.record(forge, { "player.gold": 20, visits: 3, met: true });
    expect(save.variablesFor(forge)).toEqual({ "player.gold": 20, visits: 3, met: true });
    expect(save.variablesFor(inn)).toEqual({ "player.gold": 20 }); // the inn's visits are its own
    save.record(inn, { "player.gold": 15, visits: 1 });
    expect(save.variablesFor(forge)).toEqual({ "player.gold": 15, visits: 3, met: true });
    expect(save.gameVariable("player.gold")).toBe(15);
  });

  it("leaves out a saved value whose type the edited graph no longer declares", () => {
    const save = new GameSave();
    save.record(forge, { "player.gold": 20, visits: 3, met: true });
    const edited = graph("forge", {
      "player.gold": { type: "number", default: 50 },
      visits: { type: "string", default: "" },
      met: { type: "bool", default: false },
    });
    expect(save.variablesFor(edited)).toEqual({ "player.gold": 20, met: true });
  });

  it("round-trips variables and memories through an atomic file, with sorted keys", async () => {
    const save = new GameSave();
    save.record(forge, { visits: 2, "player.gold": 20, met: true });
    save.memory("smith").add("player", "I want a sword", 1000);
    save.memory("smith").summary = "The player bought a sword.";
    const file = join(dir, "slot-1.json");
    await save.save(file);
    expect(readdirSync(dir).filter((f) => f.endsWith(".tmp"))).toEqual([]); // no temporary file left
    const text = readFileSync(file, "utf8");
    expect(text.indexOf('"met"')).toBeLessThan(text.indexOf('"visits"'));
    const loaded = await GameSave.load(file);
    expect(loaded.variablesFor(forge)).toEqual({ "player.gold": 20, visits: 2, met: true });
    expect(loaded.memory("smith").turns).toEqual([{ speaker: "player", text: "I want a sword", time: 1000 }]);
    expect(loaded.memory("smith").summary).toBe("The player bought a sword.");
    expect(loaded.memory("smith")).toBe(loaded.memory("smith"));
  });

  it("starts a new game from a missing file, and refuses corrupt ones with typed errors naming the file", async () => {
    expect((await GameSave.load(join(dir, "none.json"))).variablesFor(forge)).toEqual({});
    const bad = join(dir, "bad.json");
    writeFileSync(bad, "{ not json");
    await expect(GameSave.load(bad)).rejects.toThrow(SaveFormatError);
    await expect(GameSave.load(bad)).rejects.toThrow(/bad\.json.*corrupt/);
    writeFileSync(bad, JSON.stringify({ schema: "parley.save/9" }));
    await expect(GameSave.load(bad)).rejects.toThrow(/parley\.save\/9 is not supported/);
    writeFileSync(bad, JSON.stringify({ schema: "parley.save/1", game: { "player.gold": "lots" }, graphs: { forge: { visits: null } } }));
    await expect(GameSave.load(bad)).rejects.toThrow(/graphs\["forge"\]\["visits"\]/);
    writeFileSync(
      bad,
      JSON.stringify({
        schema: "parley.save/1",
        memories: { smith: { schema: "parley.memory/1", characterId: "guard", summary: "", forgottenTurns: 0, turns: [] } },
      }),
    );
    await expect(GameSave.load(bad)).rejects.toThrow(/memory of "guard"/);
    const folder = join(dir, "folder.json");
    mkdirSync(folder);
    await expect(GameSave.load(folder)).rejects.toThrow(FileAccessError);
    await expect(new GameSave().save(join(dir, "missing", "deeper", "x.json"))).resolves.toBeUndefined(); // folders are made
    writeFileSync(join(dir, "file"), "");
    await expect(new GameSave().save(join(dir, "file", "x.json"))).rejects.toThrow(FileAccessError);
  });

  it("only sets shared game variables from the game's side, with typed errors", () => {
    const save = new GameSave();
    save.setGameVariable("player.gold", 99);
    expect(save.variablesFor(inn)).toEqual({ "player.gold": 99 });
    expect(() => save.setGameVariable("visits", 1)).toThrow(/not a shared game variable/);
    expect(() => save.setGameVariable("player.gold", Number.NaN)).toThrow(/finite number/);
  });
});

// The village remembers: game variables and NPC memories outlive a conversation and the host process (a save
// slot file written atomically after every conversation and on quit), so the branches that depend on them are
// reachable — Brom's "Back again? That's visit 2", a sword that cannot be bought twice, gold spent at the forge
// missing at the inn. Runs the real the village host (createVillageHost) on authored lines (no model: intents are routed by the
// graphs' example phrases), so the test is about state, not about what a model says.
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import type { ConversationHost } from "../../../plugin/host/index.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import type { DialogueEvent } from "../../../plugin/index.js";
import { createVillageHost } from "../../../samples/village/host/village-host.js";
import type { NpcId } from "../../../samples/village/village-npcs.js";
import { villageSavePath } from "../../../samples/village/host/save-slot.js";

const dir = mkdtempSync(join(tmpdir(), "parley-village-save-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Plays one conversation: answers input requests with `inputs` and choices by their text, until it ends. */
async function play(service: ConversationHost, npc: NpcId, inputs: string[], pick: (texts: string[]) => number): Promise<DialogueEvent[]> {
  const events: DialogueEvent[] = [];
  const ended = new Promise<void>((resolve, reject) => {
    const off = service.subscribe((e) => {
      if (e.type !== "dialogue") return;
      events.push(e.event);
      const ev = e.event;
      if (ev.type === "input_requested") {
        const text = inputs.shift();
        if (text === undefined) void service.cancel();
        else setTimeout(() => service.submit(text).catch(reject), 0);
      }
      if (ev.type === "choices_offered") {
        const i = pick(ev.choices.map((c) => c.text));
        if (i < 0) void service.cancel();
        else setTimeout(() => service.choose(ev.choices[i].index).catch(reject), 0);
      }
      if (ev.type === "ended") {
        off();
        resolve();
      }
    });
  });
  await service.start(npc);
  await ended;
  return events;
}

const lines = (events: DialogueEvent[]): string[] => events.flatMap((e) => (e.type === "line_complete" ? [e.text] : []));
const offered = (events: DialogueEvent[]): string[][] => events.flatMap((e) => (e.type === "choices_offered" ? [e.choices.map((c) => c.text)] : []));

describe("the village's save slot", () => {
  it("keeps variables and memories across conversations and restarts", async () => {
    const saveFile = join(dir, "slot-1.json");
    const first = await createVillageHost({ noModel: true, seed: 3, saveFile });
    const buy = await play(first, "blacksmith", ["I'd like to buy one of your swords"], (t) => t.findIndex((x) => x.startsWith("Buy the iron sword")));
    expect(lines(buy).some((l) => l.includes("20 gold left"))).toBe(true);
    // Within one run the next visit already counts.
    const again = await play(first, "blacksmith", [], () => -1);
    expect(lines(again)).toContain("Back again? That's visit 2. What'll it be, lad?");
    await first.dispose();

    const saved = JSON.parse(readFileSync(saveFile, "utf8"));
    expect(saved.schema).toBe("parley.save/1");
    expect(saved.game["player.gold"]).toBe(20);
    expect(saved.graphs.blacksmith).toMatchObject({ visits: 2, owns_sword: true, met_smith: true });
    expect(saved.memories.blacksmith.turns.length).toBeGreaterThan(0);

    // A new host process on the same slot.
    const second = await createVillageHost({ noModel: true, seed: 4, saveFile });
    const back = await play(second, "blacksmith", ["How much for a sword?"], () => -1);
    expect(lines(back)).toContain("Back again? That's visit 3. What'll it be, lad?");
    const shop = offered(back)[0];
    expect(shop).not.toContain("Buy the iron sword (30 gold)"); // owned, and 20 gold is not enough
    expect(shop).toContain("I can't afford a blade yet.");
    // Gold spent at the forge is gone at the inn.
    const inn = await play(second, "innkeeper", ["Arin", "Do you have a room for the night?"], (t) => t.findIndex((x) => x.startsWith("Take a room")));
    expect(inn.some((e) => e.type === "variable_changed" && e.name === "player.gold" && e.value === 15 && e.previous === 20)).toBe(true);
    await second.dispose();
    const third = await createVillageHost({ noModel: true, saveFile });
    expect(third.save.gameVariable("player.gold")).toBe(15);
    const welcome = await play(third, "innkeeper", [], () => -1);
    expect(lines(welcome)[1]).toBe("Arin, back again! What'll it be, dearie?"); // her name check remembers
    await third.dispose();
  });

  it("refuses to start on a corrupt save rather than overwrite it", async () => {
    const saveFile = join(dir, "corrupt.json");
    const { writeFileSync } = await import("node:fs");
    writeFileSync(saveFile, "{ truncated");
    await expect(createVillageHost({ noModel: true, saveFile })).rejects.toThrow(/corrupt/);
    expect(readFileSync(saveFile, "utf8")).toBe("{ truncated");
  });

  it("keeps slots under the player's data folder, and refuses slot names that are paths", () => {
    expect(villageSavePath("2", { PARLEY_SAVE_DIR: "/saves" })).toBe("/saves/slot-2.json");
    expect(villageSavePath("autumn_run", { XDG_DATA_HOME: "/data" })).toBe("/data/parley/village/slot-autumn_run.json");
    expect(villageSavePath("1", { XDG_DATA_HOME: "relative" })).toMatch(/\.local\/share\/parley\/village\/slot-1\.json$/);
    for (const bad of ["../x", "a/b", "", "x".repeat(33)]) expect(() => villageSavePath(bad, {})).toThrow(/save slot must be/);
  });

  it("starts a new game on request without reading the slot", async () => {
    const saveFile = join(dir, "slot-new.json");
    const first = await createVillageHost({ noModel: true, saveFile });
    await play(first, "blacksmith", [], () => -1);
    await first.dispose();
    const fresh = await createVillageHost({ noModel: true, saveFile, newGame: true });
    expect(lines(await play(fresh, "blacksmith", [], () => -1))[0]).toBe("Mind the sparks. You here to buy, or to gawk?");
    await fresh.dispose();
  });
});

// The name the player gives the innkeeper is the `{{user}}` of every character: a card-style greeting and
// fallback line in another NPC show it, in the next conversation and in barks, and after a reload of the save.
// Host level (the village host (createVillageHost) on authored lines), on a copy of the village whose guard greets like a card.
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { ConversationHost } from "../../../plugin/host/index.js";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { HostEvent } from "../../../samples/village/village-npcs.js";
import { createVillageHost } from "../../../samples/village/host/village-host.js";

const village = fileURLToPath(new URL("../../../samples/village/", import.meta.url));
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "parley-village-name-"));
  for (const entry of ["parley.project.json", "characters", "dialogue"]) await cp(join(village, entry), join(scratch, entry), { recursive: true });
  const guardFile = join(scratch, "characters", "guard.json");
  const guard = JSON.parse(await readFile(guardFile, "utf8")) as Record<string, unknown>;
  await writeFile(
    guardFile,
    JSON.stringify({ ...guard, greeting: "Halt, {{user}}. {{char}} keeps this gate.", fallbackLines: ["Move along, <USER>."] }, null, 2),
  );
  const graphFile = join(scratch, "dialogue", "guard.json");
  const graph = JSON.parse(await readFile(graphFile, "utf8")) as { nodes: Record<string, { text?: string }> };
  graph.nodes.halt.text = "{npc_greeting}";
  await writeFile(graphFile, JSON.stringify(graph, null, 2));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** Starts a conversation with `npc` and returns the lines said until it waits for the player, then ends it. */
async function firstLines(service: ConversationHost, npc: "guard" | "innkeeper", answer?: string): Promise<string[]> {
  const lines: string[] = [];
  let asked = 0;
  const waiting = new Promise<void>((resolve) => {
    const off = service.subscribe((e: HostEvent) => {
      if (e.type !== "dialogue" || e.npc !== npc) return;
      if (e.event.type === "line_complete") lines.push(e.event.text);
      if (e.event.type === "input_requested") {
        if (answer !== undefined && asked++ === 0) void service.submit(answer);
        else {
          off();
          resolve();
        }
      }
    });
  });
  await service.start(npc);
  await waiting;
  await service.cancel();
  return lines;
}

describe("the player's name in the village", () => {
  it("is 'the player' until the innkeeper asks; then a card's {{user}} in another NPC's greeting and barks is the name given", async () => {
    const saveFile = join(scratch, "save.json");
    const service = await createVillageHost({ noModel: true, dataDir: scratch, saveFile, seed: 3 });
    try {
      const guard = service.npc("guard").character.name;
      expect(service.npc("guard").character.greeting).toContain("{{user}}"); // the character keeps its macros
      expect((await firstLines(service, "guard"))[0]).toBe(`Halt, the player. ${guard} keeps this gate.`);

      const inn = await firstLines(service, "innkeeper", "Wren");
      expect(inn[1]).toMatch(/^Wren!/); // the innkeeper's own graph line, with her variable

      expect((await firstLines(service, "guard"))[0]).toBe(`Halt, Wren. ${guard} keeps this gate.`);
      const barks: string[] = [];
      service.subscribe((e) => e.type === "bark" && e.done && barks.push(e.text));
      expect(await service.bark("guard")).toBe("started");
      await service.barkSettled();
      expect(barks).toEqual(["Move along, Wren."]);
    } finally {
      await service.dispose();
    }

    // The name is the save's: a new session remembers it.
    const again = await createVillageHost({ noModel: true, dataDir: scratch, saveFile, seed: 4 });
    try {
      expect((await firstLines(again, "guard"))[0]).toBe(`Halt, Wren. ${again.npc("guard").character.name} keeps this gate.`);
    } finally {
      await again.dispose();
    }
  });
});

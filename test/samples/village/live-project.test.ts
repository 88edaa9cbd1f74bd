// `npm start -- --project DIR` at the host level (the village host (createVillageHost) on authored lines, no browser): the NPCs
// come from a copy of the village project on disk, a graph and a character saved there are used from the
// next conversation on (one under way keeps its version), and an invalid file keeps the last good version
// with a one-line warning.
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import type { ConversationHost } from "../../../plugin/host/index.js";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DialogueEvent } from "../../../plugin/index.js";
import { createVillageHost } from "../../../samples/village/host/village-host.js";

const village = resolve(fileURLToPath(new URL("../../../samples/village", import.meta.url)));
let scratch: string;
let service: ConversationHost;
const log: string[] = [];
const events: DialogueEvent[] = [];

// Test-side JSON: tests read fields of answers and files loosely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The lines of the conversation since `from`, once it waits for the player (or has ended). */
async function linesUntilWaiting(from: number): Promise<{ speaker: string; text: string }[]> {
  await until("the conversation to wait or end", () =>
    events.slice(from).some((e) => e.type === "input_requested" || e.type === "choices_offered" || e.type === "ended"),
  );
  return events.slice(from).flatMap((e) => (e.type === "line_complete" ? [{ speaker: e.speaker, text: e.text }] : []));
}

async function editJson(path: string, change: (json: Json) => void): Promise<void> {
  const json = JSON.parse(await readFile(path, "utf8")) as Json;
  change(json);
  await writeFile(path, JSON.stringify(json, null, 2) + "\n");
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "parley-live-village-"));
  for (const entry of ["parley.project.json", "characters", "dialogue"]) await cp(join(village, entry), join(scratch, entry), { recursive: true });
  service = await createVillageHost({ noModel: true, seed: 5, dataDir: scratch, live: true, log: (line) => log.push(line) });
  service.subscribe((event) => {
    if (event.type === "dialogue") events.push(event.event);
  });
});

afterAll(async () => {
  await service?.dispose();
  await rm(scratch, { recursive: true, force: true });
});

describe("the village on a watched project folder", () => {
  it("uses a graph and a character saved on disk from the next conversation, not in the one under way", async () => {
    await service.start("blacksmith");
    const first = await linesUntilWaiting(0);
    expect(first).toEqual([{ speaker: "Brom Ironhand", text: "Mind the sparks. You here to buy, or to gawk?" }]);

    await editJson(join(scratch, "dialogue/blacksmith.json"), (g) => (g.nodes.welcome_back.text = "Edited in the editor: visit {visits}."));
    await editJson(join(scratch, "characters/blacksmith.json"), (c) => (c.name = "Bram Copperhand"));
    // The watcher reads the save by itself (and says so), before anyone talks to the smith again.
    await until("the reload note", () => log.some((l) => l.includes("reloaded blacksmith")));
    expect(service.info().npcs.find((n) => n.id === "blacksmith")?.name).toBe("Bram Copperhand");

    // The conversation under way keeps the character it started with.
    const mark = events.length;
    await service.submit("I want to buy a sword.");
    await until("the shop's choices", () => events.slice(mark).some((e) => e.type === "choices_offered"));
    await service.choose(2); // "Just looking."
    await until("the smith's answer", () => events.slice(mark).some((e) => e.type === "line_complete"));
    expect(events.slice(mark).find((e) => e.type === "line_complete")).toMatchObject({ speaker: "Brom Ironhand" });
    await service.cancel();

    const next = events.length;
    await service.start("blacksmith");
    expect(await linesUntilWaiting(next)).toEqual([{ speaker: "Bram Copperhand", text: "Edited in the editor: visit 2." }]);
    await service.cancel();
  });

  it("keeps the last good version of a file that is invalid on disk, with a one-line warning", async () => {
    const graph = join(scratch, "dialogue/blacksmith.json");
    const good = await readFile(graph, "utf8");
    log.length = 0;
    await writeFile(graph, good.replace('"start": "visit"', '"start": "no_such_node"'));
    const next = events.length;
    await service.start("blacksmith");
    expect(await linesUntilWaiting(next)).toEqual([{ speaker: "Bram Copperhand", text: "Edited in the editor: visit 3." }]);
    await service.cancel();
    const warnings = log.filter((l) => l.includes("warning"));
    expect(warnings).toHaveLength(1); // read at the start and by the watcher: reported once
    expect(warnings[0]).toMatch(/dialogue\/blacksmith\.json.*no_such_node.*keeping the last good version of blacksmith/);
    expect(warnings[0]).not.toContain("\n");

    await writeFile(graph, "{ not json");
    await service.start("blacksmith");
    await service.cancel();
    expect(log.filter((l) => l.includes("warning")).at(-1)).toMatch(/dialogue\/blacksmith\.json.*JSON/);

    // Fixed again: taken at the next conversation.
    await writeFile(graph, good.replace("Edited in the editor", "Fixed"));
    const fixed = events.length;
    await service.start("blacksmith");
    expect(await linesUntilWaiting(fixed)).toEqual([{ speaker: "Bram Copperhand", text: "Fixed: visit 5." }]);
    await service.cancel();
  });
});

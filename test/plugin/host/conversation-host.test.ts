// ConversationHost (parley-npc/host) on its own: where its NPCs come from (code, or a project folder in the
// editor's format, watched or not), the options a game gets wrong, and requests through handle(). Authored
// lines (FallbackBackend), real files in a temporary folder; the model path is covered by the village's host
// tests, which run the same class on the Vulkan runtime.
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { FileAccessError, InvalidArgumentError } from "../../../runtime/errors.js";
import { PluginValidationError, type DialogueEvent } from "../../../plugin/index.js";
import { ConversationHost, ProjectNpcs, type HostEvent } from "../../../plugin/host/index.js";

const village = new URL("../../../samples/village/", import.meta.url);
const json = (path: string): Record<string, unknown> => JSON.parse(readFileSync(new URL(path, village), "utf8")) as Record<string, unknown>;
const scratch = mkdtempSync(join(tmpdir(), "parley-conversation-host-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of the village's project folder to change. */
function projectCopy(name: string): string {
  const dir = join(scratch, name);
  for (const folder of ["characters", "dialogue"]) cpSync(new URL(folder, village), join(dir, folder), { recursive: true });
  cpSync(new URL("parley.project.json", village), join(dir, "parley.project.json"));
  return dir;
}

const quiet = { log: () => undefined };

describe("ConversationHost.create", () => {
  it("needs NPCs from exactly one place, and either a model or a backend", async () => {
    await expect(ConversationHost.create({})).rejects.toThrow(/either `npcs`.*or `project`/);
    await expect(ConversationHost.create({ npcs: [], project: "x" })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(ConversationHost.create({ npcs: [] })).rejects.toThrow(/non-empty array/);
    await expect(
      ConversationHost.create({ npcs: [{ character: json("characters/guard.json"), graph: json("dialogue/guard.json") }], seed: 1.5 }),
    ).rejects.toThrow(/seed must be an integer/);
  });

  it("validates NPCs given in code: the character, the graph, and that the graph is the character's", async () => {
    const guard = json("characters/guard.json");
    await expect(ConversationHost.create({ npcs: [{ character: { ...guard, id: "Bad Id" }, graph: json("dialogue/guard.json") }] })).rejects.toBeInstanceOf(
      PluginValidationError,
    );
    await expect(ConversationHost.create({ npcs: [{ character: guard, graph: json("dialogue/innkeeper.json") }] })).rejects.toThrow(
      /graph "innkeeper" is for character "innkeeper", not "guard"/,
    );
    const twice = { character: guard, graph: json("dialogue/guard.json") };
    await expect(ConversationHost.create({ npcs: [twice, twice] })).rejects.toThrow(/a second NPC with the id "guard"/);
  });

  it("refuses a model file that does not exist with FileAccessError, before loading anything", async () => {
    const error = await ConversationHost.create({ project: fileURLToPath(village), model: join(scratch, "missing.gguf") }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FileAccessError);
    expect(String((error as Error).message)).toContain("missing.gguf");
  });
});

describe("NPCs from a project folder", () => {
  it("takes every character with a graph: its own dialogue/ID.json, else the first graph naming it", async () => {
    const dir = projectCopy("pick");
    // A second graph for the guard (ignored: guard.json is his own) and a character with no graph yet.
    writeFileSync(join(dir, "dialogue", "a-guard-extra.json"), JSON.stringify({ ...json("dialogue/guard.json"), id: "a-guard-extra" }));
    writeFileSync(join(dir, "characters", "miller.json"), JSON.stringify({ ...json("characters/guard.json"), id: "miller", name: "Ada the Miller" }));
    // The innkeeper's graph under another file name: it is still hers.
    cpSync(join(dir, "dialogue", "innkeeper.json"), join(dir, "dialogue", "inn-talk.json"));
    rmSync(join(dir, "dialogue", "innkeeper.json"));
    const host = await ConversationHost.create({ project: dir, ...quiet });
    try {
      const info = host.info();
      expect(info.npcs.map((n) => [n.id, n.graph])).toEqual([
        ["blacksmith", "blacksmith"],
        ["guard", "guard"],
        ["innkeeper", "innkeeper"],
      ]);
      expect(info.modelNote).toBe("no model: authored lines only");
      expect(host.npcIds).not.toContain("miller");
    } finally {
      await host.dispose();
    }
  });

  it("names the file and the problem when the folder cannot be used", async () => {
    await expect(ConversationHost.create({ project: join(scratch, "nowhere") })).rejects.toThrow(/no such folder/);
    const broken = projectCopy("broken");
    writeFileSync(join(broken, "dialogue", "guard.json"), '{ "schema": "parley.dialogue/1", ');
    await expect(ConversationHost.create({ project: broken })).rejects.toThrow(/dialogue\/guard\.json.*line 1/);
    const lacking = projectCopy("lacking");
    rmSync(join(lacking, "characters", "guard.json"));
    await expect(ConversationHost.create({ project: lacking, requireNpcs: ["guard"] })).rejects.toThrow(/has no NPC "guard"/);
    const manifest = projectCopy("manifest");
    writeFileSync(join(manifest, "parley.project.json"), JSON.stringify({ schema: "parley.project/1", name: "x", contextSize: 3 }));
    await expect(ConversationHost.create({ project: manifest })).rejects.toThrow(/parley\.project\.json.*contextSize/);
  });

  it("watched, takes a saved change at the next conversation and keeps the last good version of a bad one", async () => {
    const dir = projectCopy("live");
    const lines: string[] = [];
    const project = await ProjectNpcs.open(dir, { live: true, log: (line) => lines.push(line), debounceMs: 10 });
    try {
      const guard = json("characters/guard.json");
      writeFileSync(join(dir, "characters", "guard.json"), JSON.stringify({ ...guard, name: "Sergeant Vell" }));
      await project.refresh();
      expect(project.get("guard")?.character.name).toBe("Sergeant Vell");
      expect(lines.some((l) => l.includes("reloaded guard"))).toBe(true);
      writeFileSync(join(dir, "characters", "guard.json"), JSON.stringify({ ...guard, temperature: "hot" }));
      await project.refresh();
      await project.refresh(); // a second look at the same bad file says nothing new
      expect(project.get("guard")?.character.name).toBe("Sergeant Vell");
      expect(lines.filter((l) => l.includes("keeping the last good version of guard"))).toHaveLength(1);
    } finally {
      project.close();
    }
  });
});

describe("requests through handle()", () => {
  it("runs the protocol's requests and reports the conversation as events", async () => {
    const host = await ConversationHost.create({
      npcs: [{ character: json("characters/blacksmith.json"), graph: json("dialogue/blacksmith.json") }],
      seed: 5,
      ...quiet,
    });
    const events: HostEvent[] = [];
    host.subscribe((event) => events.push(event));
    try {
      expect(await host.handle({ method: "info" })).toMatchObject({ npcs: [{ id: "blacksmith" }] });
      expect(await host.handle({ method: "start", npc: "blacksmith" })).toBeNull();
      expect(host.activeNpc).toBe("blacksmith");
      await expect(host.handle({ method: "start", npc: "guard" })).rejects.toThrow(/unknown NPC "guard"; this host has blacksmith/);
      expect(await host.handle({ method: "cancel" })).toBeNull();
      expect(host.activeNpc).toBeUndefined();
      const dialogue = events.filter((e): e is Extract<HostEvent, { type: "dialogue" }> => e.type === "dialogue").map((e) => e.event as DialogueEvent);
      expect(dialogue[0].type).toBe("started");
      expect(dialogue.at(-1)?.type).toBe("ended");
      expect(await host.handle({ method: "bark", npc: "blacksmith" })).toBe("started");
      await host.barkSettled();
      expect(events.filter((e) => e.type === "bark" && e.done)).toHaveLength(1);
    } finally {
      await host.dispose();
    }
    await expect(host.start("blacksmith")).rejects.toThrow(/shut down/);
  });
});

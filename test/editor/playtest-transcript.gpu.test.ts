// Playtest transcripts: a run saved as playtests/NAME.transcript.json (atomically, confined to the project),
// replayed with its seed to the same nodes, lines and variables; a recording that differs, or a graph edited
// since, is shown node by node; `parley dialogue test PROJECT` replays every saved run and exits 0 (all as
// recorded), 1 (a run diverged) or 2 (usage or bad input, one line, no stack). Real runtime, demo model.

import { spawnSync } from "node:child_process";
import { cp, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PlaytestHost } from "../../editor/host/playtest.js";
import { PathOutsideProjectError, ProjectFolder } from "../../editor/project/index.js";
import { compareRuns } from "../../plugin/playtest/compare.js";
import { parseTranscript, serializeTranscript, type PlaytestStep, type RunRecord } from "../../plugin/playtest/transcript.js";

const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const DEMO = join(repoRoot, "samples", "demo-model", "parley-demo.gguf");
const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;

/** `parley …` from the sources, as `npm run parley -- …` runs it. */
function parley(...args: string[]) {
  const r = spawnSync(process.execPath, ["--import", tsx, join(repoRoot, "runtime", "cli.ts"), ...args], {
    cwd: repoRoot,
    encoding: "utf8",
    timeout: 120_000,
    env: { ...process.env, PARLEY_MODEL: DEMO },
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const step = (node: string, extra: Partial<PlaytestStep> = {}): PlaytestStep => ({ node, lines: [], player: null, variables: {}, events: [], ...extra });

describe("comparing runs node by node", () => {
  it("names what changed at a node, where the path parted, and what is missing or extra after it", () => {
    const expected: RunRecord = {
      steps: [step("a", { lines: [{ text: "Hello.", source: "authored" }] }), step("b", { variables: { gold: 20 } }), step("c"), step("d")],
      variables: { gold: 20 },
      end: { reason: "end", node: "d" },
    };
    const actual: RunRecord = {
      steps: [step("a", { lines: [{ text: "Hi.", source: "authored" }] }), step("b", { variables: { gold: 25 } }), step("x")],
      variables: { gold: 25 },
      end: { reason: "end", node: "x" },
    };
    const c = compareRuns(expected, actual);
    expect(c.matches).toBe(false);
    expect(c.firstDivergence).toBe(0);
    expect(c.steps.map((s) => s.status)).toEqual(["changed", "changed", "path", "missing"]);
    expect(c.steps[0].differences).toEqual(['line: "Hi." instead of "Hello."']);
    expect(c.steps[1].differences).toEqual(["gold: set to 25 instead of 20"]);
    expect(c.steps[2].differences).toEqual(['went to node "x" instead of "c"']);
    expect(c.variables).toEqual([{ name: "gold", expected: 20, actual: 25 }]);
    expect(c.end.same).toBe(false);
    expect(compareRuns(expected, expected)).toMatchObject({ matches: true, firstDivergence: null });
  });
});

describe("saving, replaying and testing playtest transcripts, on the demo model", () => {
  let scratch: string;
  let project: ProjectFolder;
  let host: PlaytestHost;
  const waitFor = (type: string): Promise<void> =>
    new Promise((resolve) => {
      const off = host.subscribe((e) => {
        if (e.type === "dialogue" && e.event.type === type) {
          off();
          resolve();
        }
      });
    });

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "parley-transcripts-"));
    for (const entry of ["parley.project.json", "characters", "dialogue"])
      await cp(join(repoRoot, "samples", "village", entry), join(scratch, entry), { recursive: true });
    project = await ProjectFolder.open(scratch);
    host = new PlaytestHost(project, { env: { ...process.env, PARLEY_MODEL: DEMO } });
  });
  afterAll(async () => {
    await host?.close();
    await rm(scratch, { recursive: true, force: true });
  });

  it("saves a whole run, and one started from a node and paused mid-way; both replay exactly", async () => {
    const asked = waitFor("input_requested");
    await host.start({ graph: "blacksmith", seed: 7 });
    await asked;
    const offered = waitFor("choices_offered");
    host.submit("I want to buy a sword.");
    await offered;
    const ended = waitFor("ended");
    host.choose(0);
    await ended;
    const { path, transcript } = await host.saveTranscript("buy-sword");
    expect(path).toBe("playtests/buy-sword.transcript.json");
    const text = await readFile(join(scratch, path), "utf8");
    expect(text).toBe(serializeTranscript(transcript));
    const saved = parseTranscript(JSON.parse(text));
    expect(saved).toMatchObject({ graph: "blacksmith", seed: 7, start: { node: "visit", variables: {} }, model: "parley-demo.gguf" });
    expect(saved.inputs).toEqual([
      { type: "input", text: "I want to buy a sword." },
      { type: "choice", index: 0 },
    ]);
    expect(saved.expected.steps.map((s) => s.node)).toEqual([
      "visit",
      "check_met",
      "first_meeting",
      "mark_met",
      "ask",
      "classify",
      "shop",
      "buy_sword",
      "hand_over",
      "goodbye",
      "done",
    ]);
    expect(saved.expected.steps.find((s) => s.node === "buy_sword")).toMatchObject({
      variables: { "player.gold": 20, owns_sword: true },
      events: ["give_item"],
    });
    expect(saved.expected.end).toEqual({ reason: "end", node: "done" });
    expect((await host.replay("buy-sword")).comparison).toMatchObject({ matches: true, firstDivergence: null });

    // From the shop with 10 gold, saved while it waits for the player's pick: the replay stops at the same place.
    const waiting = waitFor("choices_offered");
    await host.start({ graph: "blacksmith", node: "shop", variables: { "player.gold": 10 }, seed: 3 });
    await waiting;
    await host.saveTranscript("too-poor");
    const poor = parseTranscript(JSON.parse(await readFile(join(scratch, "playtests", "too-poor.transcript.json"), "utf8")));
    expect(poor).toMatchObject({ start: { node: "shop", variables: { "player.gold": 10 } }, inputs: [] });
    expect(poor.expected.steps).toEqual([
      { node: "shop", lines: [], choices: ["I can't afford a blade yet.", "Just looking."], player: null, variables: {}, events: [] },
    ]);
    expect((await host.replay("too-poor")).comparison).toMatchObject({ matches: true, end: { actual: { reason: "stopped", node: "shop" } } });

    expect(await host.listTranscripts()).toEqual([
      { name: "buy-sword", path: "playtests/buy-sword.transcript.json", graph: "blacksmith", seed: 7 },
      { name: "too-poor", path: "playtests/too-poor.transcript.json", graph: "blacksmith", seed: 3 },
    ]);
  });

  it("refuses to overwrite a transcript unasked, and paths that lead outside the project", async () => {
    await expect(host.saveTranscript("buy-sword")).rejects.toMatchObject({ status: 409, httpCode: "TRANSCRIPT_EXISTS" });
    await expect(host.saveTranscript("../escape")).rejects.toMatchObject({ status: 400 });
    expect(existsSync(join(scratch, "escape.transcript.json"))).toBe(false);
    // A transcript that is a symbolic link to a file outside the project is neither read nor written through.
    const outside = await mkdtemp(join(tmpdir(), "parley-outside-"));
    try {
      const target = join(outside, "secret.json");
      await writeFile(target, "{}");
      await symlink(target, join(scratch, "playtests", "outside.transcript.json"));
      expect((await host.listTranscripts()).find((t) => t.name === "outside")?.problem).toMatch(/outside the project folder/);
      await expect(host.replay("outside")).rejects.toBeInstanceOf(PathOutsideProjectError);
      await expect(host.saveTranscript("outside", { overwrite: true })).rejects.toBeInstanceOf(PathOutsideProjectError);
      expect(await readFile(target, "utf8")).toBe("{}");
    } finally {
      await rm(join(scratch, "playtests", "outside.transcript.json"), { force: true });
      await rm(outside, { recursive: true, force: true });
    }
  });

  it("shows a run that no longer matches its recording node by node", async () => {
    // The recording of the 10-gold visit, replayed with 40 gold: the shop offers other choices.
    const poor = parseTranscript(JSON.parse(await readFile(join(scratch, "playtests", "too-poor.transcript.json"), "utf8")));
    const rich = { ...poor, name: "rich", start: { ...poor.start, variables: { "player.gold": 40 } } };
    await writeFile(join(scratch, "playtests", "rich.transcript.json"), serializeTranscript(rich));
    const { comparison } = await host.replay("rich");
    expect(comparison).toMatchObject({ matches: false, firstDivergence: 0 });
    expect(comparison.steps[0]).toMatchObject({ status: "changed", expected: { node: "shop" } });
    expect(comparison.steps[0].differences).toEqual([
      'choices: ["Buy the iron sword (30 gold)","Just looking."] instead of ["I can\'t afford a blade yet.","Just looking."]',
    ]);
    await rm(join(scratch, "playtests", "rich.transcript.json"));
  });

  it("parley dialogue test: exit 0 when every run is as recorded, 1 with the node where a graph edit made one diverge", async () => {
    const ok = parley("dialogue", "test", scratch);
    expect(ok.stderr).toBe("");
    expect(ok.stdout).toMatch(/✓ playtests\/buy-sword\.transcript\.json \(graph blacksmith, seed 7, parley-demo\.gguf\): 11 nodes as recorded/);
    expect(ok.stdout).toMatch(/2 playtests: 2 as recorded, 0 diverged/);
    expect(ok.status).toBe(0);

    // A writer changes Brom's hand-over line and his shop's price: the saved runs now differ there.
    const graphFile = join(scratch, "dialogue", "blacksmith.json");
    const graph = JSON.parse(await readFile(graphFile, "utf8"));
    graph.nodes.hand_over.text = "Take it. Don't cut yourself.";
    graph.nodes.buy_sword.effects[0] = "player.gold -= 35";
    await writeFile(graphFile, JSON.stringify(graph, null, 2));
    const bad = parley("dialogue", "test", scratch);
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/✗ playtests\/buy-sword\.transcript\.json .*: diverged at step 8/);
    expect(bad.stdout).toContain("#8 buy_sword [changed]: player.gold: set to 15 instead of 20");
    expect(bad.stdout).toContain('#9 hand_over [changed]: line: "Take it. Don\'t cut yourself." instead of "There. Keep it oiled');
    expect(bad.stdout).toMatch(/✓ playtests\/too-poor\.transcript\.json/);
    expect(bad.stdout).toMatch(/2 playtests: 1 as recorded, 1 diverged/);
  });

  it("parley dialogue test: exit 2 with one line for a missing folder, no transcripts, a bad transcript or bad usage", async () => {
    const lines = (text: string) => text.trim().split("\n");
    const missing = parley("dialogue", "test", join(scratch, "nope"));
    expect(missing.status).toBe(2);
    expect(lines(missing.stderr)).toEqual([`parley: no project folder at ${join(scratch, "nope")} [INVALID_ARGUMENT]`]);

    const empty = parley("dialogue", "test", join(scratch, "characters"));
    expect(empty.status).toBe(2);
    expect(lines(empty.stderr)[0]).toMatch(/^parley: no saved playtests in .*characters\/playtests/);

    await writeFile(
      join(scratch, "playtests", "broken.transcript.json"),
      JSON.stringify({ schema: "parley.transcript/1", name: "broken", graph: "blacksmith" }),
    );
    expect((await host.listTranscripts()).find((t) => t.name === "broken")).toMatchObject({
      path: "playtests/broken.transcript.json",
      problem: expect.stringMatching(/character: required/),
    });
    const broken = parley("dialogue", "test", scratch);
    expect(broken.status).toBe(2);
    expect(lines(broken.stderr)).toHaveLength(1);
    expect(broken.stderr).toMatch(/^parley: playtests\/broken\.transcript\.json: invalid transcript: .*character: required/);

    const usage = parley("dialogue", "test");
    expect(usage.status).toBe(2);
    expect(lines(usage.stderr)).toEqual(["parley: dialogue test takes one project folder, got none [INVALID_ARGUMENT]"]);
    expect(parley("dialogue", "frobnicate", scratch).status).toBe(2);
    const help = parley("dialogue", "--help");
    expect(help.status).toBe(0);
    expect(help.stdout).toMatch(/^usage: parley dialogue test PROJECT/);
    const bare = parley("dialogue");
    expect(bare.status).toBe(2);
    expect(bare.stderr).toMatch(/^usage: parley dialogue test PROJECT/);
  });
});

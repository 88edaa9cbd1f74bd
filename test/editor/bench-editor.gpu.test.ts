// `npm run bench:editor -- --json` on a small graph: it generates the graph, opens it in chromium, drags,
// pans and saves, and prints one JSON object of figures. Only the shape is checked: how fast this machine
// is at the moment says nothing about the code (the figures go to docs/PERFORMANCE.md).
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { BenchResult, GestureFigures } from "../../tools/bench-editor/bench-editor.js";
import { generateGraph } from "../../tools/bench-editor/generate-graph.js";
import { parseDialogueGraph } from "../../plugin/dialogue/validate.js";
import { CHROMIUM_SKIP_REASON, HAVE_CHROMIUM } from "../fixtures/editor-session.js";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));

describe("the editor benchmark's graph", () => {
  it("is a valid graph of every node type, of the size asked for", () => {
    const generated = generateGraph("bench", "blacksmith", 50);
    const graph = parseDialogueGraph(JSON.parse(generated.text), { characters: ["blacksmith"] });
    expect(Object.keys(graph.nodes)).toHaveLength(50);
    expect(new Set(Object.values(graph.nodes).map((n) => n.type))).toEqual(
      new Set(["line", "llm_line", "choice", "player_input", "intent", "set", "branch", "jump", "end"]),
    );
    expect(Object.keys((JSON.parse(generated.layoutText) as { nodes: object }).nodes).sort()).toEqual(Object.keys(graph.nodes).sort());
  });
});

describe.skipIf(!HAVE_CHROMIUM)(HAVE_CHROMIUM ? "npm run bench:editor -- --json" : `npm run bench:editor (skipped: ${CHROMIUM_SKIP_REASON})`, () => {
  it("measures opening, dragging, panning and saving a generated graph, and prints the figures as JSON", async () => {
    const child = spawn(
      process.execPath,
      ["--import", "tsx", "tools/bench-editor/bench-editor.ts", "--json", "--nodes", "50", "--runs", "1", "--gesture-ms", "300"],
      { cwd: repoRoot },
    );
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    expect(code, stderr).toBe(0);
    const result = JSON.parse(stdout) as BenchResult;

    expect(result.graph).toMatchObject({ nodes: 50, edges: expect.any(Number) });
    expect(result.machine.cpus).toBeGreaterThan(0);
    expect(result.machine.loadAverage).toHaveLength(3);
    expect(result.bundle).toMatch(/^(production|development)$/);
    expect(result.open.runsMs).toHaveLength(1);
    expect(result.open.medianMs).toBeGreaterThan(0);
    expect(result.save.runsMs).toHaveLength(5);
    const gesture = (g: GestureFigures) => {
      expect(g.frames).toBeGreaterThan(0);
      expect(g.p95Ms).toBeGreaterThanOrEqual(g.p50Ms);
      expect(g.maxMs).toBeGreaterThanOrEqual(g.p95Ms);
    };
    for (const view of [result.views.fit, result.views.full]) {
      expect(view.renderedNodes).toBeGreaterThan(0);
      gesture(view.drag);
      gesture(view.pan);
    }
    expect(result.views.full.zoom).toBeGreaterThan(result.views.fit.zoom);
    expect(result.targets).toEqual({ openMs: 1500, frameP95Ms: 33, saveMs: 200 });
    expect(Object.keys(result.met).sort()).toEqual(["frames", "open", "save"]);
    // The progress lines go to stderr, so stdout is the JSON alone.
    expect(stderr).toContain("generated 50 nodes");
  });
});

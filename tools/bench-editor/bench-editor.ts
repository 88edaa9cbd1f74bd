/// <reference lib="dom" />
// `npm run bench:editor -- [--json] [--nodes N] [--runs N] [--gesture-ms MS]`: how fast the editor is with a
// large graph.
//
// A temp copy of the village project gets a generated graph of N nodes (1,000 by default, with its layout
// file; generate-graph.ts); the editor host serves it in this process and headless Debian chromium
// (playwright-core, the e2e tests' flags) opens it. Measured:
//   open      navigation start → the graph's nodes drawn and the page answering frames again (a fresh
//             browser context each run, so nothing is cached from the run before);
//   drag      the frame times (requestAnimationFrame deltas, collected in the page) while a node is dragged
//             about for two seconds with the real mouse, with the whole graph fitted in view (Shift+1: most
//             nodes on screen, the worst case) and at 100% (where a large graph opens: its start node);
//   pan       the same while the empty canvas is dragged;
//   save      POST /api/save of the whole graph file (one node's text changed each time): the host's
//             validation, conflict check and atomic write, as the page's autosave does it.
// The targets (issue 17): open < 1.5 s, frame time p95 ≤ 33 ms, save < 200 ms. `--json` prints one JSON
// object (the figures and the machine) instead of the table. A dev tool: it is not part of what ships.

import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { cpus, loadavg, tmpdir, totalmem } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Browser, Page } from "playwright-core";
import { startEditorHost, type EditorHost } from "../../editor/host/editor-api.js";
import { ProjectFolder } from "../../editor/project/index.js";
import { buildEditorUi } from "../../editor/ui/build.js";
import { CHROMIUM, CHROMIUM_ARGS } from "../../test/fixtures/chromium.js";
import { generateGraph } from "./generate-graph.js";

const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const GRAPH_ID = "bench";
const CHARACTER = "blacksmith";
const VIEWPORT = { width: 1600, height: 1000 };
const DEFAULT_GESTURE_MS = 2000;
const SAVE_RUNS = 5;
export const TARGETS = { openMs: 1500, frameP95Ms: 33, saveMs: 200 };
/**
 * Frame times come in steps of a 60 Hz frame (16.7 ms): two frames read 33.3 or 33.4 ms, which is the 30 fps
 * the 33 ms target stands for; the next step up is 50 ms.
 */
const FRAME_STEP_SLACK_MS = 0.5;

export interface GestureFigures {
  /** Frames the page drew during the gesture. */
  frames: number;
  p50Ms: number;
  p95Ms: number;
  maxMs: number;
}

export interface ViewFigures {
  zoom: number;
  /** Nodes in the page's DOM at that view (React Flow renders only those in view). */
  renderedNodes: number;
  drag: GestureFigures;
  pan: GestureFigures;
}

export interface BenchResult {
  date: string;
  machine: { cpus: number; cpuModel: string; memoryGiB: number; loadAverage: [number, number, number]; chromium: string };
  graph: { nodes: number; edges: number; bytes: number };
  bundle: "production" | "development";
  open: { runsMs: number[]; medianMs: number };
  views: { fit: ViewFigures; full: ViewFigures };
  save: { runsMs: number[]; medianMs: number };
  targets: typeof TARGETS;
  met: { open: boolean; frames: boolean; save: boolean };
}

export interface BenchOptions {
  nodes?: number;
  /** Page loads timed (default 3). */
  runs?: number;
  /** How long each drag and pan lasts (default 2000 ms). */
  gestureMs?: number;
  /** Progress lines (stderr in the CLI). */
  log?: (line: string) => void;
}

/** Runs the whole benchmark; the browser, host and temp project are gone when it returns. */
export async function benchEditor(options: BenchOptions = {}): Promise<BenchResult> {
  const log = options.log ?? (() => {});
  const runs = options.runs ?? 3;
  const gestureMs = options.gestureMs ?? DEFAULT_GESTURE_MS;
  const development = process.env.PARLEY_EDITOR_DEV === "1";
  await buildEditorUi();
  const scratch = await mkdtemp(join(tmpdir(), "parley-bench-editor-"));
  let host: EditorHost | undefined;
  let browser: Browser | undefined;
  try {
    const village = join(repoRoot, "samples", "village");
    for (const entry of ["parley.project.json", "characters", "dialogue"]) await cp(join(village, entry), join(scratch, entry), { recursive: true });
    const generated = generateGraph(GRAPH_ID, CHARACTER, options.nodes ?? 1000);
    await writeFile(join(scratch, "dialogue", `${GRAPH_ID}.json`), generated.text);
    await writeFile(join(scratch, "dialogue", `${GRAPH_ID}.layout.json`), generated.layoutText);
    log(`generated ${generated.nodeCount} nodes, ${generated.edgeCount} edges (${(generated.text.length / 1024).toFixed(0)} KiB)`);

    host = await startEditorHost(await ProjectFolder.open(scratch));
    const { chromium } = await import("playwright-core");
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    const url = `${host.url}#graph=${GRAPH_ID}`;

    const openRuns: number[] = [];
    for (let i = 0; i < runs; i++) {
      const context = await browser.newContext({ viewport: VIEWPORT });
      const page = await context.newPage();
      openRuns.push(await measureOpen(page, url));
      log(`open ${i + 1}/${runs}: ${openRuns[i].toFixed(0)} ms`);
      await context.close();
    }

    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    await measureOpen(page, url);
    await page.keyboard.press("Shift+Digit1");
    await page.waitForTimeout(600); // the fit's animation
    const fit = await measureView(page, gestureMs);
    log(
      `fit view (zoom ${fit.zoom.toFixed(2)}, ${fit.renderedNodes} nodes drawn): drag p95 ${fit.drag.p95Ms.toFixed(1)} ms, pan p95 ${fit.pan.p95Ms.toFixed(1)} ms`,
    );
    await zoomTo(page, 1, await centralNode(page));
    const full = await measureView(page, gestureMs);
    log(`100% (${full.renderedNodes} nodes drawn): drag p95 ${full.drag.p95Ms.toFixed(1)} ms, pan p95 ${full.pan.p95Ms.toFixed(1)} ms`);
    if (errors.length > 0) throw new Error(`the page failed: ${errors.join("; ")}`);
    await context.close();

    const saveRuns = await measureSaves(host, scratch);
    log(`save: ${saveRuns.map((ms) => ms.toFixed(0)).join(", ")} ms`);

    const open = { runsMs: openRuns.map(round1), medianMs: round1(median(openRuns)) };
    const save = { runsMs: saveRuns.map(round1), medianMs: round1(median(saveRuns)) };
    const worstP95 = Math.max(fit.drag.p95Ms, fit.pan.p95Ms, full.drag.p95Ms, full.pan.p95Ms);
    const load = loadavg();
    return {
      date: new Date().toISOString(),
      machine: {
        cpus: cpus().length,
        cpuModel: cpus()[0]?.model ?? "unknown",
        memoryGiB: Math.round(totalmem() / 2 ** 30),
        loadAverage: [round1(load[0]), round1(load[1]), round1(load[2])],
        chromium: browser.version(),
      },
      graph: { nodes: generated.nodeCount, edges: generated.edgeCount, bytes: generated.text.length },
      bundle: development ? "development" : "production",
      open,
      views: { fit, full },
      save,
      targets: TARGETS,
      met: { open: open.medianMs < TARGETS.openMs, frames: worstP95 <= TARGETS.frameP95Ms + FRAME_STEP_SLACK_MS, save: save.medianMs < TARGETS.saveMs },
    };
  } finally {
    await browser?.close();
    await host?.close();
    await rm(scratch, { recursive: true, force: true });
  }
}

/** Loads the page and answers the ms from navigation start until the nodes are drawn and frames flow again. */
async function measureOpen(page: Page, url: string): Promise<number> {
  await page.goto(url);
  await page.waitForFunction(
    () => {
      const nodes = document.querySelectorAll<HTMLElement>(".react-flow__node");
      if (nodes.length === 0) return false;
      return Array.from(nodes).every((node) => node.style.visibility !== "hidden");
    },
    undefined,
    { polling: "raf", timeout: 60_000 },
  );
  // Interactive: two frames after the nodes appeared, so the work that drawing them queued is done.
  return page.evaluate(() => new Promise<number>((done) => requestAnimationFrame(() => requestAnimationFrame(() => done(performance.now())))));
}

async function measureView(page: Page, gestureMs: number): Promise<ViewFigures> {
  const zoom = await currentZoom(page);
  const renderedNodes = await page.locator(".react-flow__node").count();
  const node = await centralNode(page);
  const drag = await gesture(page, node, { x: 120, y: 80 }, gestureMs);
  const pane = await emptyPanePoint(page);
  const pan = await gesture(page, pane, { x: -200, y: -120 }, gestureMs);
  return { zoom: round2(zoom), renderedNodes, drag, pan };
}

/**
 * Starts recording the time between the page's frames in window.__frames. A string, not a function: tsx
 * would wrap a named function in a helper the page does not have.
 */
const RECORD_FRAMES = `{
  const state = { deltas: [], last: 0, on: true };
  window.__frames = state;
  requestAnimationFrame(function tick(now) {
    if (state.last) state.deltas.push(now - state.last);
    state.last = now;
    if (state.on) requestAnimationFrame(tick);
  });
}`;

/**
 * Presses the mouse at `from`, moves it along a loop (out by `reach` and back) for `duration` ms at about a
 * real mouse's event rate, and releases it, while the page records the time between its frames.
 */
async function gesture(page: Page, from: { x: number; y: number }, reach: { x: number; y: number }, duration: number): Promise<GestureFigures> {
  await page.mouse.move(from.x, from.y);
  await page.mouse.down();
  await page.evaluate(RECORD_FRAMES);
  const started = Date.now();
  for (let t = 0; t < duration; t = Date.now() - started) {
    // A triangle wave: out to `reach` and back, once a second.
    const phase = (t / 1000) % 1;
    const out = phase < 0.5 ? phase * 2 : 2 - phase * 2;
    await page.mouse.move(from.x + reach.x * out, from.y + reach.y * out);
    await new Promise((wake) => setTimeout(wake, 8));
  }
  await page.mouse.up();
  const deltas = await page.evaluate(() => {
    const state = (window as unknown as { __frames: { deltas: number[]; on: boolean } }).__frames;
    state.on = false;
    return state.deltas;
  });
  const sorted = [...deltas].sort((a, b) => a - b);
  return { frames: deltas.length, p50Ms: round1(quantile(sorted, 0.5)), p95Ms: round1(quantile(sorted, 0.95)), maxMs: round1(sorted[sorted.length - 1] ?? 0) };
}

async function currentZoom(page: Page): Promise<number> {
  const transform = await page.locator(".react-flow__viewport").evaluate((el) => (el as HTMLElement).style.transform);
  const match = /scale\(([\d.]+)\)/.exec(transform);
  return match ? Number(match[1]) : 1;
}

/** Zooms the canvas with the mouse wheel over `at` (which stays where it is) until it is at about `target`. */
async function zoomTo(page: Page, target: number, at: { x: number; y: number }): Promise<void> {
  await page.mouse.move(at.x, at.y);
  for (let i = 0; i < 80 && (await currentZoom(page)) < target * 0.97; i++) {
    await page.mouse.wheel(0, -80); // about 12% closer each
    await page.waitForTimeout(30);
  }
  await page.waitForTimeout(300);
}

/** The middle of the node nearest the canvas's middle. */
async function centralNode(page: Page): Promise<{ x: number; y: number }> {
  const box = (await page.locator(".flow .react-flow").boundingBox())!;
  const centre = { x: box.x + box.width / 2, y: box.y + box.height / 2 };
  const nodes = await page.locator(".react-flow__node").evaluateAll((boxes) =>
    boxes.map((box) => {
      const r = box.getBoundingClientRect();
      return { x: r.x + r.width / 2, y: r.y + r.height / 2 };
    }),
  );
  // Room around it for the drag's loop, clear of the panels in the corners.
  const inside = nodes.filter((p) => p.x > box.x + 80 && p.x < box.x + box.width - 200 && p.y > box.y + 80 && p.y < box.y + box.height - 120);
  if (inside.length === 0) throw new Error("no node in view to drag");
  return inside.reduce((best, p) => (Math.hypot(p.x - centre.x, p.y - centre.y) < Math.hypot(best.x - centre.x, best.y - centre.y) ? p : best));
}

/** A point of the canvas with no node, edge or panel under it (where a drag pans). */
async function emptyPanePoint(page: Page): Promise<{ x: number; y: number }> {
  const box = (await page.locator(".flow .react-flow").boundingBox())!;
  const point = await page.evaluate((b) => {
    for (let fy = 0.3; fy <= 0.7; fy += 0.02) {
      for (let fx = 0.3; fx <= 0.7; fx += 0.02) {
        const x = b.x + b.width * fx;
        const y = b.y + b.height * fy;
        if (document.elementFromPoint(x, y)?.classList.contains("react-flow__pane")) return { x, y };
      }
    }
    return null;
  }, box);
  if (!point) throw new Error("no empty spot of the canvas to pan from");
  return point;
}

/** Saves the graph file through the host's API SAVE_RUNS times, one node's text changed each time. */
async function measureSaves(host: EditorHost, root: string): Promise<number[]> {
  const path = `dialogue/${GRAPH_ID}.json`;
  let text = await readFile(join(root, path), "utf8");
  let hash = ((await (await fetch(`${host.origin}/api/file?path=${encodeURIComponent(path)}&token=${host.token}`)).json()) as { hash: string }).hash;
  const times: number[] = [];
  for (let i = 0; i < SAVE_RUNS; i++) {
    text = text.replace(/Scene 0:[^"]*/, `Scene 0: save ${i}, the smith looks up.`);
    const started = performance.now();
    const response = await fetch(`${host.origin}/api/save`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-parley-token": host.token },
      body: JSON.stringify({ path, text, expectedHash: hash }),
    });
    const answer = (await response.json()) as { hash?: string; error?: { message: string } };
    times.push(performance.now() - started);
    if (!response.ok || !answer.hash) throw new Error(`the save was refused: ${answer.error?.message ?? response.status}`);
    hash = answer.hash;
  }
  return times;
}

function quantile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)];
}

function median(values: readonly number[]): number {
  return quantile(
    [...values].sort((a, b) => a - b),
    0.5,
  );
}

const round1 = (value: number): number => Math.round(value * 10) / 10;
const round2 = (value: number): number => Math.round(value * 100) / 100;

function table(result: BenchResult): string {
  const mark = (ok: boolean) => (ok ? "ok" : "MISSED");
  const view = (name: string, v: ViewFigures) =>
    `${name.padEnd(10)} zoom ${v.zoom.toFixed(2)}, ${v.renderedNodes} nodes drawn: drag p95 ${v.drag.p95Ms} ms (${v.drag.frames} frames), pan p95 ${v.pan.p95Ms} ms (${v.pan.frames} frames)`;
  return [
    `editor with a ${result.graph.nodes}-node graph (${result.graph.edges} edges), ${result.bundle} bundle, chromium ${result.machine.chromium}`,
    `machine: ${result.machine.cpus} × ${result.machine.cpuModel}, load ${result.machine.loadAverage.join(" ")}`,
    `open       median ${result.open.medianMs} ms (${result.open.runsMs.join(", ")})   target < ${TARGETS.openMs} ms: ${mark(result.met.open)}`,
    view("fit view", result.views.fit),
    view("100%", result.views.full),
    `frames     target p95 ≤ ${TARGETS.frameP95Ms} ms: ${mark(result.met.frames)}`,
    `save       median ${result.save.medianMs} ms (${result.save.runsMs.join(", ")})   target < ${TARGETS.saveMs} ms: ${mark(result.met.save)}`,
  ].join("\n");
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({
    options: { json: { type: "boolean", default: false }, nodes: { type: "string" }, runs: { type: "string" }, "gesture-ms": { type: "string" } },
  });
  const count = (text: string | undefined): number | undefined => {
    if (text === undefined) return undefined;
    const value = Number(text);
    if (Number.isInteger(value) && value > 0) return value;
    console.error(
      `bench:editor: ${JSON.stringify(text)} is not a positive whole number\nusage: npm run bench:editor -- [--json] [--nodes N] [--runs N] [--gesture-ms MS]`,
    );
    process.exit(2);
  };
  const result = await benchEditor({
    nodes: count(values.nodes),
    runs: count(values.runs),
    gestureMs: count(values["gesture-ms"]),
    log: (line) => console.error(line),
  });
  console.log(values.json ? JSON.stringify(result, null, 2) : table(result));
}

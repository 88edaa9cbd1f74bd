/// <reference lib="dom" />
// End-to-end: the editor's graph view in a real browser. The editor host (startEditorHost, in this process)
// serves a temporary copy of the village project and the built page; Debian's chromium, driven by
// playwright-core, lists the project, opens the blacksmith's graph (a box per node, an edge per exit, the
// start node marked), drags a node with the real mouse (the layout file gets the new position, the graph
// file stays byte for byte the same), undoes and redoes the move with the keyboard (each saved), reloads
// the page (the positions come back as saved), then sees a broken graph appear on disk, reloads it from
// the banner and finds its problem shown and its node outlined; a move the host refuses (the layout file
// changed on disk) is explained on the page. No other console errors on the way. Screenshots
// go to test-artifacts/: editor-graph.png, editor-graph-problem.png, editor-refused-move.png.

import { readFile, stat, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { parseDialogueGraph, successors } from "../../plugin/dialogue/validate.js";
import type { EditorHost } from "../../editor/host/editor-api.js";
import { ARTIFACTS, CHROMIUM_SKIP_REASON, HAVE_CHROMIUM, openEditorSession, type EditorSession } from "../fixtures/editor-session.js";

const artifacts = ARTIFACTS;
const haveChromium = HAVE_CHROMIUM;
const SKIP_REASON = CHROMIUM_SKIP_REASON;

type Xy = { x: number; y: number };

/** Every node's position on the canvas, from React Flow's transforms (flow coordinates). */
async function nodePositions(page: Page): Promise<Record<string, Xy>> {
  return page.$$eval(".react-flow__node", (elements) => {
    const out: Record<string, { x: number; y: number }> = {};
    for (const el of elements as HTMLElement[]) {
      const m = /translate\(\s*(-?[\d.]+)px\s*,\s*(-?[\d.]+)px\s*\)/.exec(el.style.transform);
      if (m && el.dataset.id) out[el.dataset.id] = { x: Number(m[1]), y: Number(m[2]) };
    }
    return out;
  });
}

// Without chromium the whole suite is skipped, and its name says why.
const describeInBrowser = haveChromium ? describe : describe.skip;

describeInBrowser(haveChromium ? "the editor's graph view in chromium" : `the editor's graph view (skipped: ${SKIP_REASON})`, () => {
  let root: string;
  let host: EditorHost;
  let page: Page;
  let consoleErrors: string[] = [];
  /** Errors the browser logs for requests the test makes fail on purpose (a refused save). */
  const expectedConsoleErrors: RegExp[] = [];

  const graphFile = () => join(root, "dialogue", "blacksmith.json");
  const layoutFile = () => join(root, "dialogue", "blacksmith.layout.json");
  const storedPosition = async (node: string): Promise<Xy | undefined> => {
    if (!existsSync(layoutFile())) return undefined;
    return (JSON.parse(await readFile(layoutFile(), "utf8")) as { nodes: Record<string, Xy> }).nodes[node];
  };
  const openGraph = async (id: string, nodeCount: number) => {
    await page.locator(`[data-testid=graphs] button`, { hasText: id }).click();
    await expect.poll(() => page.locator(".react-flow__node").count(), { timeout: 15_000 }).toBe(nodeCount);
  };

  let session: EditorSession;
  beforeAll(async () => {
    session = await openEditorSession("parley-editor-e2e-");
    ({ root, host, page } = session);
    consoleErrors = session.consoleErrors;
  });

  afterAll(async () => {
    await session?.close();
  });

  it("lists the project's 3 characters and 3 dialogue graphs", async () => {
    await page.goto(host.url);
    await expect.poll(() => page.locator("[data-testid=graphs] > li").count()).toBe(3);
    expect(await page.locator("[data-testid=graphs] .document-id").allTextContents()).toEqual(["blacksmith", "guard", "innkeeper"]);
    expect(await page.locator("[data-testid=characters] .document-id").allTextContents()).toEqual(["blacksmith", "guard", "innkeeper"]);
    expect(await page.locator(".document .badge.error").count()).toBe(0);
    expect(await page.title()).toBe("Ashford village — Parley editor");
  });

  it("opens the blacksmith's graph: a box per node, an edge per exit, the start node marked", async () => {
    const graph = parseDialogueGraph(JSON.parse(await readFile(graphFile(), "utf8")));
    const nodeIds = Object.keys(graph.nodes);
    const exits = Object.values(graph.nodes).reduce((sum, node) => sum + successors(node).length, 0);
    await openGraph("blacksmith", nodeIds.length);
    await expect.poll(() => page.locator(".react-flow__edge").count()).toBe(exits);
    expect((await page.locator(".react-flow__node").evaluateAll((els) => els.map((el) => (el as HTMLElement).dataset.id))).sort()).toEqual([...nodeIds].sort());
    expect(await page.locator(".dialogue-node.start").getAttribute("data-node-id")).toBe(graph.start);
    // Each box says what the node does; choices, intents and branches label their edges.
    const shop = page.locator('.dialogue-node[data-node-id="shop"]');
    expect(await shop.locator(".node-type").textContent()).toBe("choice");
    expect(await shop.locator(".node-exits li").count()).toBe(graph.nodes.shop.type === "choice" ? graph.nodes.shop.options.length : -1);
    expect(await page.locator('.dialogue-node[data-node-id="welcome_back"] .node-summary').textContent()).toContain("Back again?");
    expect(await page.locator(".react-flow__edge-textwrapper", { hasText: "otherwise" }).count()).toBeGreaterThan(0);
    expect(await page.locator(".react-flow__edge-textwrapper", { hasText: "buy_weapon" }).count()).toBe(1);
    expect(await page.locator(".react-flow__minimap").count()).toBe(1);
    expect(await page.locator(".react-flow__controls").count()).toBe(1);
    // No two boxes overlap after the automatic layout.
    const boxes = await page.locator(".react-flow__node").evaluateAll((els) => els.map((el) => el.getBoundingClientRect().toJSON() as DOMRect));
    for (let i = 0; i < boxes.length; i++) {
      for (let j = i + 1; j < boxes.length; j++) {
        const [a, b] = [boxes[i], boxes[j]];
        expect(a.right <= b.left || b.right <= a.left || a.bottom <= b.top || b.bottom <= a.top, `boxes ${i} and ${j} overlap`).toBe(true);
      }
    }
    await page.screenshot({ path: join(artifacts, "editor-graph.png") });
  });

  let before: Record<string, Xy>;
  let moved: Xy;

  it("saves a node dragged with the mouse to the layout file only; the graph file is untouched", async () => {
    const graphBytes = await readFile(graphFile());
    const graphMtime = (await stat(graphFile())).mtimeMs;
    expect(existsSync(layoutFile())).toBe(false);
    before = await nodePositions(page);
    const header = await page.locator('.dialogue-node[data-node-id="shop"] header').boundingBox();
    expect(header).not.toBeNull();
    const from = { x: header!.x + header!.width / 2, y: header!.y + header!.height / 2 };
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move(from.x + 70, from.y + 40, { steps: 5 });
    await page.mouse.move(from.x + 140, from.y + 90, { steps: 5 });
    await page.mouse.up();

    moved = (await nodePositions(page)).shop;
    expect(moved.x).toBeGreaterThan(before.shop.x + 50);
    expect(moved.y).toBeGreaterThan(before.shop.y + 30);
    expect(Number.isInteger(moved.x) && Number.isInteger(moved.y)).toBe(true);
    await expect.poll(() => storedPosition("shop")).toEqual(moved);
    // Only the moved node is stored; the others keep their automatic places.
    expect(Object.keys((JSON.parse(await readFile(layoutFile(), "utf8")) as { nodes: object }).nodes)).toEqual(["shop"]);
    const after = await nodePositions(page);
    for (const id of Object.keys(before)) if (id !== "shop") expect(after[id], id).toEqual(before[id]);
    expect((await readFile(graphFile())).equals(graphBytes)).toBe(true);
    expect((await stat(graphFile())).mtimeMs).toBe(graphMtime);
  });

  it("undoes the move with Ctrl+Z and redoes it with Ctrl+Y and Ctrl+Shift+Z, saving each", async () => {
    await page.keyboard.press("Control+z");
    await expect.poll(async () => (await nodePositions(page)).shop).toEqual(before.shop);
    await expect.poll(() => storedPosition("shop")).toEqual(before.shop);

    await page.keyboard.press("Control+y");
    await expect.poll(async () => (await nodePositions(page)).shop).toEqual(moved);
    await expect.poll(() => storedPosition("shop")).toEqual(moved);

    await page.keyboard.press("Control+z");
    await expect.poll(() => storedPosition("shop")).toEqual(before.shop);
    await page.keyboard.press("Control+Shift+z");
    await expect.poll(() => storedPosition("shop")).toEqual(moved);
    await expect.poll(async () => (await nodePositions(page)).shop).toEqual(moved);
  });

  it("shows the positions as saved after the page is reloaded", async () => {
    await page.reload();
    // The open graph is in the page's address, so it opens again by itself.
    await expect.poll(() => page.locator(".react-flow__node").count(), { timeout: 15_000 }).toBe(Object.keys(before).length);
    expect(await nodePositions(page)).toEqual({ ...before, shop: moved });
    // And after opening another graph and coming back.
    await openGraph("guard", 17);
    await openGraph("blacksmith", Object.keys(before).length);
    expect(await nodePositions(page)).toEqual({ ...before, shop: moved });
  });

  it("shows a broken graph's problem and outlines its node after a reload from disk", async () => {
    const broken = {
      schema: "parley.dialogue/1",
      id: "broken",
      character: "guard",
      start: "halt",
      nodes: {
        halt: { type: "line", text: "Halt! Who goes there?", next: "ask" },
        ask: {
          type: "choice",
          options: [
            { text: "A friend.", next: "pass" },
            { text: "Nobody.", next: "done" },
          ],
        },
        pass: { type: "line", text: "Go on, then.", next: "gate_open" },
        done: { type: "end" },
      },
    };
    await writeFile(join(root, "dialogue", "broken.json"), JSON.stringify(broken, null, 2));
    const banner = page.locator(".banner.changes");
    await banner.waitFor({ timeout: 10_000 });
    expect(await banner.textContent()).toContain("dialogue/broken.json");
    await banner.locator("button", { hasText: "Reload" }).click();
    await banner.waitFor({ state: "detached", timeout: 10_000 });

    const item = page.locator("[data-testid=graphs] > li", { hasText: "broken" });
    await item.waitFor();
    expect(await item.locator(".badge.error").textContent()).toBe("1 problem");
    expect(await item.locator(".document-problem").textContent()).toContain('no node "gate_open"');

    await openGraph("broken", 4);
    const pass = page.locator('.dialogue-node[data-node-id="pass"]');
    expect(await pass.getAttribute("class")).toContain("has-errors");
    expect(await pass.getAttribute("title")).toMatch(/nodes\.pass\.next: no node "gate_open"/);
    expect(await pass.locator(".exit-missing").textContent()).toContain("gate_open");
    expect(await page.locator(".dialogue-node.has-errors").count()).toBe(1);
    expect(await page.locator(".graph-summary").textContent()).toContain('no node "gate_open"');
    expect(await page.locator(".react-flow__edge").count()).toBe(3);
    await page.screenshot({ path: join(artifacts, "editor-graph-problem.png") });
  });

  it("says why a move was refused, and a reload brings the positions stored on disk", async () => {
    // Someone else writes the layout file (a git pull): the editor must not overwrite it unseen.
    const layoutPath = join(root, "dialogue", "broken.layout.json");
    const theirs = JSON.stringify({ schema: "parley.layout/1", nodes: { done: { x: 0, y: 400 }, halt: { x: -400, y: 0 } } });
    await writeFile(layoutPath, theirs);
    const banner = page.locator(".banner.changes");
    await banner.waitFor({ timeout: 10_000 });
    expect(await banner.textContent()).toContain("dialogue/broken.layout.json");

    const header = (await page.locator('.dialogue-node[data-node-id="pass"] header').boundingBox())!;
    await page.mouse.move(header.x + header.width / 2, header.y + header.height / 2);
    await page.mouse.down();
    await page.mouse.move(header.x + header.width / 2 + 60, header.y + header.height / 2 + 40, { steps: 6 });
    await page.mouse.up();
    const error = page.locator(".banner.error");
    await error.waitFor({ timeout: 10_000 });
    expect(await error.textContent()).toMatch(/Saving the position of "pass" in broken failed: .*broken\.layout\.json changed on disk.*\(EXTERNAL_CHANGE\)/);
    expect(await readFile(layoutPath, "utf8")).toBe(theirs);
    expectedConsoleErrors.push(/status of 409/);
    await page.screenshot({ path: join(artifacts, "editor-refused-move.png") });

    await banner.locator("button", { hasText: "Reload" }).click();
    await banner.waitFor({ state: "detached", timeout: 10_000 });
    await page.locator(".react-flow__controls-fitview").click();
    await expect.poll(async () => (await nodePositions(page)).halt).toEqual({ x: -400, y: 0 });
    expect((await nodePositions(page)).done).toEqual({ x: 0, y: 400 });
    await error.locator("button").click();
    await error.waitFor({ state: "detached" });
  });

  it("logged no errors in the browser console but the refused save's", () => {
    const unexpected = consoleErrors.filter((text) => !expectedConsoleErrors.some((pattern) => pattern.test(text)));
    expect(unexpected).toEqual([]);
    expect(consoleErrors.length).toBe(expectedConsoleErrors.length);
  });
});

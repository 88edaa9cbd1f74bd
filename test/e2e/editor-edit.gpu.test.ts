/// <reference lib="dom" />
// End-to-end: editing a graph's logic in the editor's graph view, in a real browser with the real mouse
// and keyboard. The editor host (startEditorHost, in this process) serves a temporary copy of the
// village project; Debian's chromium, driven by playwright-core:
//   - creates a new graph for the guard from the project browser;
//   - drags five nodes from the palette onto the canvas and connects their exits by dragging from each
//     exit's handle to another node (next, a choice's options, a branch and its otherwise);
//   - types into the inspector (texts, an option added, an effect and a condition that name a variable
//     the graph does not declare): the validation errors appear on the nodes, in the problems list and
//     under the fields, the save status says "not saved: N problems", and nothing invalid reaches the disk;
//   - declares the variable in the variables panel: the errors go, and the autosave writes the graph,
//     which the plugin's parseDialogueGraph reads with every node and edge made;
//   - cuts an edge (select it, Delete), sees the dangling exit reported, connects it again;
//   - selects two nodes (a Shift box, Shift+click), copies them (Ctrl+C), pastes them (Ctrl+V: new ids), deletes them (Delete): the
//     layout file loses their entries again;
//   - undoes every step (Ctrl+Z) back to the graph as created, byte for byte on disk, and redoes them all
//     (Ctrl+Y), with the file back as it was; typing a field is one undo step per burst;
//   - reloads the page and finds the graph, its positions and its variable as they were;
//   - edits a graph someone else changed on disk meanwhile: the save (Ctrl+S) is refused (409), the page
//     says so and shows the banner, never writes over it, and the banner's Reload reads their version;
// with no other errors in the browser console. Screenshots: test-artifacts/editor-edit.png and
// editor-edit-problems.png.

import { readFile, writeFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Locator, Page } from "playwright-core";
import { parseDialogueGraph, successors } from "../../plugin/dialogue/validate.js";
import type { DialogueGraph } from "../../plugin/types.js";
import type { EditorHost } from "../../editor/host/editor-api.js";
import { ARTIFACTS, CHROMIUM_SKIP_REASON, HAVE_CHROMIUM, openEditorSession, type EditorSession } from "../fixtures/editor-session.js";

const artifacts = ARTIFACTS;
const haveChromium = HAVE_CHROMIUM;
const SKIP_REASON = CHROMIUM_SKIP_REASON;

type Xy = { x: number; y: number };

const describeInBrowser = haveChromium ? describe : describe.skip;

describeInBrowser(haveChromium ? "editing a graph in the editor, in chromium" : `editing a graph in the editor (skipped: ${SKIP_REASON})`, () => {
  let root: string;
  let host: EditorHost;
  let page: Page;
  let consoleErrors: string[] = [];
  /** Errors the browser logs for requests the test makes fail on purpose (a refused save). */
  const expectedConsoleErrors: RegExp[] = [];

  const graphFile = () => join(root, "dialogue", "ferry.json");
  const layoutFile = () => join(root, "dialogue", "ferry.layout.json");
  /** The graph on disk, when it is a valid graph. */
  const onDisk = async (): Promise<DialogueGraph | undefined> => {
    try {
      return parseDialogueGraph(JSON.parse(await readFile(graphFile(), "utf8")));
    } catch {
      return undefined;
    }
  };
  /** Every edge of a graph: "source/exit->target". */
  const edgesOf = (graph: DialogueGraph | undefined): string[] => {
    if (!graph) return [];
    return Object.entries(graph.nodes)
      .flatMap(([id, node]) => successors(node).map((target, i) => `${id}#${i}->${target}`))
      .sort();
  };
  const storedLayout = async (): Promise<Record<string, Xy>> =>
    existsSync(layoutFile()) ? (JSON.parse(await readFile(layoutFile(), "utf8")) as { nodes: Record<string, Xy> }).nodes : {};

  const node = (id: string): Locator => page.locator(`.react-flow__node[data-id="${id}"]`);
  const inspector = (): Locator => page.locator(".inspector");
  const field = (label: string): Locator => inspector().getByLabel(label, { exact: true });
  const center = async (locator: Locator): Promise<Xy> => {
    const box = await locator.boundingBox();
    expect(box, `${locator} is on screen`).not.toBeNull();
    return { x: box!.x + box!.width / 2, y: box!.y + box!.height / 2 };
  };
  /** The canvas pane's box on screen. */
  const flowBox = async () => (await page.locator(".flow .react-flow").boundingBox())!;
  /** A point of the canvas, as fractions of its width and height. */
  const canvasPoint = async (fx: number, fy: number): Promise<Xy> => {
    const box = await flowBox();
    return { x: Math.round(box.x + box.width * fx), y: Math.round(box.y + box.height * fy) };
  };
  const drag = async (from: Xy, to: Xy) => {
    await page.mouse.move(from.x, from.y);
    await page.mouse.down();
    await page.mouse.move((from.x + to.x) / 2, (from.y + to.y) / 2, { steps: 6 });
    await page.mouse.move(to.x, to.y, { steps: 6 });
    await page.mouse.up();
  };
  /** Drags a palette tile onto the canvas (HTML drag and drop): the new node's title lands at `at`. */
  const dropFromPalette = async (type: string, at: Xy, expectedId: string) => {
    await drag(await center(page.locator(`.palette-item[data-node-type="${type}"]`)), at);
    await node(expectedId).waitFor({ timeout: 5_000 });
    // The new node is selected: the inspector shows it.
    await expect.poll(() => inspector().locator(".node-inspector").getAttribute("data-node-id")).toBe(expectedId);
  };
  /** Drags from an exit's handle to another node's entry handle. */
  const connect = async (source: string, handle: string, target: string) => {
    const from = await center(node(source).locator(`.react-flow__handle.source[data-handleid="${handle}"]`));
    const to = await center(node(target).locator(".react-flow__handle.target"));
    await drag(from, to);
    // Attached, not visible: a straight level edge has no height.
    await page.locator(`.react-flow__edge[data-id="${source}/${handle}"]`).waitFor({ state: "attached", timeout: 5_000 });
    // Polled: an exit that had an edge (start → end) keeps it until the page draws the new target.
    await expect
      .poll(() => page.locator(`.react-flow__edge[data-id="${source}/${handle}"]`).getAttribute("aria-label"))
      .toBe(`Edge from ${source} to ${target}`);
  };
  /** Selects a node by clicking its title. */
  const select = async (id: string, modifiers: ("Shift" | "Control")[] = []) => {
    await node(id).locator("header").click({ modifiers });
  };
  /** Replaces a field's text by typing it, key by key. */
  const typeInto = async (locator: Locator, text: string) => {
    await locator.click();
    await page.keyboard.press("Control+a");
    await page.keyboard.type(text, { delay: 5 });
  };
  /** Clicks an empty spot of the canvas: nothing selected, the inspector shows the graph. */
  const clickPane = async () => {
    const at = await canvasPoint(0.93, 0.45);
    await page.mouse.click(at.x, at.y);
    await inspector().locator(".graph-settings").waitFor();
  };
  const problemsText = () => page.locator("[data-testid=problems]").textContent();
  const saveStatus = () => page.locator("[data-testid=save-status]");

  let session: EditorSession;
  beforeAll(async () => {
    session = await openEditorSession("parley-editor-edit-");
    ({ root, host, page } = session);
    consoleErrors = session.consoleErrors;
  });

  afterAll(async () => {
    await session?.close();
  });

  let created: string;

  it("creates a new graph for the guard from the project browser", async () => {
    await page.goto(host.url);
    await page.getByLabel("New graph id").fill("ferry");
    await page.getByLabel("Spoken by").selectOption("guard");
    await page.getByRole("button", { name: "New graph" }).click();
    await expect.poll(() => page.locator(".react-flow__node").count(), { timeout: 15_000 }).toBe(2);
    expect(await page.locator("[data-testid=graphs] .document-id").allTextContents()).toContain("ferry");
    created = await readFile(graphFile(), "utf8");
    const graph = parseDialogueGraph(JSON.parse(created));
    expect(graph.character).toBe("guard");
    expect(Object.keys(graph.nodes)).toEqual(["start", "end"]);
    expect(await saveStatus().getAttribute("data-state")).toBe("saved");
    // With nothing selected the inspector shows the graph: its start node and (no) variables.
    expect(await field("Start node").inputValue()).toBe("start");
  });

  it("adds five nodes by dragging them from the palette", async () => {
    await dropFromPalette("choice", await canvasPoint(0.2, 0.35), "choice_1");
    await dropFromPalette("set", await canvasPoint(0.2, 0.62), "set_1");
    await dropFromPalette("branch", await canvasPoint(0.55, 0.62), "branch_1");
    await dropFromPalette("line", await canvasPoint(0.25, 0.85), "line_1");
    await dropFromPalette("line", await canvasPoint(0.6, 0.85), "line_2");
    expect(await page.locator(".react-flow__node").count()).toBe(7);
    // Each landed where it was dropped (its title under the pointer) and is stored in the layout file.
    const header = await center(node("branch_1").locator("header"));
    const wanted = await canvasPoint(0.55, 0.62);
    expect(Math.abs(header.x - wanted.x)).toBeLessThan(6);
    expect(Math.abs(header.y - wanted.y)).toBeLessThan(6);
    // Once the graph is edited, the nodes the auto-layout placed are stored where they are seen too.
    await expect.poll(async () => Object.keys(await storedLayout()).sort()).toEqual(["branch_1", "choice_1", "end", "line_1", "line_2", "set_1", "start"]);
    // Unconnected exits are errors: the graph is not saved, and says why.
    expect(await node("choice_1").getAttribute("class")).toMatch(/selectable/);
    expect(await node("choice_1").locator(".dialogue-node").getAttribute("class")).toContain("has-errors");
    await expect.poll(() => saveStatus().textContent()).toMatch(/Not saved: \d+ problems/);
    expect(await readFile(graphFile(), "utf8")).toBe(created);
  });

  it("connects exits by dragging from their handles to other nodes", async () => {
    await connect("start", "next", "choice_1"); // replaces start -> end
    expect(await page.locator('.react-flow__edge[data-id="start/next"]').getAttribute("aria-label")).toBe("Edge from start to choice_1");
    await connect("choice_1", "option-0", "set_1");
    // A second option, added in the inspector, gets a handle of its own.
    await select("choice_1");
    await inspector().getByRole("button", { name: "Add option" }).click();
    await node("choice_1").locator('.react-flow__handle.source[data-handleid="option-1"]').waitFor();
    await connect("choice_1", "option-1", "line_2");
    await connect("set_1", "next", "branch_1");
    await connect("branch_1", "branch-0", "line_1");
    await connect("branch_1", "otherwise", "line_2");
    await connect("line_1", "next", "end");
    await connect("line_2", "next", "end");
    expect(await page.locator(".react-flow__edge").count()).toBe(8);
    // What is left is the set node's empty effect.
    await expect.poll(() => saveStatus().textContent()).toBe("● Not saved: 1 problem");
    expect(await problemsText()).toContain("nodes.set_1.effects[0]");
  });

  it("shows validation errors as the writer types in the inspector, and saves once they are fixed", async () => {
    await select("choice_1");
    await typeInto(inspector().locator('[data-item="options-0"]').getByLabel(/^Text/), "Take me across.");
    await typeInto(inspector().locator('[data-item="options-1"]').getByLabel(/^Text/), "Not today.");
    await select("set_1");
    await typeInto(field("Effects one per line: gold -= 30, met = true"), "fare_paid = true");
    await select("branch_1");
    await typeInto(
      inspector()
        .locator('[data-item="branches-0"]')
        .getByLabel(/^Condition/),
      "fare_paid",
    );
    await select("line_1");
    await typeInto(inspector().getByLabel(/^Text/), "Hop in, then.");
    await select("line_2");
    await typeInto(inspector().getByLabel(/^Text/), "Suit yourself.");

    // The unknown variable, with its column, on the nodes, in the problems list and under the field.
    await expect.poll(() => saveStatus().textContent()).toBe("● Not saved: 2 problems");
    const problems = await problemsText();
    expect(problems).toContain('nodes.set_1.effects[0] unknown variable "fare_paid" at column 1 of `fare_paid = true`');
    expect(problems).toContain('nodes.branch_1.branches[0].condition unknown variable "fare_paid" at column 1 of `fare_paid`');
    expect(await node("set_1").locator(".dialogue-node").getAttribute("class")).toContain("has-errors");
    expect(await node("set_1").locator(".dialogue-node").getAttribute("title")).toContain('unknown variable "fare_paid"');
    await select("set_1");
    expect(await inspector().locator(".field-problems li.error").allTextContents()).toEqual([
      'line 1: unknown variable "fare_paid" at column 1 of `fare_paid = true`',
    ]);
    await page.screenshot({ path: join(artifacts, "editor-edit-problems.png") });
    // Nothing invalid was written.
    expect(await readFile(graphFile(), "utf8")).toBe(created);

    // Typing a field is one undo step: Ctrl+Z takes the whole text back, Ctrl+Y brings it again.
    await select("line_2");
    await select("line_2");
    await page.keyboard.press("Control+z");
    await expect.poll(() => inspector().getByLabel(/^Text/).inputValue()).toBe("New line.");
    await page.keyboard.press("Control+y");
    await expect.poll(() => inspector().getByLabel(/^Text/).inputValue()).toBe("Suit yourself.");

    // Declaring the variable fixes both.
    await clickPane();
    await inspector().getByRole("button", { name: "Add variable" }).click();
    await typeInto(field("Variable name"), "fare_paid");
    await field("Variable type").selectOption("bool");
    await expect.poll(() => saveStatus().textContent(), { timeout: 5_000 }).toBe("Saved");
    expect(await page.locator(".dialogue-node.has-errors").count()).toBe(0);

    const graph = (await onDisk())!;
    expect(graph).toBeDefined();
    expect(graph.variables).toEqual({ fare_paid: { type: "bool", default: false } });
    expect(Object.keys(graph.nodes).sort()).toEqual(["branch_1", "choice_1", "end", "line_1", "line_2", "set_1", "start"]);
    expect(graph.nodes.choice_1).toMatchObject({
      type: "choice",
      options: [
        { text: "Take me across.", next: "set_1" },
        { text: "Not today.", next: "line_2" },
      ],
    });
    expect(graph.nodes.set_1).toMatchObject({ type: "set", effects: ["fare_paid = true"], next: "branch_1" });
    expect(graph.nodes.branch_1).toMatchObject({ type: "branch", branches: [{ condition: "fare_paid", next: "line_1" }], otherwise: "line_2" });
    expect(graph.nodes.line_1).toMatchObject({ text: "Hop in, then.", next: "end" });
    expect(graph.nodes.line_2).toMatchObject({ text: "Suit yourself.", next: "end" });
    expect(graph.nodes.start).toMatchObject({ next: "choice_1" });
    expect(edgesOf(graph)).toHaveLength(8);
  });

  let finalText: string;
  let finalLayout: Record<string, Xy>;

  it("cuts an edge with Delete and connects it again", async () => {
    const saved = await readFile(graphFile(), "utf8");
    await page.locator('.react-flow__edge[data-id="choice_1/option-1"] .react-flow__edge-textwrapper').click();
    await page.keyboard.press("Delete");
    await expect.poll(() => page.locator('.react-flow__edge[data-id="choice_1/option-1"]').count()).toBe(0);
    await expect.poll(() => saveStatus().textContent()).toBe("● Not saved: 1 problem");
    expect(await problemsText()).toContain("nodes.choice_1.options[1].next must not be empty");
    expect(await node("choice_1").locator(".node-exits li.dangling").count()).toBe(1);
    await connect("choice_1", "option-1", "line_2");
    await expect.poll(() => saveStatus().textContent(), { timeout: 5_000 }).toBe("Saved");
    expect(await readFile(graphFile(), "utf8")).toBe(saved);
  });

  it("selects nodes with a Shift box or Shift+click, copies them (Ctrl+C), pastes them with new ids (Ctrl+V) and deletes them (Delete)", async () => {
    const before = await readFile(graphFile(), "utf8");
    // Shift + drag on the pane draws a selection box.
    const a = (await node("line_1").boundingBox())!;
    const b = (await node("line_2").boundingBox())!;
    await page.keyboard.down("Shift");
    await drag({ x: a.x - 15, y: a.y + a.height + 15 }, { x: b.x + b.width + 15, y: b.y - 15 });
    await page.keyboard.up("Shift");
    await expect.poll(() => inspector().textContent()).toContain("2 nodes selected");
    await clickPane();
    // Shift + click adds a node to the selection.
    await select("line_1");
    await select("line_2", ["Shift"]);
    await expect.poll(() => inspector().textContent()).toContain("2 nodes selected");
    await page.keyboard.press("Control+c");
    await page.keyboard.press("Control+v");
    await node("line_3").waitFor();
    await node("line_4").waitFor();
    expect(await page.locator(".dialogue-node.selected").evaluateAll((els) => els.map((el) => (el as HTMLElement).dataset.nodeId).sort())).toEqual([
      "line_3",
      "line_4",
    ]);
    await expect.poll(async () => Object.keys((await onDisk())?.nodes ?? {}).length, { timeout: 5_000 }).toBe(9);
    const pasted = (await onDisk())!;
    expect(pasted.nodes.line_3).toMatchObject({ text: "Hop in, then.", next: "end" });
    expect(pasted.nodes.line_4).toMatchObject({ text: "Suit yourself.", next: "end" });
    const layout = await storedLayout();
    expect(layout.line_3).toEqual({ x: layout.line_1.x + 40, y: layout.line_1.y + 40 });

    await page.keyboard.press("Delete");
    await expect.poll(() => page.locator(".react-flow__node").count()).toBe(7);
    await expect.poll(() => readFile(graphFile(), "utf8"), { timeout: 5_000 }).toBe(before);
    await expect.poll(async () => Object.keys(await storedLayout()).sort()).toEqual(["branch_1", "choice_1", "end", "line_1", "line_2", "set_1", "start"]);
    finalText = before;
    finalLayout = await storedLayout();
  });

  it("undoes every edit back to the graph as created, and redoes them all, saving each time", async () => {
    await clickPane();
    const undo = page.getByRole("button", { name: "Undo", exact: true });
    const redo = page.getByRole("button", { name: "Redo", exact: true });
    let steps = 0;
    while (!(await undo.isDisabled()) && steps < 300) {
      await page.keyboard.press("Control+z");
      steps++;
    }
    expect(steps).toBeGreaterThan(15);
    await expect.poll(() => page.locator(".react-flow__node").count()).toBe(2);
    await expect.poll(() => readFile(graphFile(), "utf8"), { timeout: 5_000 }).toBe(created);
    await expect.poll(() => storedLayout()).toEqual({});
    expect(await saveStatus().textContent()).toBe("Saved");

    let redone = 0;
    while (!(await redo.isDisabled()) && redone < 300) {
      await page.keyboard.press("Control+y");
      redone++;
    }
    expect(redone).toBe(steps);
    await expect.poll(() => page.locator(".react-flow__node").count()).toBe(7);
    await expect.poll(() => readFile(graphFile(), "utf8"), { timeout: 5_000 }).toBe(finalText);
    await expect.poll(() => storedLayout()).toEqual(finalLayout);
  });

  it("finds everything as it was after the page is reloaded", async () => {
    const positions = await page
      .locator(".react-flow__node")
      .evaluateAll((els) => Object.fromEntries(els.map((el) => [(el as HTMLElement).dataset.id, (el as HTMLElement).style.transform])));
    await page.reload();
    await expect.poll(() => page.locator(".react-flow__node").count(), { timeout: 15_000 }).toBe(7);
    expect(await page.locator(".react-flow__edge").count()).toBe(8);
    expect(
      await page
        .locator(".react-flow__node")
        .evaluateAll((els) => Object.fromEntries(els.map((el) => [(el as HTMLElement).dataset.id, (el as HTMLElement).style.transform]))),
    ).toEqual(positions);
    expect(await saveStatus().textContent()).toBe("Saved");
    expect(await page.locator(".dialogue-node.has-errors").count()).toBe(0);
    expect(await inspector().locator('[data-variable="fare_paid"]').count()).toBe(1);
    await select("choice_1");
    await page.screenshot({ path: join(artifacts, "editor-edit.png") });
  });

  it("never overwrites a graph changed on disk: the save is refused, the banner says so, a reload reads it", async () => {
    const theirs = finalText.replace("Suit yourself.", "Off you go, then.");
    await writeFile(graphFile(), theirs);
    await select("line_1");
    await typeInto(inspector().getByLabel(/^Text/), "Hop aboard.");
    await page.keyboard.press("Control+s"); // saves at once, from inside the field too
    await expect.poll(() => saveStatus().textContent()).toBe("● Not saved: the file changed on disk");
    const banner = page.locator(".banner.changes");
    await banner.waitFor();
    expect(await banner.textContent()).toContain("dialogue/ferry.json");
    // Later edits are kept in the page, never written over theirs.
    await typeInto(inspector().getByLabel(/^Text/), "Hop aboard, quick.");
    await new Promise((done) => setTimeout(done, 1_500));
    expect(await readFile(graphFile(), "utf8")).toBe(theirs);
    expectedConsoleErrors.push(/status of 409/);

    await banner.locator("button", { hasText: "Reload" }).click();
    await banner.waitFor({ state: "detached" });
    await expect.poll(() => node("line_2").locator(".node-summary").textContent()).toBe("Off you go, then.");
    expect(await node("line_1").locator(".node-summary").textContent()).toBe("Hop in, then.");
    expect(await saveStatus().textContent()).toBe("Saved");
  });

  it("adds every node type by clicking the palette; the inspector shows each type's fields", async () => {
    const fields: Record<string, RegExp[]> = {
      line: [/^Text/, /^Next/],
      choice: [/^Text/, /^Condition/, /^Next/],
      llm_line: [/^Instruction/, /^Max words/, /^Fallback line/, /^Next/],
      player_input: [/^Prompt/, /^Reply$/, /^Reply instruction/, /^Store the text in/, /^Next/],
      intent: [/^Id/, /^Description/, /^Examples/, /^Fallback$/, /^Min confidence/],
      branch: [/^Condition/, /^Next/, /^Otherwise/],
      set: [/^Effects/, /^Next/],
      jump: [/^Target/],
      end: [],
    };
    for (const [type, labels] of Object.entries(fields)) {
      const count = await page.locator(".react-flow__node").count();
      await page.locator(`.palette-item[data-node-type="${type}"]`).click();
      await expect.poll(() => page.locator(".react-flow__node").count()).toBe(count + 1);
      const panel = inspector().locator(".node-inspector");
      await expect.poll(() => panel.getAttribute("data-node-id")).toMatch(new RegExp(`^${type}_\\d+$`));
      for (const label of [...labels, /^Tags/]) expect(await panel.getByLabel(label).count(), `${type}: ${label}`).toBeGreaterThan(0);
    }
    // A number field that is not one is reported under it, and fixed by typing a number.
    await page.locator('.palette-item[data-node-type="llm_line"]').click();
    await typeInto(inspector().getByLabel(/^Max words/), "0");
    await expect.poll(() => inspector().locator(".field.has-error").count()).toBe(1);
    expect(await inspector().locator(".field.has-error .field-problems").textContent()).toMatch(/at least 1/);
    await typeInto(inspector().getByLabel(/^Max words/), "40");
    await expect.poll(() => inspector().locator(".field.has-error").count()).toBe(0);
  });

  it("logged no errors in the browser console but the refused save's", () => {
    expect(consoleErrors.filter((text) => !expectedConsoleErrors.some((pattern) => pattern.test(text)))).toEqual([]);
    expect(consoleErrors.length).toBe(expectedConsoleErrors.length);
  });
});

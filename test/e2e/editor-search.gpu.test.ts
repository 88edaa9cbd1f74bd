/// <reference lib="dom" />
// End-to-end: finding and arranging in the editor's graph view, in Chromium with the real mouse and
// keyboard, on a temp copy of the village (the shared editor session):
//   - with the guard's graph open, Ctrl+K opens the search; typing finds a line of the innkeeper's graph
//     (listed under its file, the words marked); Enter opens that graph with the node selected and centred;
//   - a node dragged away is put back by auto-layout (Ctrl+Shift+L): every node stored in the layout file,
//     in one undo step (Ctrl+Z puts the dragged node back where it was dropped);
//   - the minimap shows every node; `?` lists the shortcuts and Esc closes the list;
//   - Ctrl+F finds a character's name, and a click opens the character's form;
// with no errors in the browser console. Screenshot: test-artifacts/editor-search.png.

import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Locator, Page } from "playwright-core";
import { ARTIFACTS, CHROMIUM_SKIP_REASON, HAVE_CHROMIUM, openEditorSession, type EditorSession } from "../fixtures/editor-session.js";

type Xy = { x: number; y: number };
const describeInBrowser = HAVE_CHROMIUM ? describe : describe.skip;

describeInBrowser(
  HAVE_CHROMIUM ? "search, auto-layout and shortcuts in the editor, in chromium" : `search, auto-layout and shortcuts (skipped: ${CHROMIUM_SKIP_REASON})`,
  () => {
    let session: EditorSession;
    let page: Page;
    const node = (id: string): Locator => page.locator(`.react-flow__node[data-id="${id}"]`);
    const layoutFile = () => join(session.root, "dialogue", "innkeeper.layout.json");
    const storedLayout = async (): Promise<Record<string, Xy>> =>
      existsSync(layoutFile()) ? (JSON.parse(await readFile(layoutFile(), "utf8")) as { nodes: Record<string, Xy> }).nodes : {};
    const centre = async (locator: Locator): Promise<Xy> => {
      const box = (await locator.boundingBox())!;
      return { x: box.x + box.width / 2, y: box.y + box.height / 2 };
    };
    const innkeeperNodeCount = async () =>
      Object.keys((JSON.parse(await readFile(join(session.root, "dialogue", "innkeeper.json"), "utf8")) as { nodes: object }).nodes).length;
    const inspectedNode = () => page.locator(".inspector .node-inspector").getAttribute("data-node-id");

    beforeAll(async () => {
      session = await openEditorSession("parley-editor-search-");
      page = session.page;
    });
    afterAll(async () => {
      await session?.close();
    });

    it("finds a line in another graph and opens it there, selected and centred", async () => {
      await page.goto(`${session.host.url}#graph=guard`);
      await node("halt").waitFor();
      await page.keyboard.press("Control+k");
      const search = page.getByRole("dialog", { name: "Search the project" });
      await search.getByRole("searchbox").waitFor();
      await page.keyboard.type("loud common", { delay: 10 });
      const hit = search.getByRole("option").filter({ hasText: "the common room's that loud" });
      await hit.waitFor();
      expect(await search.locator(".search-file").allTextContents()).toEqual(["dialogue/innkeeper.json"]);
      expect(await hit.locator("mark").allTextContents()).toEqual(["common", "loud"]);
      expect(await hit.getAttribute("aria-selected")).toBe("true");
      await page.screenshot({ path: join(ARTIFACTS, "editor-search.png") });

      await page.keyboard.press("Enter");
      await expect.poll(() => inspectedNode(), { timeout: 10_000 }).toBe("unclear");
      expect(await search.count()).toBe(0);
      expect(page.url()).toContain("#graph=innkeeper");
      // Centred in the canvas, at a zoom where its text can be read.
      const canvas = (await page.locator(".flow .react-flow").boundingBox())!;
      await expect
        .poll(async () => {
          const at = await centre(node("unclear"));
          return Math.hypot(at.x - (canvas.x + canvas.width / 2), at.y - (canvas.y + canvas.height / 2));
        })
        .toBeLessThan(30);
      expect(await node("unclear").locator(".dialogue-node").getAttribute("class")).toContain("selected");
    });

    it("lays the graph out again with Ctrl+Shift+L, one step that Ctrl+Z undoes", async () => {
      // Where the layout placed it when the graph opened (React Flow draws a node at translate(x, y)).
      const [openedX, openedY] = /translate\(([-\d.]+)px, ([-\d.]+)px\)/
        .exec((await node("unclear").getAttribute("style")) ?? "")!
        .slice(1)
        .map(Number);
      const from = await centre(node("unclear").locator("header"));
      await page.mouse.move(from.x, from.y);
      await page.mouse.down();
      await page.mouse.move(from.x + 80, from.y + 50, { steps: 5 });
      await page.mouse.move(from.x + 160, from.y + 100, { steps: 5 });
      await page.mouse.up();
      await expect.poll(async () => Object.keys(await storedLayout())).toEqual(["unclear"]);
      const dragged = (await storedLayout()).unclear;

      await page.keyboard.press("Control+Shift+L");
      await expect.poll(async () => Object.keys(await storedLayout()).length).toBe(await innkeeperNodeCount());
      // The auto-layout puts it back where the layout placed it when the graph opened.
      expect((await storedLayout()).unclear).toEqual({ x: Math.round(openedX), y: Math.round(openedY) });
      expect(dragged).not.toEqual({ x: Math.round(openedX), y: Math.round(openedY) });

      // Undone in one step: every node back where it was seen before (the others stay pinned there).
      await page.keyboard.press("Control+z");
      await expect.poll(async () => (await storedLayout()).unclear).toEqual(dragged);
      expect(await node("unclear").getAttribute("style")).toContain(`translate(${dragged.x}px, ${dragged.y}px)`);
    });

    it("shows every node in the minimap, and lists the shortcuts on ?", async () => {
      expect(await page.locator(".react-flow__minimap .react-flow__minimap-node").count()).toBe(await innkeeperNodeCount());
      await page.keyboard.press("?");
      const help = page.getByRole("dialog", { name: "Keyboard shortcuts" });
      await help.waitFor();
      for (const does of ["Search the whole project", "Auto-layout", "Select every node", "Undo", "Fit the whole graph in view", "Delete the selected"]) {
        expect(await help.textContent()).toContain(does);
      }
      await page.keyboard.press("Escape");
      await help.waitFor({ state: "detached" });
    });

    it("finds a character's field and opens the character's form", async () => {
      await page.keyboard.press("Control+f");
      const search = page.getByRole("dialog", { name: "Search the project" });
      // The last query is offered again, selected: typing replaces it.
      expect(await search.getByRole("searchbox").inputValue()).toBe("loud common");
      await page.keyboard.type("ironhand", { delay: 10 });
      const hit = search.getByRole("option").filter({ hasText: "Brom Ironhand" });
      await hit.waitFor();
      expect(await search.locator(".search-file").allTextContents()).toEqual(["characters/blacksmith.json"]);
      await hit.click();
      await page.locator(".character-form").waitFor();
      expect(session.consoleErrors).toEqual([]);
    });
  },
);

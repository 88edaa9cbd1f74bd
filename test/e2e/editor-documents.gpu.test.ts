/// <reference lib="dom" />
// End-to-end: renaming, duplicating and deleting project files from the editor's project browser, in
// Chromium with the real mouse and keyboard, on a temp copy of the village (the shared editor session):
//   - the guard's character renamed to "captain": the file moves, the guard's graph follows, the form shows it;
//   - the guard's graph duplicated as "guard-night" (with its layout), then deleted (with its layout);
//   - deleting "captain" is refused while a graph uses it, naming the graph; Cancel keeps it;
//   - the open graph renamed: it stays open under its new id and address;
//   - a malformed id is refused with the host's message and nothing moves;
// with no other errors in the browser console than the two refusals.

import { readFile } from "node:fs/promises";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Locator, Page } from "playwright-core";
import { CHROMIUM_SKIP_REASON, HAVE_CHROMIUM, openEditorSession, type EditorSession } from "../fixtures/editor-session.js";

const describeInBrowser = HAVE_CHROMIUM ? describe : describe.skip;

describeInBrowser(HAVE_CHROMIUM ? "project files in the editor's browser panel, in chromium" : `project files (skipped: ${CHROMIUM_SKIP_REASON})`, () => {
  let session: EditorSession;
  let page: Page;
  const file = (rel: string) => join(session.root, rel);
  const json = async (rel: string) => JSON.parse(await readFile(file(rel), "utf8")) as Record<string, unknown>;
  const row = (list: "characters" | "graphs", id: string): Locator =>
    page
      .getByTestId(list)
      .locator(".document")
      .filter({ has: page.locator(".document-id", { hasText: new RegExp(`^${id}$`) }) });
  const ids = async (list: "characters" | "graphs") => (await page.getByTestId(list).locator(".document-id").allTextContents()).sort();
  const actions = (list: "characters" | "graphs", id: string) => row(list, id).locator(".document-actions");

  beforeAll(async () => {
    session = await openEditorSession("parley-editor-documents-");
    page = session.page;
    await page.goto(session.host.url);
    await page.getByTestId("graphs").waitFor();
  });
  afterAll(async () => {
    await session?.close();
  });

  it("renames a character; the graph that uses it follows", async () => {
    await row("characters", "guard").getByRole("button").first().click();
    await actions("characters", "guard").getByRole("button", { name: "Rename" }).click();
    const field = actions("characters", "guard").getByRole("textbox");
    await field.fill("");
    await field.type("captain", { delay: 10 });
    await page.keyboard.press("Enter");
    await expect.poll(() => ids("characters")).toEqual(["blacksmith", "captain", "innkeeper"]);
    expect(existsSync(file("characters/guard.json"))).toBe(false);
    expect((await json("characters/captain.json")).id).toBe("captain");
    expect((await json("dialogue/guard.json")).character).toBe("captain");
    expect(page.url()).toContain("#character=captain");
    await expect.poll(() => row("characters", "captain").getAttribute("class")).toContain("selected");
  });

  it("refuses to delete a character a graph uses, naming the graph; Cancel keeps it", async () => {
    await actions("characters", "captain").getByRole("button", { name: "Delete" }).click();
    await actions("characters", "captain").getByRole("button", { name: "Delete", exact: true }).click();
    const warning = actions("characters", "captain").locator(".warning-text");
    await warning.waitFor();
    expect(await warning.textContent()).toContain("guard");
    await actions("characters", "captain").getByRole("button", { name: "Cancel" }).click();
    expect(existsSync(file("characters/captain.json"))).toBe(true);
  });

  it("duplicates a graph with its layout, then deletes the copy with its layout", async () => {
    await row("graphs", "guard").getByRole("button").first().click();
    await page.locator('.react-flow__node[data-id="halt"]').waitFor();
    // A move writes the layout file, so the copy has one to take along.
    const halt = (await page.locator('.react-flow__node[data-id="halt"]').boundingBox())!;
    await page.mouse.move(halt.x + halt.width / 2, halt.y + 10);
    await page.mouse.down();
    await page.mouse.move(halt.x + halt.width / 2 + 60, halt.y + 40, { steps: 5 });
    await page.mouse.up();
    await expect.poll(() => existsSync(file("dialogue/guard.layout.json"))).toBe(true);

    await actions("graphs", "guard").getByRole("button", { name: "Duplicate" }).click();
    const field = actions("graphs", "guard").getByRole("textbox");
    expect(await field.inputValue()).toBe("guard-copy");
    await field.fill("guard-night");
    await actions("graphs", "guard").getByRole("button", { name: "Duplicate", exact: true }).click();
    await expect.poll(() => ids("graphs")).toEqual(["blacksmith", "guard", "guard-night", "innkeeper"]);
    expect((await json("dialogue/guard-night.json")).id).toBe("guard-night");
    expect(existsSync(file("dialogue/guard-night.layout.json"))).toBe(true);

    await row("graphs", "guard-night").getByRole("button").first().click();
    await actions("graphs", "guard-night").getByRole("button", { name: "Delete" }).click();
    await actions("graphs", "guard-night").getByRole("button", { name: "Delete", exact: true }).click();
    await expect.poll(() => ids("graphs")).toEqual(["blacksmith", "guard", "innkeeper"]);
    expect(existsSync(file("dialogue/guard-night.json"))).toBe(false);
    expect(existsSync(file("dialogue/guard-night.layout.json"))).toBe(false);
    expect(await page.locator(".react-flow__node").count()).toBe(0);
  });

  it("renames the open graph, which stays open under its new id", async () => {
    await row("graphs", "blacksmith").getByRole("button").first().click();
    await page.locator('.react-flow__node[data-id="visit"]').first().waitFor();
    await actions("graphs", "blacksmith").getByRole("button", { name: "Rename" }).click();
    await actions("graphs", "blacksmith").getByRole("textbox").fill("smithy");
    await page.keyboard.press("Enter");
    await expect.poll(() => ids("graphs")).toEqual(["guard", "innkeeper", "smithy"]);
    expect(existsSync(file("dialogue/blacksmith.json"))).toBe(false);
    expect((await json("dialogue/smithy.json")).id).toBe("smithy");
    await expect.poll(() => page.url()).toContain("#graph=smithy");
    await expect.poll(() => page.locator(".react-flow__node").count()).toBeGreaterThan(3);
  });

  it("refuses a malformed id with the host's message, and nothing moves", async () => {
    await actions("graphs", "smithy").getByRole("button", { name: "Rename" }).click();
    await actions("graphs", "smithy").getByRole("textbox").fill("Bad Id!");
    // The field's pattern is only a hint; the host is the judge.
    await actions("graphs", "smithy").getByRole("button", { name: "Rename", exact: true }).click();
    const error = actions("graphs", "smithy").getByRole("alert");
    await error.waitFor();
    expect(await error.textContent()).toMatch(/id/i);
    expect(existsSync(file("dialogue/smithy.json"))).toBe(true);
    await actions("graphs", "smithy").getByRole("button", { name: "Cancel" }).click();
    // The browser logs the two refusals the page showed (409 for the character in use, 400 for the id), and
    // nothing else.
    expect(session.consoleErrors.filter((text) => !/status of (409|400)/.test(text))).toEqual([]);
    expect(session.consoleErrors.length).toBe(2);
  });
});

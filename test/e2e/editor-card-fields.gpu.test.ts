/// <reference lib="dom" />
// End-to-end: the character form's fields for what cards carry, in Chromium with the real keyboard and mouse,
// on a temp copy of the village: a village character (a file without the fields) opens with them empty; the
// writer types a scenario, a system prompt and post-history instructions, adds two alternate greetings and
// removes the first; each shows its token count; an empty alternate greeting is a problem under its field
// and is never written; the file on disk then has the fields, macros as typed.

import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { llama2Tokenizer } from "../../editor/host/character-tokens.js";
import { parseCharacter } from "../../plugin/character/validate.js";
import type { Character } from "../../plugin/types.js";
import { CHROMIUM_SKIP_REASON, HAVE_CHROMIUM, openEditorSession, type EditorSession } from "../fixtures/editor-session.js";

const describeInBrowser = HAVE_CHROMIUM ? describe : describe.skip;

describeInBrowser(HAVE_CHROMIUM ? "the card fields of the character form, in chromium" : `the card fields (skipped: ${CHROMIUM_SKIP_REASON})`, () => {
  let session: EditorSession;
  let page: Page;

  const form = (): Locator => page.locator(".character-form");
  const field = (label: string, scope: Locator = form()): Locator => scope.getByLabel(label, { exact: true });
  const greetingEntry = (index: number): Locator => form().locator('[data-field="alternateGreetings"] .character-entry').nth(index);
  const onDisk = async (): Promise<Character> => parseCharacter(JSON.parse(await readFile(join(session.root, "characters", "guard.json"), "utf8")));
  const saved = () => expect.poll(() => page.getByTestId("save-status").getAttribute("data-state"), { timeout: 10_000 }).toBe("saved");
  const type = async (target: Locator, text: string): Promise<void> => {
    await target.click();
    await page.keyboard.press("Control+a");
    await page.keyboard.type(text);
  };
  const tokens = (text: string): number => llama2Tokenizer().encode(text, { addBos: false }).length;

  beforeAll(async () => {
    session = await openEditorSession("parley-editor-card-fields-");
    page = session.page;
  });
  afterAll(async () => {
    await session?.close();
  });

  it("edits scenario, system prompt, post-history instructions and alternate greetings, with token counts", async () => {
    await page.goto(session.host.url);
    await page.locator('section[aria-labelledby="characters-heading"]').getByRole("button", { name: /guard/i }).click();
    await expect.poll(() => form().getAttribute("data-character")).toBe("guard");
    expect(await field("Scenario").inputValue()).toBe("");
    expect(await form().locator('[data-field="alternateGreetings"] .character-entry').count()).toBe(0);

    const scenario = "{{user}} reaches the north gate after curfew.";
    await type(field("Scenario"), scenario);
    await type(field("System prompt"), "Write only {{char}}'s words.");
    await type(field("Post-history instructions"), "Stay brief.");
    await expect
      .poll(() =>
        form()
          .locator("label", { hasText: /^Scenario/ })
          .textContent(),
      )
      .toContain(`${tokens(scenario)} tokens`);

    // Two greetings added; an empty one is a problem and nothing is written while it is there.
    const add = form().getByRole("button", { name: "Add greeting" });
    await add.click();
    await add.click();
    await expect.poll(() => greetingEntry(0).locator(".field-problems li.error").count()).toBeGreaterThan(0);
    await type(field("Alternate greeting", greetingEntry(0)), "Who goes there?");
    await type(field("Alternate greeting", greetingEntry(1)), "Papers, {{user}}.");
    await expect.poll(() => form().locator(".field-problems li.error").count()).toBe(0);
    await saved();
    expect((await onDisk()).alternateGreetings).toEqual(["Who goes there?", "Papers, {{user}}."]);

    // Remove the first.
    await greetingEntry(0).getByRole("button", { name: "Remove alternate greeting 1" }).click();
    await saved();
    const guard = await onDisk();
    expect(guard).toMatchObject({
      scenario,
      systemPrompt: "Write only {{char}}'s words.",
      postHistoryInstructions: "Stay brief.",
      alternateGreetings: ["Papers, {{user}}."],
    });
    await expect.poll(() => field("Alternate greeting", greetingEntry(0)).inputValue()).toBe("Papers, {{user}}.");
  });
});

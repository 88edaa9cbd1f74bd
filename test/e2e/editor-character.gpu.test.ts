/// <reference lib="dom" />
// End-to-end: the character form in Chromium with the real mouse and keyboard, on a temp copy of the
// village project (test/fixtures/editor-session.ts):
//   - creates a character from the project browser and fills its form (role, description, personality, a
//     lore entry); the empty lore entry's validation error appears under its field and in the save status,
//     nothing invalid reaches the disk, and typing its text fixes it; the autosave then writes a file the
//     plugin's parseCharacter reads with every field typed;
//   - sees token counts: the description's count is the Llama 2 tokenizer's for the typed text, and the
//     persona prefix is counted against the project's context size;
//   - undoes (Ctrl+Z) and redoes (Ctrl+Y) a form edit, on screen and on disk;
//   - imports a Card V2 PNG written byte by byte as SillyTavern lays it out, through the file chooser;
//   - exports it as PNG and JSON downloads (the PNG read back with an independent chunk walk);
//   - reloads the page and finds the character open again, and the first one as it was saved; opens a graph,
//     which takes the centre back;
// with no errors in the browser console.

import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Locator, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { llama2Tokenizer } from "../../editor/host/character-tokens.js";
import { parseCharacter } from "../../plugin/character/validate.js";
import type { Character } from "../../plugin/types.js";
import { cardV2Png, pngTexts, walkPng } from "../fixtures/card-png.js";
import { ARTIFACTS, CHROMIUM_SKIP_REASON, HAVE_CHROMIUM, openEditorSession, type EditorSession } from "../fixtures/editor-session.js";

const describeInBrowser = HAVE_CHROMIUM ? describe : describe.skip;

const CARD = {
  spec: "chara_card_v2",
  spec_version: "2.0",
  data: {
    name: "Seraphina Vale",
    description: "{{char}} tends the herb garden behind the chapel.",
    personality: "gentle, curious",
    scenario: "",
    first_mes: "Mind the sage, {{user}}.",
    mes_example: "<START>\n{{user}}: What grows here?\n{{char}}: Sage, rue and patience.",
    creator_notes: "",
    system_prompt: "",
    post_history_instructions: "",
    alternate_greetings: [],
    tags: [],
    creator: "",
    character_version: "",
    extensions: {},
    character_book: {
      extensions: {},
      entries: [{ keys: ["chapel"], content: "The chapel bell is cracked.", extensions: {}, enabled: true, insertion_order: 5 }],
    },
  },
};

describeInBrowser(HAVE_CHROMIUM ? "the character form, in chromium" : `the character form (skipped: ${CHROMIUM_SKIP_REASON})`, () => {
  let session: EditorSession;
  let page: Page;

  const form = (): Locator => page.locator(".character-form");
  const field = (label: string, scope: Locator = form()): Locator => scope.getByLabel(label, { exact: true });
  const entry = (list: string, index: number): Locator => form().locator(`[data-field="${list}"] .character-entry`).nth(index);
  const saveStatus = (): Locator => page.getByTestId("save-status");
  const onDisk = async (id: string): Promise<Character> => parseCharacter(JSON.parse(await readFile(join(session.root, "characters", `${id}.json`), "utf8")));
  /** Replaces a field's text by typing, as a writer would. */
  const retype = async (target: Locator, text: string): Promise<void> => {
    await target.click();
    await page.keyboard.press("Control+a");
    await page.keyboard.type(text);
  };
  const saved = () => expect.poll(() => saveStatus().getAttribute("data-state"), { timeout: 10_000 }).toBe("saved");

  beforeAll(async () => {
    session = await openEditorSession("parley-editor-character-");
    page = session.page;
  });
  afterAll(async () => {
    await session?.close();
  });

  it("creates and fills a character, shows problems and token counts, undoes, imports and exports cards, and keeps it all over a reload", async () => {
    await page.goto(session.host.url);
    await page.getByLabel("New character id").click();
    await page.keyboard.type("wren");
    await page.getByLabel("New character name").click();
    await page.keyboard.type("Wren Tallow");
    await page.getByRole("button", { name: "New character" }).click();
    await expect.poll(() => form().getAttribute("data-character")).toBe("wren");

    await retype(field("Role"), "lighthouse keeper");
    const description = "Wren keeps the lighthouse on the point and distrusts boats.";
    await retype(field("Description"), description);
    await retype(field("Personality"), "watchful\ndry");

    // An empty lore entry is a problem: shown under its field and in the status, never written.
    await form().getByRole("button", { name: "Add lore entry" }).click();
    const loreText = field("Text", entry("knowledge", 0));
    await expect.poll(() => entry("knowledge", 0).locator(".field-problems li.error").first().textContent()).toMatch(/empty|required/i);
    await expect.poll(() => saveStatus().textContent()).toBe("● Not saved: 1 problem");
    await page.waitForTimeout(1200); // past the autosave delay: nothing is written while it is invalid
    expect((await onDisk("wren")).knowledge).toEqual([]);
    await retype(loreText, "The lamp burns whale oil.");
    await expect.poll(() => entry("knowledge", 0).locator(".field-problems").count()).toBe(0);
    await field("Always in the prompt", entry("knowledge", 0)).click();
    await saved();
    const wren = await onDisk("wren");
    expect(wren).toMatchObject({ name: "Wren Tallow", role: "lighthouse keeper", description, personality: ["watchful", "dry"] });
    expect(wren.knowledge).toEqual([{ keywords: [], text: "The lamp burns whale oil.", always: true, priority: 0 }]);

    // Token counts: the real tokenizer's, per field and for the persona prefix against the context size.
    const expected = llama2Tokenizer().encode(description, { addBos: false }).length;
    await expect
      .poll(() =>
        form()
          .locator("label", { hasText: /^Description/ })
          .textContent(),
      )
      .toContain(`${expected} tokens`);
    await expect.poll(() => page.getByTestId("persona-tokens").textContent()).toMatch(/Persona prefix: \d+ of 2048 context tokens/);

    // Undo and redo the checkbox (focus in a form field, as a writer would have it).
    await loreText.click();
    await page.keyboard.press("Control+z");
    await expect.poll(() => field("Always in the prompt", entry("knowledge", 0)).isChecked()).toBe(false);
    await saved();
    expect((await onDisk("wren")).knowledge[0].always).toBe(false);
    await page.keyboard.press("Control+y");
    await expect.poll(() => field("Always in the prompt", entry("knowledge", 0)).isChecked()).toBe(true);
    await saved();
    expect((await onDisk("wren")).knowledge[0].always).toBe(true);
    await form().evaluate((element) => element.scrollTo(0, 0));
    await page.screenshot({ path: join(ARTIFACTS, "editor-character.png") });

    // Import a Card V2 PNG through the file chooser.
    const cardFile = join(session.root, "..", "seraphina.png");
    await writeFile(cardFile, cardV2Png(CARD));
    const chooser = page.waitForEvent("filechooser");
    await page.getByRole("button", { name: /Import card/ }).click();
    await (await chooser).setFiles(cardFile);
    await expect.poll(() => form().getAttribute("data-character")).toBe("seraphina-vale");
    await expect.poll(() => field("Name").inputValue()).toBe("Seraphina Vale");
    expect(await field("Text", entry("knowledge", 0)).inputValue()).toBe("The chapel bell is cracked.");
    expect((await onDisk("seraphina-vale")).greeting).toBe("Mind the sage, {{user}}."); // macros stay until prompt time

    // Export it as PNG and JSON downloads.
    const pngDownload = page.waitForEvent("download");
    await form().getByRole("button", { name: "PNG" }).click();
    const png = new Uint8Array(await readFile((await (await pngDownload).path())!));
    expect((await pngDownload).suggestedFilename()).toBe("seraphina-vale.card.png");
    expect(walkPng(png).every((c) => c.crcOk)).toBe(true);
    const exported = JSON.parse(Buffer.from(pngTexts(png).get("chara")!, "base64").toString("utf8")) as typeof CARD;
    expect(exported.data).toMatchObject({ name: "Seraphina Vale", first_mes: "Mind the sage, {{user}}." });
    const jsonDownload = page.waitForEvent("download");
    await form().getByRole("button", { name: "JSON", exact: true }).click();
    const json = JSON.parse(await readFile((await (await jsonDownload).path())!, "utf8")) as typeof CARD;
    expect(json.data.character_book.entries[0].content).toBe("The chapel bell is cracked.");

    // Reload: the open character comes back, and the first one is as it was saved.
    await page.reload();
    await expect.poll(() => field("Name").inputValue(), { timeout: 10_000 }).toBe("Seraphina Vale");
    await page.locator('[data-testid="characters"] button', { hasText: "wren" }).click();
    await expect.poll(() => field("Role").inputValue()).toBe("lighthouse keeper");
    expect(await field("Description").inputValue()).toBe(description);
    expect(await field("Always in the prompt", entry("knowledge", 0)).isChecked()).toBe(true);

    // A graph takes the centre back from the form.
    await page.locator('[data-testid="graphs"] button', { hasText: "guard" }).click();
    await expect.poll(() => page.locator(".react-flow__node").count(), { timeout: 10_000 }).toBeGreaterThan(0);
    expect(await form().count()).toBe(0);

    expect(session.consoleErrors).toEqual([]);
  });
});

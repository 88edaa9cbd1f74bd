/// <reference lib="dom" />
// End-to-end: the Playtest panel in Chromium with the real mouse and keyboard, on a copy of the village project,
// the model (Parley's demo model, the real runtime) running in the editor host in this process:
//   - opens Brom's graph and the Playtest panel, types a seed, starts: his generated greeting streams in (the
//     line is seen growing), and the prompt inspector counts its parts' tokens;
//   - types the player's words in the free-text box, takes a choice, sees the gold go from 50 to 20;
//   - saves the run as a transcript (on disk in playtests/) and replays it: every node as recorded;
// with no errors in the browser console. Screenshots: test-artifacts/editor-playtest.png and editor-playtest-replay.png.

import { existsSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { ARTIFACTS, CHROMIUM_SKIP_REASON, HAVE_CHROMIUM, openEditorSession, type EditorSession } from "../fixtures/editor-session.js";

const DEMO = join(resolve(fileURLToPath(new URL("../..", import.meta.url))), "samples", "demo-model", "parley-demo.gguf");
const describeInBrowser = HAVE_CHROMIUM ? describe : describe.skip;

describeInBrowser(
  HAVE_CHROMIUM ? "playtesting a graph in the editor, in chromium" : `playtesting a graph in the editor (skipped: ${CHROMIUM_SKIP_REASON})`,
  () => {
    let session: EditorSession;
    let page: Page;
    const savedModel = process.env.PARLEY_MODEL;

    beforeAll(async () => {
      // The editor host runs in this process: its playtest resolves the model from this environment.
      process.env.PARLEY_MODEL = DEMO;
      session = await openEditorSession("parley-editor-playtest-");
      page = session.page;
    });
    afterAll(async () => {
      await session?.close();
      if (savedModel === undefined) delete process.env.PARLEY_MODEL;
      else process.env.PARLEY_MODEL = savedModel;
    });

    it("plays Brom's graph: a streamed reply, free text, a choice, a variable change; saves and replays the run", async () => {
      await page.goto(session.host.url);
      await page.locator("[data-testid=graphs] button", { hasText: "blacksmith" }).click();
      await expect.poll(() => page.locator(".react-flow__node").count(), { timeout: 15_000 }).toBeGreaterThan(10);

      await page.getByRole("button", { name: "Playtest", exact: true }).click();
      const dock = page.locator(".playtest-dock");
      await dock.waitFor();
      await dock.getByLabel("Seed").click();
      await page.keyboard.type("7");
      // Every text the generated line shows, as the page renders it: a streamed line is seen growing.
      await page.evaluate(() => {
        const seen: string[] = [];
        (window as unknown as { seenTexts: string[] }).seenTexts = seen;
        new MutationObserver(() => {
          const text = document.querySelector(".playtest-line.generated .playtest-text")?.textContent;
          if (text !== undefined && seen.at(-1) !== text) seen.push(text);
        }).observe(document.body, { subtree: true, childList: true, characterData: true });
      });
      await dock.getByRole("button", { name: "Start" }).click();

      const input = dock.getByLabel("Player's words");
      await input.waitFor({ timeout: 90_000 });
      const greeting = dock.locator(".playtest-line.generated");
      expect(await greeting.count()).toBe(1);
      expect(await greeting.getAttribute("class")).not.toContain("streaming");
      const seen = (await page.evaluate(() => (window as unknown as { seenTexts: string[] }).seenTexts)).filter((t) => t.trim() !== "");
      expect(new Set(seen).size).toBeGreaterThan(1);
      expect(await dock.locator(".playtest-seed-shown").textContent()).toBe("seed 7");
      // The prompt inspector: the persona counted by the model's tokenizer, and the total.
      const persona = dock.locator(".playtest-parts tr", { hasText: "Persona" }).locator(".playtest-tokens");
      expect(Number(await persona.textContent())).toBeGreaterThan(50);
      expect(await dock.locator(".playtest-chart").count()).toBe(1);

      await input.click();
      await page.keyboard.type("I want to buy a sword.");
      await page.keyboard.press("Enter");
      await dock.getByRole("button", { name: "Buy the iron sword (30 gold)" }).click();
      await dock.locator(".playtest-ended", { hasText: "ended at done" }).waitFor({ timeout: 30_000 });
      const gold = dock.locator('tr[data-variable="player.gold"]');
      expect(await gold.locator("td").textContent()).toBe("20");
      expect(await gold.getAttribute("class")).toBe("changed");
      await page.screenshot({ path: join(ARTIFACTS, "editor-playtest.png") });

      await dock.getByLabel("Transcript name").click();
      await page.keyboard.type("brom-buys");
      await dock.getByRole("button", { name: "Save transcript" }).click();
      await dock.getByRole("button", { name: "Replay brom-buys" }).waitFor();
      expect(existsSync(join(session.root, "playtests", "brom-buys.transcript.json"))).toBe(true);

      await dock.getByRole("button", { name: "Replay brom-buys" }).click();
      await dock.locator(".playtest-verdict.same").waitFor({ timeout: 90_000 });
      await page.screenshot({ path: join(ARTIFACTS, "editor-playtest-replay.png") });
      const statuses = await dock.locator(".playtest-step").evaluateAll((els) => els.map((el) => (el as HTMLElement).dataset.status));
      expect(statuses).toHaveLength(11);
      expect(new Set(statuses)).toEqual(new Set(["same"]));

      expect(session.consoleErrors).toEqual([]);
    });
  },
);

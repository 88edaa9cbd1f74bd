/// <reference lib="dom" />
// Dev tool (not a test): the README's screenshot of the village, taken the way a player gets there. The real
// host (the village host (createVillageHost) on the Vulkan runtime; lavapipe on machines without a GPU) runs the bundled demo
// model in this process with a fixed seed and serves the built game over HTTP; Debian's chromium, driven by
// playwright-core with the e2e test's flags, loads the page, walks the player to Brom the blacksmith with
// W/A/S/D (as test/e2e/village.gpu.test.ts does), presses E, waits for his generated greeting, types a line,
// waits for his answer (or the choices it leads to), frames the camera on him and saves a 1280×720 PNG.
// The dialogue lines it saw are printed.
//
//   npx tsx test/e2e/readme-screenshot.ts                       demo model, seed 1, writes docs/village.png
//   npx tsx test/e2e/readme-screenshot.ts --model FILE          another GGUF model
//   npx tsx test/e2e/readme-screenshot.ts --out shot.png        another output file
//   … --seed N           the host's seed (conversation n uses seed + n)
//   … --line "TEXT"      what the player types (default "How much for a sword?")
//   … --quality Q        the page's render quality, high (default: shadows, antialiasing) or low
//
// Exits non-zero, writing nothing, when the model cannot generate (the host fell back to authored lines)
// or a step times out.

import { existsSync, mkdirSync, realpathSync } from "node:fs";
import { basename, dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import type { Browser, Page } from "playwright-core";
import type { ResolvedModel } from "../../runtime/models/index.js";
import type { VillageTestApi } from "../../samples/village/game/main.js";
import { VILLAGE_NPCS } from "../../samples/village/village-npcs.js";
import { CHROMIUM, CHROMIUM_ARGS } from "../fixtures/chromium.js";

const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const VIEWPORT = { width: 1280, height: 720 };
const BLACKSMITH = VILLAGE_NPCS.find((n) => n.id === "blacksmith")!;
/**
 * Camera poses tried for the picture, in order: the turn away from looking straight at Brom (negative
 * turns swing the view right, so he moves left on screen) and the pitch (up from behind the player). The
 * player's own figure stands in the middle of the picture, from `playerLeft` of its width rightwards.
 */
const FRAMING = {
  turns: [-0.75, -0.7, -0.8, -0.65, -0.85, -0.6, -0.9, -0.55, -1.0],
  pitches: [0.25, 0.15, 0.35],
  playerLeft: 0.41,
};

const USAGE = `usage: npx tsx test/e2e/readme-screenshot.ts [--model FILE] [--out FILE.png] [--seed N] [--line TEXT] [--quality high|low]`;

type GameWindow = Window & { __village: VillageTestApi };
type Xz = { x: number; z: number };

function log(message: string): void {
  console.error(`[screenshot] ${message}`);
}

function parseFlags() {
  const { values } = parseArgs({
    options: {
      model: { type: "string", default: join(repoRoot, "samples/demo-model/parley-demo.gguf") },
      out: { type: "string", default: join(repoRoot, "docs/village.png") },
      seed: { type: "string", default: "1" },
      line: { type: "string", default: "How much for a sword?" },
      quality: { type: "string", default: "high" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(seed)) throw new UsageError(`--seed must be an integer, got ${values.seed}`);
  if (values.quality !== "high" && values.quality !== "low") throw new UsageError(`--quality must be high or low, got ${values.quality}`);
  if (!values.out!.toLowerCase().endsWith(".png")) throw new UsageError(`--out must name a .png file, got ${values.out}`);
  const model = resolve(values.model!);
  if (!existsSync(model)) throw new UsageError(`no model file at ${model}`);
  if (values.line!.trim() === "") throw new UsageError("--line must not be blank");
  return { model, out: resolve(values.out!), seed, line: values.line!, quality: values.quality };
}

class UsageError extends Error {}

// ---------------------------------------------------------------------------------------------------
// In the page.

async function playerPosition(page: Page): Promise<Xz> {
  return page.evaluate(() => {
    const p = (window as unknown as GameWindow).__village.player.position();
    return { x: p.x, z: p.z };
  });
}

async function hold(page: Page, keys: string[], ms: number): Promise<void> {
  for (const k of keys) await page.keyboard.down(k);
  await page.waitForTimeout(ms);
  for (const k of [...keys].reverse()) await page.keyboard.up(k);
}

/** Waits until the game has drawn `count` more frames (so a camera move or a new line is on screen). */
async function frames(page: Page, count: number): Promise<void> {
  const start = await page.evaluate(() => (window as unknown as GameWindow).__village.frames());
  await page.waitForFunction(([f, n]) => (window as unknown as GameWindow).__village.frames() >= f + n, [start, count] as const, { timeout: 60_000 });
}

/**
 * Walks the player into talking distance of the blacksmith with W/A/S/D, as the e2e test does: the keys'
 * directions are measured first (hold W, see where the player went; the same for D), then each step holds
 * the keys that point at him, sidestepping when blocked. Teleports next to him as a last resort (said so).
 */
async function walkToBlacksmith(page: Page): Promise<void> {
  const target: Xz = { x: BLACKSMITH.position[0], z: BLACKSMITH.position[2] };
  const dist = (p: Xz) => Math.hypot(target.x - p.x, target.z - p.z);
  const promptUp = () => page.locator("#talk-prompt").isVisible();
  const measure = async (key: string): Promise<Xz> => {
    const a = await playerPosition(page);
    await hold(page, [key], 350);
    await page.waitForTimeout(80);
    const b = await playerPosition(page);
    return { x: b.x - a.x, z: b.z - a.z };
  };
  const norm = (v: Xz) => Math.hypot(v.x, v.z);
  const fwd = await measure("KeyW");
  const right = await measure("KeyD");
  if (norm(fwd) > 0.2 && norm(right) > 0.2) {
    const f = { x: fwd.x / norm(fwd), z: fwd.z / norm(fwd) };
    const r = { x: right.x / norm(right), z: right.z / norm(right) };
    const deadline = Date.now() + 90_000;
    let sidestep = 1;
    while (Date.now() < deadline) {
      const p = await playerPosition(page);
      const d = dist(p);
      if ((d < 2.8 && (await promptUp())) || d < 1.4) {
        log(`walked to the blacksmith: (${p.x.toFixed(1)}, ${p.z.toFixed(1)}), ${d.toFixed(1)} m from him`);
        return;
      }
      const to = { x: (target.x - p.x) / d, z: (target.z - p.z) / d };
      const along = to.x * f.x + to.z * f.z;
      const across = to.x * r.x + to.z * r.z;
      const keys: string[] = [];
      if (Math.abs(along) > 0.3) keys.push(along > 0 ? "KeyW" : "KeyS");
      if (Math.abs(across) > 0.3) keys.push(across > 0 ? "KeyD" : "KeyA");
      await hold(page, keys, Math.min(400, Math.max(60, d * 90)));
      const q = await playerPosition(page);
      if (d - dist(q) < 0.05 && d > 2.8) {
        await hold(page, [sidestep > 0 ? "KeyD" : "KeyA"], 400);
        sidestep = -sidestep;
      }
    }
  }
  log("WARNING: could not walk to the blacksmith; teleporting in front of him (last resort)");
  await page.evaluate(() => (window as unknown as GameWindow).__village.player.approach("blacksmith", 2.2));
  await frames(page, 2);
}

/** The status, the current line and the transcript as the page's dialogue store has them. */
async function dialogue(page: Page) {
  return page.evaluate(() => {
    const s = (window as unknown as GameWindow).__village.dialogue();
    return {
      status: s.status,
      line: s.line ? { complete: s.line.complete, source: s.line.source } : null,
      bubble: s.bubble,
      choices: s.choices.map((c) => c.text),
      transcript: s.transcript.map((l) => ({ speaker: l.speaker, text: l.text, source: l.source })),
      error: s.error ?? null,
    };
  });
}

/** Waits until the conversation rests: the player's turn (text box or choices) or its end, no line streaming. */
async function waitForTurn(page: Page, what: string, timeoutMs = 240_000): Promise<Awaited<ReturnType<typeof dialogue>>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const d = await dialogue(page);
    const resting = d.status === "waiting_input" || d.status === "waiting_choice" || d.status === "ended";
    if (resting && (d.line === null || d.line.complete)) return d;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what} (status ${d.status}, bubble "${d.bubble}")`);
    await page.waitForTimeout(200);
  }
}

/**
 * Puts the camera where the picture wants it. The player stays where the walk ended; the camera turns from
 * looking straight at Brom (which puts the player's own figure in front of him) until Brom stands left of
 * the player, wholly above the dialogue panel, with his bubble clear of the page's panels and nothing
 * between the camera and the player. The first pose that does is kept (else the last one tried).
 */
async function frameBlacksmith(page: Page): Promise<{ turn: number; pitch: number; clear: boolean }> {
  let chosen = { turn: 0, pitch: 0, clear: false };
  for (const pitch of FRAMING.pitches) {
    for (const turn of FRAMING.turns) {
      const ok = await page.evaluate(
        ({ turn, pitch }) => {
          const v = (window as unknown as GameWindow).__village;
          const n = v.npcs.find((x) => x.id === "blacksmith")!;
          const p = v.player.position();
          const looking = Math.atan2(-(n.position[0] - p.x), -(n.position[2] - p.z));
          return v.cameraCheck(p.x, p.z, looking + turn, pitch).blockedBy === null;
        },
        { turn, pitch },
      );
      await frames(page, 3);
      const clear =
        ok &&
        (await page.evaluate((playerLeft) => {
          const v = (window as unknown as GameWindow).__village;
          const n = v.npcs.find((x) => x.id === "blacksmith")!;
          const figure = n.figureRect();
          const bubble = n.bubbleRect();
          const home = n.bubbleHome();
          if (!figure || !bubble || !home) return false;
          // (No named helper functions in here: tsx's esbuild would wrap them in a __name() the page lacks.)
          const panel = document.getElementById("dialogue-panel")!.getBoundingClientRect();
          const margin = 8;
          const panels = ["overlay", "help", "dialogue-panel"]
            .map((id) => document.getElementById(id)?.getBoundingClientRect())
            .filter((b): b is DOMRect => b !== undefined && b.width > 0);
          return (
            figure.left >= margin &&
            figure.right <= playerLeft * window.innerWidth &&
            figure.bottom <= panel.top - margin &&
            // The bubble hangs where it belongs (not pushed aside by a panel) and meets none of them.
            Math.abs(bubble.left - home.left) < 1 &&
            Math.abs(bubble.top - home.top) < 1 &&
            bubble.top >= margin &&
            !panels.some((b) => bubble.left < b.right && b.left < bubble.right && bubble.top < b.bottom && b.top < bubble.bottom)
          );
        }, FRAMING.playerLeft));
      chosen = { turn, pitch, clear };
      if (clear) return chosen;
    }
  }
  return chosen;
}

// ---------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const flags = parseFlags();
  if (!existsSync(CHROMIUM)) throw new Error(`Debian's chromium is not installed (${CHROMIUM}); install it with: apt-get install -y chromium`);
  const { createVillageHost } = await import("../../samples/village/host/village-host.js");
  const { startHttpHost } = await import("../../plugin/host/http-host.js");
  const { buildVillage } = await import("../../samples/village/build.js");
  const { chromium } = await import("playwright-core");

  const { DEMO_MODEL_LABEL, DEMO_MODEL_PATH } = await import("../../samples/village/host/model-resolution.js");

  // The on-screen note names the model as a player sees it: the demo model by its label (as `npm start`
  // does when it falls back to it), another file by its name (not this machine's folders).
  const demo = realpathSync(flags.model) === realpathSync(DEMO_MODEL_PATH);
  const resolved: ResolvedModel = {
    path: flags.model,
    source: demo ? "demo" : "explicit",
    note: `model: ${demo ? DEMO_MODEL_LABEL : basename(flags.model)}`,
    synthetic: false,
    folder: dirname(flags.model),
  };
  const gameDir = await buildVillage();
  const service = await createVillageHost({ resolved, seed: flags.seed });
  let host: Awaited<ReturnType<typeof startHttpHost>> | undefined;
  let browser: Browser | undefined;
  try {
    log(`host: ${service.modelNote}`);
    if (!service.info().canGenerate) throw new Error(`the model cannot generate here (${service.modelNote}); no screenshot taken`);
    host = await startHttpHost(service, { port: 0, staticDir: gameDir });
    browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    const page = await browser.newPage({ viewport: VIEWPORT });
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(error.message));
    page.on("console", (m) => void (m.type() === "error" && errors.push(m.text())));
    await page.goto(`${host.url}&quality=${flags.quality}`);
    await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
    log(`page ready (${await page.evaluate(() => document.body.dataset.quality)} quality)`);

    await walkToBlacksmith(page);
    await page.locator("#talk-prompt").waitFor({ state: "visible", timeout: 15_000 });
    await page.keyboard.press("KeyE");
    await page.locator("#dialogue-panel").waitFor({ state: "visible", timeout: 15_000 });

    const greeted = await waitForTurn(page, "Brom's greeting");
    if (greeted.status !== "waiting_input")
      throw new Error(`expected Brom to ask what the player needs; the conversation is "${greeted.status}" (${greeted.error ?? "no error"})`);
    const input = page.locator("#player-input");
    await input.waitFor({ state: "visible" });
    await input.click();
    await page.keyboard.type(flags.line, { delay: 20 });
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => document.body.dataset.state !== "waiting_input", undefined, { timeout: 15_000 });
    const answered = await waitForTurn(page, "Brom's answer");

    // The whole model note (which model, on which device), as a click on it shows; the pointer off the choices.
    const note = page.locator("#model-note");
    if (!(await note.evaluate((el) => el.classList.contains("expanded")))) await note.click();
    await page.mouse.move(VIEWPORT.width - 40, VIEWPORT.height / 2);
    const pose = await frameBlacksmith(page);
    log(
      `camera: turn ${pose.turn}, pitch ${pose.pitch}${pose.clear ? "" : " (WARNING: no pose tried shows Brom and his bubble clear of the panels and the player)"}`,
    );
    if (answered.status === "ended") log("WARNING: the conversation ended before the picture (its panel may be closing)");

    mkdirSync(dirname(flags.out), { recursive: true });
    await page.screenshot({ path: flags.out, type: "png" });

    console.log(service.modelNote);
    for (const l of answered.transcript) {
      const who = l.speaker === "player" ? "You" : BLACKSMITH.name;
      console.log(`${who}: ${l.text}${l.source === "player" ? "" : ` (${l.source})`}`);
    }
    if (answered.status === "waiting_choice") for (const [i, c] of answered.choices.entries()) console.log(`  ${i + 1}. ${c}`);
    if (answered.transcript.some((l) => l.source === "fallback")) log("WARNING: a line fell back to its authored text (see above)");
    if (errors.length > 0) log(`page errors: ${errors.join(" | ")}`);
    console.log(`wrote ${relative(process.cwd(), flags.out) || flags.out} (${VIEWPORT.width}×${VIEWPORT.height})`);
    await page.close();
  } finally {
    await browser?.close().catch(() => undefined);
    await host?.close().catch(() => undefined);
    await service.dispose();
  }
}

main().catch((error: unknown) => {
  if (error instanceof UsageError || (error instanceof TypeError && (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"))) {
    console.error(`readme-screenshot: ${error.message}\n${USAGE}`);
    process.exit(2);
  }
  console.error("readme-screenshot:", error instanceof Error ? error.message : error);
  process.exit(1);
});

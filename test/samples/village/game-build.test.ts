// The village game's build: buildVillage() bundles the browser game (three.js, rapier with its inline WASM,
// Parley's plugin) into one ES module next to index.html, and skips the work when nothing changed.

import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BUNDLE_FILE, VILLAGE_PAGE, buildVillage } from "../../../samples/village/build.js";

const PAGE_IDS = ["game-canvas", "overlay", "model-note", "talk-prompt", "dialogue-panel", "dialogue-log", "player-input", "player-send", "dialogue-end"];

describe("buildVillage", () => {
  let dir: string;
  let outDir: string;
  let bundle: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "parley-village-build-"));
    outDir = await buildVillage({ outDir: join(dir, "village") });
    bundle = readFileSync(join(outDir, BUNDLE_FILE), "utf8");
  });

  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("writes index.html, the bundle and its source map into the folder it returns", () => {
    expect(outDir).toBe(join(dir, "village"));
    expect(readFileSync(join(outDir, "index.html"), "utf8")).toBe(readFileSync(VILLAGE_PAGE, "utf8"));
    expect(existsSync(join(outDir, `${BUNDLE_FILE}.map`))).toBe(true);
    expect(bundle).toMatch(/\/\/# sourceMappingURL=main\.js\.map\s*$/);
  });

  it("bundles three.js, rapier with its WASM inline, and the plugin: no imports left", () => {
    expect(bundle).toContain("// node_modules/three/build/three.core.js");
    expect(bundle).toMatch(/REVISION = "187"/);
    expect(bundle).toContain("// node_modules/@dimforge/rapier3d-compat/dist/rapier.mjs");
    expect(bundle).toContain("AGFzbQ"); // base64 of "\0asm": the WASM module rapier's compat build embeds
    expect(bundle).toContain("// plugin/three/npc-actor.ts");
    expect(bundle).toContain("// plugin/store.ts");
    expect(bundle).toContain("// plugin/host/client.ts");
    expect(bundle).not.toMatch(/^\s*import\s[^(]/m);
    expect(bundle).not.toMatch(/\bfrom\s*["']node:/);
    expect(bundle).not.toMatch(/\brequire\(\s*["'](?:fs|path|node:)/);
  });

  it("is valid JavaScript (node --check parses it as a module)", () => {
    const copy = join(dir, "check.mjs");
    copyFileSync(join(outDir, BUNDLE_FILE), copy);
    expect(() => execFileSync(process.execPath, ["--check", copy], { stdio: "pipe" })).not.toThrow();
  });

  it("rebuilds only when a source is newer than the bundle", async () => {
    const path = join(outDir, BUNDLE_FILE);
    const built = statSync(path).mtimeMs;
    await new Promise((r) => setTimeout(r, 20));
    await buildVillage({ outDir });
    expect(statSync(path).mtimeMs).toBe(built);

    // Make the bundle older than every source: the next call bundles again.
    utimesSync(path, new Date(1_000_000), new Date(1_000_000));
    await buildVillage({ outDir });
    expect(statSync(path).mtimeMs).toBeGreaterThan(1_000_000 * 1000);
    expect(readFileSync(path, "utf8")).toBe(bundle);
  });

  it("the page has the elements the game and the end-to-end test use", () => {
    const html = readFileSync(join(outDir, "index.html"), "utf8");
    for (const id of PAGE_IDS) expect(html, `#${id}`).toContain(`id="${id}"`);
    expect(html).toMatch(/<script type="module" src="\.\/main\.js"><\/script>/);
    expect(html).toContain(".choice-button");
    // Choice buttons are made by the game: the bundle carries the class name and the state hooks.
    expect(bundle).toContain('"choice-button"');
    expect(bundle).toContain("dataset.state");
    expect(bundle).toContain('dataset.ready = "true"');
    expect(bundle).toContain("__village");
  });
});

/// <reference lib="dom" />
// The editor in its Electron shell, when Electron's binary (an optional dependency) and a display (DISPLAY,
// or Xvfb to start one) exist; otherwise the test is reported as skipped with the reason. The editor host
// runs in this process on a copy of the village project; Electron shows its page as `npm run editor` does
// (electron-shell.ts), driven by playwright-core: the project opens, the page has no Node, the Models panel
// opens, navigation away and new windows are refused, and the page logs no console errors.
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync } from "node:fs";
import { cp, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { ElectronApplication } from "playwright-core";
import { afterAll, describe, expect, it } from "vitest";
import type { EditorHost } from "../../editor/host/editor-api.js";
import { findElectron } from "../../runtime/host/electron/find-electron.js";

const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));
const electron = findElectron();
const xvfb = spawnSync("sh", ["-c", "command -v Xvfb"], { encoding: "utf8" }).stdout.trim() || null;
const skip = !electron.found
  ? electron.reason
  : !process.env.DISPLAY && xvfb === null
    ? "no display: DISPLAY is unset and Xvfb is not installed (apt-get install xvfb)"
    : null;

describe("the editor in Electron", () => {
  if (skip !== null) {
    console.warn(`[e2e] SKIPPED the editor's Electron shell: ${skip}`);
    it.skip(`opens the editor in Electron — skipped: ${skip}`, () => {});
    return;
  }

  let xvfbProcess: ChildProcess | undefined;
  let app: ElectronApplication | undefined;
  let host: EditorHost | undefined;
  let scratch: string | undefined;
  afterAll(async () => {
    await app?.close().catch(() => undefined);
    await host?.close();
    xvfbProcess?.kill();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it("opens the project in a hardened window and the Models panel works", async () => {
    if (!electron.found) return;
    let display = process.env.DISPLAY;
    if (!display) {
      display = `:${110 + (process.pid % 100)}`;
      xvfbProcess = spawn(xvfb!, [display, "-screen", "0", "1440x900x24", "-nolisten", "tcp"], { stdio: "ignore" });
      const socket = `/tmp/.X11-unix/X${display.slice(1)}`;
      for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100));
      expect(existsSync(socket), `Xvfb started on ${display}`).toBe(true);
    }
    scratch = await mkdtemp(join(tmpdir(), "parley-editor-electron-"));
    const root = join(scratch, "village");
    for (const entry of ["parley.project.json", "characters", "dialogue"])
      await cp(join(repoRoot, "samples/village", entry), join(root, entry), { recursive: true });
    // Imported here, so that a skipped run loads nothing it does not use.
    const { startEditorHost } = await import("../../editor/host/editor-api.js");
    const { bundleEditorShell, editorElectronArgs, editorElectronEnv } = await import("../../editor/host/electron-shell.js");
    const { ProjectFolder } = await import("../../editor/project/index.js");
    const { buildEditorUi } = await import("../../editor/ui/build.js");
    const [main] = await Promise.all([bundleEditorShell(), buildEditorUi()]);
    host = await startEditorHost(await ProjectFolder.open(root));
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(editorElectronEnv({ ...process.env, DISPLAY: display }, host.url))) if (v !== undefined) env[k] = v;
    const { _electron } = await import("playwright-core");
    app = await _electron.launch({
      executablePath: electron.path,
      args: editorElectronArgs(main, { noSandbox: process.getuid?.() === 0 }),
      env,
      timeout: 120_000,
    });
    const page = await app.firstWindow();
    const consoleErrors: string[] = [];
    page.on("console", (m) => void (m.type() === "error" && consoleErrors.push(m.text())));
    page.on("pageerror", (e) => void consoleErrors.push(`uncaught: ${e.message}`));

    await expect.poll(() => page.locator(".topbar h1").textContent(), { timeout: 30_000 }).toContain("Ashford village");
    expect(
      await page.evaluate(() => [typeof (window as unknown as { require?: unknown }).require, typeof (window as unknown as { process?: unknown }).process]),
    ).toEqual(["undefined", "undefined"]);

    await page.getByRole("button", { name: "Models", exact: true }).click();
    await expect.poll(() => page.getByRole("dialog", { name: "Models" }).count()).toBe(1);
    await page.keyboard.press("Escape");

    // No new windows, no navigation away from the host.
    expect(await page.evaluate(() => window.open("https://example.com/") === null)).toBe(true);
    await page.evaluate(() => void (location.href = "https://example.com/"));
    await new Promise((r) => setTimeout(r, 500));
    expect(new URL(page.url()).origin).toBe(host.origin);
    expect(app.windows()).toHaveLength(1);
    expect(consoleErrors).toEqual([]);
  }, 300_000);
});

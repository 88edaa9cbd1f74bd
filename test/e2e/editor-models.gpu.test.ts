/// <reference lib="dom" />
// End-to-end: the editor's Models panel in Debian's chromium (the shared editor session: the host in this
// process on a copy of the village project). The page is served with the Electron shell's strict
// Content-Security-Policy (runtime/host/electron/hardening.ts), so a page the CSP would break shows up here
// as console errors. The panel lists the models folder's installed model, downloads a catalogue model from a
// loopback server that sends it slowly (the progress bar moves), shows it verified, and makes it the
// project's playtest model (written to parley.project.json). Screenshot: test-artifacts/editor-models.png.
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LOOPBACK_PAGE_CSP } from "../../runtime/host/electron/hardening.js";
import { ARTIFACTS, CHROMIUM_SKIP_REASON, HAVE_CHROMIUM, openEditorSession, type EditorSession } from "../fixtures/editor-session.js";

const CHUNK = 64 * 1024;
const CHUNKS = 24;
const BODY = Buffer.from(Array.from({ length: CHUNK * CHUNKS }, (_, i) => (i * 2246822519) >>> 24));

const describeInBrowser = HAVE_CHROMIUM ? describe : describe.skip;

describeInBrowser(HAVE_CHROMIUM ? "the editor's Models panel in chromium" : `the editor's Models panel (skipped: ${CHROMIUM_SKIP_REASON})`, () => {
  let scratch: string;
  let models: string;
  let server: Server;
  let session: EditorSession;
  const savedEnv = { PARLEY_MODELS: process.env.PARLEY_MODELS, PARLEY_CATALOGUE: process.env.PARLEY_CATALOGUE };

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), "parley-models-e2e-"));
    models = join(scratch, "models");
    await mkdir(models);
    await writeFile(join(models, "local-chat.gguf"), "GGUF local");
    // A model host that sends the file in chunks with pauses: about 1.5 s, so the progress is seen moving.
    server = createServer((_req, res) => {
      res.writeHead(200, { "content-length": BODY.length, "content-type": "application/octet-stream" });
      let sent = 0;
      const next = (): void => {
        if (sent >= CHUNKS) return void res.end();
        res.write(BODY.subarray(sent * CHUNK, (sent + 1) * CHUNK));
        sent++;
        setTimeout(next, 60);
      };
      next();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const catalogue = join(scratch, "catalogue.json");
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/test-model.gguf`;
    const sha256 = createHash("sha256").update(BODY).digest("hex");
    await writeFile(
      catalogue,
      JSON.stringify([{ id: "test-model", name: "Test model", url, sizeBytes: BODY.length, sha256, description: "A loopback test file." }]),
    );
    // The model routes read the environment at each request (as `parley model` does).
    process.env.PARLEY_MODELS = models;
    process.env.PARLEY_CATALOGUE = catalogue;
    session = await openEditorSession("parley-editor-models-");
    // The page as the Electron shell serves it: the strict CSP on the document.
    await session.page.route(
      (u) => u.pathname === "/",
      async (route) => {
        const response = await route.fetch();
        await route.fulfill({ response, headers: { ...response.headers(), "content-security-policy": LOOPBACK_PAGE_CSP } });
      },
    );
  });

  afterAll(async () => {
    await session?.close();
    await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
    for (const [key, value] of Object.entries(savedEnv)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
    await rm(scratch, { recursive: true, force: true });
  });

  it("lists the installed model, downloads one with progress and makes it the playtest model", async () => {
    const { page, host, root, consoleErrors } = session;
    const document = await page.goto(host.url);
    expect(document?.headers()["content-security-policy"]).toBe(LOOPBACK_PAGE_CSP);
    // The graph canvas (React Flow, ELK) works under the CSP.
    await page.locator("[data-testid=graphs] button", { hasText: "blacksmith" }).click();
    await expect.poll(() => page.locator(".react-flow__node").count(), { timeout: 15_000 }).toBeGreaterThan(5);

    await page.getByRole("button", { name: "Models", exact: true }).click();
    const panel = page.getByRole("dialog", { name: "Models" });
    const installed = panel.getByRole("region", { name: "Installed models" });
    await expect.poll(() => installed.locator("tr[data-model-file]").allTextContents()).toEqual([expect.stringContaining("local-chat.gguf")]);
    await expect.poll(() => panel.getByTestId("model-resolution").textContent()).toContain(join(models, "local-chat.gguf"));

    const row = panel.locator("tr[data-model-id=test-model]");
    await row.getByRole("button", { name: "Download" }).click();
    const progress = row.getByRole("progressbar", { name: "Downloading test-model" });
    const seen = new Set<number>();
    await expect
      .poll(
        async () => {
          const value = await progress.getAttribute("value", { timeout: 200 }).catch(() => null);
          if (value !== null && Number(value) > 0 && Number(value) < 100) seen.add(Number(value));
          return seen.size;
        },
        { timeout: 10_000, interval: 50 },
      )
      .toBeGreaterThanOrEqual(2);
    await expect.poll(() => row.locator(".models-status").textContent(), { timeout: 15_000 }).toContain("verified");
    await expect.poll(() => installed.locator("tr[data-model-file]").count()).toBe(2);

    await installed.locator("tr[data-model-file='test-model.gguf']").getByRole("button", { name: "Use for playtests" }).click();
    await expect.poll(() => panel.getByTestId("model-resolution").textContent()).toContain(join(models, "test-model.gguf"));
    expect(JSON.parse(await readFile(join(root, "parley.project.json"), "utf8")).defaultModel).toBe("test-model");
    await page.screenshot({ path: join(ARTIFACTS, "editor-models.png") });

    await page.keyboard.press("Escape");
    await expect.poll(() => panel.count()).toBe(0);
    expect(consoleErrors, "the page logged no console errors (CSP violations included)").toEqual([]);
  });
});

// The editor host's Models routes against a real local HTTP server (serveTestModel): listing the models
// folder and the catalogue, a download streamed on the event stream with its progress, a second download
// refused while one runs, cancel (the .part kept), a failed download, verify, remove, file names confined to
// the models folder, and the project's default model written to parley.project.json and resolved.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { cp, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startEditorHost, type EditorHost } from "../../editor/host/editor-api.js";
import type { DownloadState } from "../../editor/host/model-downloads.js";
import type { ModelsListing } from "../../editor/host/model-routes.js";
import { ProjectFolder } from "../../editor/project/index.js";
import { serveTestModel, type TestModelHost } from "../fixtures/offer-catalogue.js";

const repoRoot = resolve(fileURLToPath(new URL("../..", import.meta.url)));
// 2 MiB of varied bytes: the transfer arrives in many chunks, so progress is reported while it runs.
const BODY = Buffer.from(Array.from({ length: 2 * 1024 * 1024 }, (_, i) => (i * 2654435761) >>> 24));
const SHA = createHash("sha256").update(BODY).digest("hex");

let scratch: string;
let models: string;
let projectRoot: string;
let server: TestModelHost;
let host: EditorHost;

async function call<T>(method: "GET" | "POST", path: string, body?: object): Promise<{ status: number; json: T }> {
  const url = new URL(path, host.origin);
  if (method === "GET") url.searchParams.set("token", host.token);
  const res = await fetch(
    url,
    method === "GET" ? {} : { method, headers: { "x-parley-token": host.token, "content-type": "application/json" }, body: JSON.stringify(body ?? {}) },
  );
  return { status: res.status, json: (await res.json()) as T };
}

/** Reads the download events of `id` from the host's stream until `until` is true of one. */
async function downloadEvents(id: string, until: (d: DownloadState) => boolean, start: () => Promise<unknown>): Promise<DownloadState[]> {
  const controller = new AbortController();
  const res = await fetch(`${host.origin}/api/models/events?token=${host.token}`, { signal: controller.signal });
  const reader = res.body!.pipeThrough(new TextDecoderStream()).getReader();
  const seen: DownloadState[] = [];
  let buffer = "";
  await start();
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) throw new Error("the event stream ended");
      buffer += value;
      let end: number;
      while ((end = buffer.indexOf("\n\n")) >= 0) {
        const frame = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const data = frame.split("\n").find((l) => l.startsWith("data: "));
        if (!data) continue;
        const event = JSON.parse(data.slice(6)) as { type: string; download: DownloadState };
        if (event.type !== "download" || event.download.id !== id) continue;
        seen.push(event.download);
        if (until(event.download)) return seen;
      }
    }
  } finally {
    controller.abort();
  }
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "parley-model-routes-"));
  models = join(scratch, "models");
  projectRoot = join(scratch, "village");
  await mkdir(models);
  for (const entry of ["parley.project.json", "characters", "dialogue"])
    await cp(join(repoRoot, "samples/village", entry), join(projectRoot, entry), { recursive: true });
  await writeFile(join(models, "local-chat.gguf"), "GGUF local");
  server = await serveTestModel(BODY);
  const catalogue = join(scratch, "catalogue.json");
  const entry = (id: string, path: string) => ({ id, name: id, url: `${server.base}${path}`, file: `${id}.gguf`, sizeBytes: BODY.length, sha256: SHA });
  await writeFile(catalogue, JSON.stringify([entry("test-model", "/model.gguf"), entry("slow-model", "/slow.gguf"), entry("gone-model", "/missing.gguf")]));
  const env = { PARLEY_MODELS: models, PARLEY_CATALOGUE: catalogue };
  host = await startEditorHost(await ProjectFolder.open(projectRoot), { debounceMs: 50, models: { env: () => env, progressIntervalMs: 0 } });
});

afterAll(async () => {
  await host?.close();
  await server?.close();
  await rm(scratch, { recursive: true, force: true });
});

describe("Models routes", () => {
  it("lists the installed models, the catalogue and which model the playtest resolves to", async () => {
    const { status, json } = await call<ModelsListing>("GET", "/api/models");
    expect(status).toBe(200);
    expect(json.folder).toBe(models);
    expect(json.installed).toEqual([expect.objectContaining({ file: "local-chat.gguf", id: null, status: "uncatalogued" })]);
    expect(json.catalogue.find((e) => e.id === "test-model")).toMatchObject({ status: "not-installed", sizeBytes: BODY.length });
    expect(json.defaultModel).toBeNull();
    // No default model: the runtime's order, and the models folder has one.
    expect(json.resolution).toMatchObject({ path: join(models, "local-chat.gguf"), source: "folder" });
  });

  it("downloads a catalogue model in the host, streaming its progress, and lists it verified", async () => {
    const events = await downloadEvents(
      "test-model",
      (d) => d.phase !== "running",
      async () => {
        const started = await call<{ download: DownloadState }>("POST", "/api/models/download", { id: "test-model" });
        expect(started.status).toBe(200);
        expect(started.json.download).toMatchObject({ id: "test-model", phase: "running" });
      },
    );
    const last = events.at(-1)!;
    expect(last).toMatchObject({ phase: "done", receivedBytes: BODY.length, sha256: SHA, path: join(models, "test-model.gguf") });
    const progress = events.filter((e) => e.phase === "running" && e.receivedBytes > 0 && e.receivedBytes < BODY.length);
    expect(progress.length).toBeGreaterThan(0);
    expect(progress.every((e) => e.totalBytes === BODY.length)).toBe(true);
    expect(
      createHash("sha256")
        .update(readFileSync(join(models, "test-model.gguf")))
        .digest("hex"),
    ).toBe(SHA);
    const { json } = await call<ModelsListing>("GET", "/api/models");
    expect(json.catalogue.find((e) => e.id === "test-model")).toMatchObject({ status: "verified", installedBytes: BODY.length });
    expect(json.downloads).toContainEqual(expect.objectContaining({ id: "test-model", phase: "done" }));
  });

  it("refuses a second download of a model while one runs, cancels it and keeps the .part", async () => {
    const held = new Promise<void>((r) => (server.onHeld = r));
    expect((await call("POST", "/api/models/download", { id: "slow-model" })).status).toBe(200);
    await held;
    const again = await call<{ error: { code: string } }>("POST", "/api/models/download", { id: "slow-model" });
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe("DOWNLOAD_RUNNING");
    expect((await call<{ error: { code: string } }>("POST", "/api/models/remove", { file: "slow-model.gguf" })).status).toBe(409);
    expect((await call<{ cancelled: boolean }>("POST", "/api/models/cancel", { id: "slow-model" })).json.cancelled).toBe(true);
    const { json } = await call<ModelsListing>("GET", "/api/models");
    expect(json.downloads.find((d) => d.id === "slow-model")).toMatchObject({ phase: "cancelled" });
    expect(json.catalogue.find((e) => e.id === "slow-model")).toMatchObject({ status: "partial", partialBytes: 1024 });
  });

  it("reports a download the server refuses as failed, with the model manager's message", async () => {
    const events = await downloadEvents(
      "gone-model",
      (d) => d.phase !== "running",
      () => call("POST", "/api/models/download", { id: "gone-model" }),
    );
    expect(events.at(-1)).toMatchObject({ phase: "failed", error: expect.stringContaining("HTTP 404") });
    expect((await call("POST", "/api/models/download", { id: "no-such-model" })).status).toBe(400);
  });

  it("verifies and removes models by file name, and nothing outside the models folder", async () => {
    const verified = await call<{ status: string; sha256: string }>("POST", "/api/models/verify", { file: "test-model.gguf" });
    expect(verified.json).toMatchObject({ status: "ok", sha256: SHA });
    for (const file of ["../village/parley.project.json", "/etc/passwd", "x.txt", ".."]) {
      const refused = await call<{ error: { code: string } }>("POST", "/api/models/remove", { file });
      expect(refused.status, file).toBe(400);
    }
    expect((await call("POST", "/api/models/verify", { file: "absent.gguf" })).status).toBeGreaterThanOrEqual(400);
    const removed = await call<{ removed: string[] }>("POST", "/api/models/remove", { file: "slow-model.gguf" });
    expect(removed.json.removed).toEqual([join(models, "slow-model.gguf.part")]);
    expect((await call("POST", "/api/models/remove", { file: "slow-model.gguf" })).status).toBe(404);
  });

  it("sets the project's default model in parley.project.json and resolves it", async () => {
    const manifestPath = join(projectRoot, "parley.project.json");
    const set = await call<{ defaultModel: string; resolution: ModelsListing["resolution"] }>("POST", "/api/models/default", { model: "test-model" });
    expect(set.status).toBe(200);
    expect(set.json.resolution).toMatchObject({ path: join(models, "test-model.gguf"), source: "explicit" });
    expect(JSON.parse(readFileSync(manifestPath, "utf8"))).toMatchObject({ defaultModel: "test-model" });
    // The editor's own write is not a change on disk for the reload banner.
    expect((await call<{ changes: unknown[] }>("GET", "/api/changes")).json.changes).toEqual([]);

    await call("POST", "/api/models/remove", { file: "test-model.gguf" });
    const missing = await call<ModelsListing>("GET", "/api/models");
    expect(missing.json.resolution).toMatchObject({ path: null, downloadable: "test-model", error: expect.stringContaining("test-model.gguf") });

    expect((await call("POST", "/api/models/default", { model: "" })).status).toBe(400);
    const cleared = await call<{ defaultModel: null }>("POST", "/api/models/default", { model: null });
    expect(cleared.json.defaultModel).toBeNull();
    expect(JSON.parse(readFileSync(manifestPath, "utf8")).defaultModel).toBeNull();
    expect(existsSync(join(models, "test-model.gguf"))).toBe(false);
  });
});

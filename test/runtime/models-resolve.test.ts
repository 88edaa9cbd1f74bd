// Default model resolution (resolveModel: explicit → PARLEY_MODEL → models folder → demo model → synthetic
// stand-in) and the download offer (offerModelDownload) as `parley-npc/runtime` exports them, the offer against a
// local HTTP server (127.0.0.1, started here): offline, PARLEY_OFFLINE=1, non-interactive, declined,
// accepted with progress, aborted.
import { existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DEFAULT_OFFER,
  FileAccessError,
  offerModelDownload,
  ParleyError,
  resolveModel,
  shouldOfferDownload,
  SYNTHETIC_MODEL_NAME,
  type DownloadProgress,
} from "../../runtime/index.js";
import { serveTestModel, writeOfferCatalogue, type TestModelHost } from "../fixtures/offer-catalogue.js";

const scratch = mkdtempSync(join(tmpdir(), "parley-resolve-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const touch = (path: string): string => {
  writeFileSync(path, "GGUF");
  return path;
};
const newFolder = (name: string): string => {
  const folder = join(scratch, name);
  mkdirSync(folder, { recursive: true });
  return folder;
};

describe("resolveModel", () => {
  it("takes the explicit model first, then PARLEY_MODEL, then the models folder, then the demo model", async () => {
    const folder = newFolder("order");
    const explicit = touch(join(scratch, "explicit.gguf"));
    const fromEnv = touch(join(scratch, "env.gguf"));
    const demo = touch(join(scratch, "demo.gguf"));
    const env = { PARLEY_MODEL: fromEnv, PARLEY_MODELS: folder };

    const a = await resolveModel({ model: explicit, env, demoModel: demo });
    expect(a).toEqual({ path: explicit, source: "explicit", synthetic: false, folder, note: `model: ${explicit} (--model)` });

    const b = await resolveModel({ env, demoModel: demo });
    expect(b).toMatchObject({ path: fromEnv, source: "env", synthetic: false, folder });
    expect(b.note).toBe(`model: ${fromEnv} (PARLEY_MODEL)`);

    const demoFirst = await resolveModel({ env: { PARLEY_MODELS: folder }, demoModel: demo });
    expect(demoFirst).toMatchObject({ path: demo, source: "demo", synthetic: false });
    expect(demoFirst.note).toContain(`demo model ${demo}`);
    expect(demoFirst.note).toContain(folder); // where to put a real model

    const inFolder = touch(join(folder, "a-model.gguf"));
    const c = await resolveModel({ env: { PARLEY_MODELS: folder }, demoModel: demo });
    expect(c).toMatchObject({ path: inFolder, source: "folder", synthetic: false });
    expect(c.note).toBe(`model: ${inFolder} (from ${folder})`);
    expect(shouldOfferDownload(c)).toBe(false);
    expect(shouldOfferDownload(demoFirst)).toBe(true);
  });

  it("prefers chat models in the folder, sorted by name, and never picks the synthetic stand-in", async () => {
    const folder = newFolder("pick");
    touch(join(folder, "aaa-base.gguf"));
    touch(join(folder, SYNTHETIC_MODEL_NAME));
    touch(join(folder, "zz-chat.Q4_0.gguf"));
    const chat = touch(join(folder, "tinyllama-chat.Q4_0.gguf"));
    writeFileSync(join(folder, "notes.txt"), "not a model");
    mkdirSync(join(folder, "a-folder.gguf"));
    expect((await resolveModel({ env: { PARLEY_MODELS: folder } })).path).toBe(chat);
    rmSync(join(folder, "zz-chat.Q4_0.gguf"));
    rmSync(chat);
    expect((await resolveModel({ env: { PARLEY_MODELS: folder } })).path).toBe(join(folder, "aaa-base.gguf"));
  });

  it("names the demo model with the caller's label, and skips a demo model that is not there", async () => {
    const folder = newFolder("demo-label");
    const demo = touch(join(scratch, "label-demo.gguf"));
    const r = await resolveModel({ env: { PARLEY_MODELS: folder }, demoModel: demo, demoLabel: "the game's tiny demo model" });
    expect(r.note).toMatch(/^model: the game's tiny demo model — for real conversations, .*TinyLlama/);
    const missing = await resolveModel({ env: { PARLEY_MODELS: folder }, demoModel: join(scratch, "no-demo.gguf") });
    expect(missing.source).toBe("synthetic");
  });

  it("writes a synthetic model once into the models folder when there is nothing else", async () => {
    const folder = join(scratch, "empty"); // does not exist yet
    const first = await resolveModel({ env: { PARLEY_MODELS: folder }, demoModel: null });
    expect(first).toMatchObject({ path: join(folder, SYNTHETIC_MODEL_NAME), source: "synthetic", synthetic: true, folder });
    expect(first.note).toMatch(/^model: synthetic tiny Q4_0 with random weights/);
    expect(first.note).toMatch(/TinyLlama/);
    expect(first.note).toContain(folder);
    expect(shouldOfferDownload(first)).toBe(true);
    const written = statSync(first.path).mtimeMs;
    const second = await resolveModel({ env: { PARLEY_MODELS: folder } });
    expect(second.path).toBe(first.path);
    expect(statSync(second.path).mtimeMs).toBe(written);
  });

  it("refuses an explicit or PARLEY_MODEL file that is not there with FileAccessError", async () => {
    const missing = join(scratch, "no-such-model.gguf");
    const folder = newFolder("refuse");
    touch(join(folder, "fallback.gguf")); // never used instead of a named file
    await expect(resolveModel({ model: missing, env: { PARLEY_MODELS: folder } })).rejects.toBeInstanceOf(FileAccessError);
    await expect(resolveModel({ model: missing, env: {} })).rejects.toThrow(/no such file \(given by --model\)/);
    await expect(resolveModel({ env: { PARLEY_MODEL: missing, PARLEY_MODELS: folder } })).rejects.toThrow(/given by PARLEY_MODEL/);
    await expect(resolveModel({ env: { PARLEY_MODEL: missing } })).rejects.toBeInstanceOf(FileAccessError);
    await expect(resolveModel({ model: scratch, env: {} })).rejects.toThrow(/not a file/);
  });
});

// ---------------------------------------------------------------------------------------------------

const body = Buffer.alloc(256 * 1024, 7);
let host: TestModelHost;
let base: string;

beforeAll(async () => {
  host = await serveTestModel(body);
  base = host.base;
});
afterAll(() => host?.close());

async function setup(url: string) {
  return writeOfferCatalogue(mkdtempSync(join(scratch, "offer-")), url, body);
}

const never = async (): Promise<boolean> => {
  throw new Error("asked");
};

describe("offerModelDownload", () => {
  it("offers TinyLlama Q4_0 by default", () => {
    expect(DEFAULT_OFFER).toBe("tinyllama-1.1b-chat-v1.0-q4_0");
  });

  it("online and the user says yes: downloads with progress and returns the file, which resolveModel then picks", async () => {
    const { env, folder } = await setup(`${base}/test.gguf`);
    const questions: string[] = [];
    const progress: Array<[number, string, DownloadProgress]> = [];
    const path = await offerModelDownload({
      env,
      entryId: "test-model",
      log: () => undefined,
      ask: async (q) => (questions.push(q), true), // interactive defaults to true
      onProgress: (f, entry, p) => progress.push([f, entry.id, p]),
    });
    expect(questions).toHaveLength(1);
    expect(questions[0]).toBe(`Download Test model (0 MB) into ${folder}? [y/N] `);
    expect(path).toBe(join(folder, "test.gguf"));
    expect(await readFile(path!)).toEqual(body);
    expect(progress.length).toBeGreaterThan(0);
    const [fraction, id, last] = progress.at(-1)!;
    expect(fraction).toBe(1);
    expect(id).toBe("test-model");
    expect(last).toMatchObject({ receivedBytes: body.length, totalBytes: body.length });
    const resolved = await resolveModel({ env, demoModel: null });
    expect(resolved).toMatchObject({ path, source: "folder" });
  });

  it("never asks when not interactive, and says how to get the model", async () => {
    const { env } = await setup(`${base}/test.gguf`);
    const lines: string[] = [];
    const path = await offerModelDownload({ env, entryId: "test-model", interactive: false, log: (l) => lines.push(l), ask: never });
    expect(path).toBeNull();
    expect(lines.join("\n")).toMatch(/npx parley-npc model get test-model/);
  });

  it("offline (host unreachable) or PARLEY_OFFLINE=1: no question, no download, no output", async () => {
    const lines: string[] = [];
    const offline = await setup("http://127.0.0.1:9/test.gguf");
    expect(await offerModelDownload({ env: offline.env, entryId: "test-model", log: (l) => lines.push(l), ask: never })).toBeNull();
    const online = await setup(`${base}/test.gguf`);
    const env = { ...online.env, PARLEY_OFFLINE: "1" };
    expect(await offerModelDownload({ env, entryId: "test-model", log: (l) => lines.push(l), ask: never })).toBeNull();
    expect(lines).toEqual([]);
    expect(existsSync(join(online.folder, "test.gguf"))).toBe(false);
  });

  it("the user says no: nothing is downloaded, and it says how to get the model later", async () => {
    const { env, folder } = await setup(`${base}/test.gguf`);
    const lines: string[] = [];
    expect(await offerModelDownload({ env, entryId: "test-model", log: (l) => lines.push(l), ask: async () => false })).toBeNull();
    expect(lines.join("\n")).toMatch(/later: npx parley-npc model get test-model/);
    expect(existsSync(join(folder, "test.gguf"))).toBe(false);
  });

  it("a failed download rejects with the download's error", async () => {
    const { env, folder } = await setup(`${base}/missing.gguf`);
    await expect(offerModelDownload({ env, entryId: "test-model", log: () => undefined, ask: async () => true })).rejects.toThrow(/HTTP 404/);
    expect(existsSync(join(folder, "missing.gguf"))).toBe(false);
  });

  it("an AbortSignal cancels the download (keeping the .part) and rejects with ABORTED", async () => {
    const { env, folder } = await setup(`${base}/slow.gguf`);
    const controller = new AbortController();
    host.onHeld = () => setTimeout(() => controller.abort(), 50);
    try {
      const offer = offerModelDownload({ env, entryId: "test-model", log: () => undefined, ask: async () => true, signal: controller.signal });
      const error = await offer.then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(ParleyError);
      expect((error as ParleyError).code).toBe("ABORTED");
    } finally {
      host.onHeld = undefined;
    }
    expect(existsSync(join(folder, "slow.gguf"))).toBe(false);
    expect(existsSync(join(folder, "slow.gguf.part"))).toBe(true);
  });

  it("an already aborted signal asks nothing and downloads nothing", async () => {
    const { env, folder } = await setup(`${base}/test.gguf`);
    const signal = AbortSignal.abort();
    await expect(offerModelDownload({ env, entryId: "test-model", log: () => undefined, ask: never, signal })).rejects.toMatchObject({ code: "ABORTED" });
    expect(existsSync(join(folder, "test.gguf"))).toBe(false);
  });

  it("an abort while the question is open downloads nothing", async () => {
    const { env, folder } = await setup(`${base}/test.gguf`);
    const controller = new AbortController();
    const ask = async (): Promise<boolean> => {
      controller.abort();
      return true;
    };
    await expect(offerModelDownload({ env, entryId: "test-model", log: () => undefined, ask, signal: controller.signal })).rejects.toMatchObject({
      code: "ABORTED",
    });
    expect(existsSync(join(folder, "test.gguf"))).toBe(false);
  });
});

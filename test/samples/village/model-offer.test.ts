// npm start's "offer to download a real model when online" step (offerRealModel, on the runtime's
// offerModelDownload, which test/runtime/models-resolve.test.ts covers in full), against a local HTTP server.
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { offerRealModel } from "../../../samples/village/host/model-offer.js";
import { DEMO_MODEL_PATH, resolveVillageModel } from "../../../samples/village/host/model-resolution.js";
import { serveTestModel, writeOfferCatalogue, type TestModelHost } from "../../fixtures/offer-catalogue.js";

const body = Buffer.alloc(256 * 1024, 7);
let host: TestModelHost;
let base: string;
const folders: string[] = [];

beforeAll(async () => {
  host = await serveTestModel(body);
  base = host.base;
});
afterAll(async () => {
  await host?.close();
  await Promise.all(folders.map((f) => rm(f, { recursive: true, force: true })));
});

async function setup(url: string) {
  const folder = await mkdtemp(join(tmpdir(), "parley-offer-"));
  folders.push(folder);
  return writeOfferCatalogue(folder, url, body);
}

const never = async (): Promise<boolean> => {
  throw new Error("asked");
};

describe("offerRealModel", () => {
  it("runs on the demo model: the player says yes, and the downloaded model runs instead", async () => {
    const { env, folder } = await setup(`${base}/test.gguf`);
    const demo = await resolveVillageModel({ env });
    expect(demo).toMatchObject({ path: DEMO_MODEL_PATH, source: "demo" });
    const progress: number[] = [];
    const model = await offerRealModel(demo, {
      env,
      entryId: "test-model",
      interactive: true,
      log: () => undefined,
      ask: async () => true,
      onProgress: (f) => progress.push(f),
    });
    expect(model).toMatchObject({ path: join(folder, "test.gguf"), source: "folder", synthetic: false });
    expect(model.note).toContain(join(folder, "test.gguf"));
    expect(await readFile(model.path)).toEqual(body);
    expect(progress.at(-1)).toBe(1);
  });

  it("offers nothing when a real model was found", async () => {
    const { env, folder } = await setup(`${base}/test.gguf`);
    const real = join(folder, "real-chat.gguf");
    await writeFile(real, "GGUF");
    const resolved = await resolveVillageModel({ env });
    expect(resolved.source).toBe("folder");
    expect(await offerRealModel(resolved, { env, entryId: "test-model", interactive: true, log: () => undefined, ask: never })).toBe(resolved);
  });

  it("keeps the demo model when the player says no, when offline, or when the download fails", async () => {
    const lines: string[] = [];
    const log = (l: string) => lines.push(l);
    const online = await setup(`${base}/test.gguf`);
    const demo = await resolveVillageModel({ env: online.env });
    expect(await offerRealModel(demo, { env: online.env, entryId: "test-model", interactive: true, log, ask: async () => false })).toBe(demo);
    expect(lines.join("\n")).toMatch(/later: npx parley-npc model get test-model/);

    const offline = await setup("http://127.0.0.1:9/test.gguf");
    expect(await offerRealModel(demo, { env: offline.env, entryId: "test-model", interactive: true, log, ask: never })).toBe(demo);
    expect(await offerRealModel(demo, { env: { ...online.env, PARLEY_OFFLINE: "1" }, entryId: "test-model", interactive: true, log, ask: never })).toBe(demo);

    const broken = await setup(`${base}/missing.gguf`);
    expect(
      await offerRealModel(demo, { env: broken.env, entryId: "test-model", interactive: true, log, ask: async () => true, onProgress: () => undefined }),
    ).toBe(demo);
    expect(lines.at(-1)).toMatch(/^download skipped: .*HTTP 404/);
  });

  it("never asks without a terminal, and says how to get the model", async () => {
    const { env } = await setup(`${base}/test.gguf`);
    const lines: string[] = [];
    const demo = await resolveVillageModel({ env });
    expect(await offerRealModel(demo, { env, entryId: "test-model", interactive: false, log: (l) => lines.push(l), ask: never })).toBe(demo);
    expect(lines.join("\n")).toMatch(/npx parley-npc model get test-model/);
  });
});

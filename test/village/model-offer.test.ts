// npm start's "offer to download a real model when online" step, against a local HTTP server.
import { createHash } from "node:crypto";
import { createServer, type Server } from "node:http";
import { mkdtemp, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { offerModelDownload } from "../../samples/village/host/model-offer.js";

const body = Buffer.alloc(256 * 1024, 7);
let server: Server;
let base: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    res.writeHead(200, { "content-length": body.length, "content-type": "application/octet-stream" });
    res.end(req.method === "HEAD" ? undefined : body);
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  base = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});
afterAll(() => new Promise<void>((r) => server.close(() => r())));

async function setup(url: string) {
  const folder = await mkdtemp(join(tmpdir(), "parley-offer-"));
  const catalogue = join(folder, "offer.json");
  const sha256 = createHash("sha256").update(body).digest("hex");
  await writeFile(catalogue, JSON.stringify([{ id: "test-model", name: "Test model", url, sizeBytes: body.length, sha256 }]));
  return { folder, env: { PARLEY_MODELS: folder, PARLEY_CATALOGUE: catalogue } };
}

describe("offerModelDownload", () => {
  it("online and the player says yes: downloads with progress and returns the file", async () => {
    const { env } = await setup(`${base}/test.gguf`);
    const questions: string[] = [];
    const progress: number[] = [];
    const path = await offerModelDownload({
      env, entryId: "test-model", interactive: true, log: () => undefined,
      ask: async (q) => (questions.push(q), true),
      onProgress: (f) => progress.push(f),
    });
    expect(questions[0]).toMatch(/Download Test model/);
    expect(path).not.toBeNull();
    expect(await readFile(path!)).toEqual(body);
    expect(progress.at(-1)).toBe(1);
  });

  it("never asks without a terminal, and says how to get the model", async () => {
    const { env } = await setup(`${base}/test.gguf`);
    const lines: string[] = [];
    const path = await offerModelDownload({ env, entryId: "test-model", interactive: false, log: (l) => lines.push(l), ask: async () => { throw new Error("asked"); } });
    expect(path).toBeNull();
    expect(lines.join("\n")).toMatch(/npx parley model get test-model/);
  });

  it("offline (host unreachable) or PARLEY_OFFLINE=1: no question, no download", async () => {
    const { env } = await setup("http://127.0.0.1:9/test.gguf");
    const ask = async () => { throw new Error("asked"); };
    expect(await offerModelDownload({ env, entryId: "test-model", interactive: true, log: () => undefined, ask })).toBeNull();
    const online = await setup(`${base}/test.gguf`);
    expect(await offerModelDownload({ env: { ...online.env, PARLEY_OFFLINE: "1" }, entryId: "test-model", interactive: true, log: () => undefined, ask })).toBeNull();
  });

  it("the player says no: nothing is downloaded", async () => {
    const { env, folder } = await setup(`${base}/test.gguf`);
    const lines: string[] = [];
    expect(await offerModelDownload({ env, entryId: "test-model", interactive: true, log: (l) => lines.push(l), ask: async () => false })).toBeNull();
    expect(lines.join("\n")).toMatch(/later: npx parley model get test-model/);
    await expect(readFile(join(folder, "test.gguf"))).rejects.toThrow();
  });
});

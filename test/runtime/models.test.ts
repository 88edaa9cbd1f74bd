// The model manager against a local HTTP server (127.0.0.1, started here) serving a generated file with Range
// support: normal, interrupted, corrupted, redirected and missing transfers; resume; progress; atomic
// placement; and the `parley model` CLI with a catalogue file (PARLEY_CATALOGUE).
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createRequire } from "node:module";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { ParleyError } from "../../runtime/errors.js";
import {
  ChecksumMismatchError,
  downloadModel,
  listInstalled,
  loadCatalogue,
  ModelDownloadError,
  modelsFolder,
  removeModel,
  UnknownModelError,
  verifyModel,
  type CatalogueEntry,
  type DownloadProgress,
} from "../../runtime/models/index.js";
import { REPO_ROOT } from "../fixtures/repo-root.js";

const root = REPO_ROOT;
const SIZE = 3 * 1024 * 1024 + 12345;
const DROP_AFTER = 1024 * 1024 + 7;

// Deterministic pseudo-random content (xorshift32), so the hash is fixed but not trivially compressible.
const data = Buffer.alloc(SIZE);
{
  let x = 0x12345678;
  for (let i = 0; i < SIZE; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    data[i] = x & 0xff;
  }
}
const SHA = createHash("sha256").update(data).digest("hex");
const corrupted = Buffer.from(data);
corrupted[SIZE >> 1] ^= 0xff;

interface Seen {
  path: string;
  range: string | undefined;
}
let seen: Seen[] = [];
let dropArmed = false;
let server: Server;
let base = "";

function serve(req: IncomingMessage, res: ServerResponse, body: Buffer, opts: { dropAfter?: number; ignoreRange?: boolean; slow?: boolean } = {}): void {
  const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
  let start = 0;
  if (range && !opts.ignoreRange) {
    start = Number(range[1]);
    if (start >= body.length) {
      res.writeHead(416, { "content-range": `bytes */${body.length}` }).end();
      return;
    }
    res.writeHead(206, {
      "content-length": body.length - start,
      "content-range": `bytes ${start}-${body.length - 1}/${body.length}`,
      "accept-ranges": "bytes",
    });
  } else {
    res.writeHead(200, { "content-length": body.length, "accept-ranges": "bytes", "content-type": "application/octet-stream" });
  }
  const rest = body.subarray(start);
  if (opts.dropAfter !== undefined) {
    res.write(rest.subarray(0, opts.dropAfter), () => setTimeout(() => req.socket.destroy(), 20));
    return;
  }
  if (opts.slow) {
    // Several chunks with pauses, so progress callbacks fire while the transfer is under way.
    const chunk = 256 * 1024;
    let off = 0;
    const next = () => {
      if (off >= rest.length) return void res.end();
      const piece = rest.subarray(off, off + chunk);
      off += chunk;
      res.write(piece, () => setTimeout(next, 15));
    };
    next();
    return;
  }
  res.end(rest);
}

beforeAll(async () => {
  server = createServer((req, res) => {
    const path = req.url ?? "/";
    seen.push({ path, range: req.headers.range });
    if (path === "/model.gguf") return serve(req, res, data);
    if (path === "/slow/model.gguf") return serve(req, res, data, { slow: true });
    if (path === "/drop/model.gguf") {
      const drop = dropArmed;
      dropArmed = false;
      return serve(req, res, data, drop ? { dropAfter: DROP_AFTER } : {});
    }
    if (path === "/norange/model.gguf") return serve(req, res, data, { ignoreRange: true });
    if (path === "/corrupt/model.gguf") return serve(req, res, corrupted);
    if (path === "/redirect/model.gguf") return void res.writeHead(302, { location: "/hop/model.gguf" }).end();
    if (path === "/hop/model.gguf") return void res.writeHead(307, { location: `${base}/model.gguf` }).end();
    res.writeHead(404, { "content-type": "text/plain" }).end("not found");
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const addr = server.address();
  if (addr === null || typeof addr === "string") throw new Error("no port");
  base = `http://127.0.0.1:${addr.port}`;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

let folder = "";
beforeEach(async () => {
  folder = await mkdtemp(join(tmpdir(), "parley-models-"));
  seen = [];
  dropArmed = false;
  return async () => {
    await rm(folder, { recursive: true, force: true });
  };
});

function entry(path: string, overrides: Partial<CatalogueEntry> = {}): CatalogueEntry {
  return {
    id: "test-model",
    name: "Test model",
    file: "test-model.Q4_0.gguf",
    url: `${base}${path}`,
    sizeBytes: SIZE,
    sha256: SHA,
    quant: "Q4_0",
    license: "MIT",
    description: "generated bytes",
    ...overrides,
  };
}

const finalPath = () => join(folder, "test-model.Q4_0.gguf");
const partPath = () => finalPath() + ".part";

describe("downloadModel", () => {
  it("downloads, verifies and places the file; progress rises to the total; no partial file at the final path", async () => {
    const progress: DownloadProgress[] = [];
    let finalSeenEarly = false;
    const r = await downloadModel(entry("/slow/model.gguf"), {
      folder,
      progressIntervalMs: 0,
      onProgress: (p) => {
        progress.push(p);
        if (existsSync(finalPath())) finalSeenEarly = true;
      },
    });
    expect(r).toMatchObject({ path: finalPath(), sha256: SHA, bytes: SIZE, resumed: false, alreadyInstalled: false, checksumPinned: true });
    expect(finalSeenEarly).toBe(false);
    expect(readFileSync(finalPath()).equals(data)).toBe(true);
    expect(existsSync(partPath())).toBe(false);
    expect(progress.length).toBeGreaterThan(5);
    for (let i = 1; i < progress.length; i++) expect(progress[i].receivedBytes).toBeGreaterThanOrEqual(progress[i - 1].receivedBytes);
    expect(progress.at(-1)).toMatchObject({ receivedBytes: SIZE, totalBytes: SIZE });
    expect(progress.some((p) => p.bytesPerSecond > 0)).toBe(true);
    // A second call finds the checked file and downloads nothing.
    seen = [];
    const again = await downloadModel(entry("/slow/model.gguf"), { folder });
    expect(again.alreadyInstalled).toBe(true);
    expect(seen).toHaveLength(0);
  });

  it("an interrupted transfer keeps the .part, and the next call resumes it with a Range request", async () => {
    dropArmed = true;
    const err = await downloadModel(entry("/drop/model.gguf"), { folder, retries: 0 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelDownloadError);
    expect((err as ModelDownloadError).resumable).toBe(true);
    expect((err as ModelDownloadError).code).toBe("FILE_ACCESS");
    expect(existsSync(finalPath())).toBe(false);
    expect(statSync(partPath()).size).toBe(DROP_AFTER);

    const progress: DownloadProgress[] = [];
    const r = await downloadModel(entry("/drop/model.gguf"), { folder, retries: 0, onProgress: (p) => progress.push(p) });
    expect(r).toMatchObject({ sha256: SHA, bytes: SIZE, resumed: true });
    expect(seen.at(-1)).toEqual({ path: "/drop/model.gguf", range: `bytes=${DROP_AFTER}-` });
    expect(progress[0].receivedBytes).toBe(DROP_AFTER);
    expect(progress.at(-1)?.receivedBytes).toBe(SIZE);
    expect(readFileSync(finalPath()).equals(data)).toBe(true);
    expect(existsSync(partPath())).toBe(false);
  });

  it("with retries, one call resumes by itself after a dropped connection", async () => {
    dropArmed = true;
    const r = await downloadModel(entry("/drop/model.gguf"), { folder, retries: 2, retryDelayMs: 10 });
    expect(r).toMatchObject({ sha256: SHA, resumed: true });
    expect(seen.map((s) => s.range)).toEqual([undefined, `bytes=${DROP_AFTER}-`]);
  });

  it("restarts cleanly when the server ignores the Range and answers 200", async () => {
    writeFileSync(partPath(), data.subarray(0, 5000));
    const r = await downloadModel(entry("/norange/model.gguf"), { folder });
    expect(seen[0].range).toBe("bytes=5000-");
    expect(r).toMatchObject({ sha256: SHA, bytes: SIZE, resumed: false });
    expect(readFileSync(finalPath()).equals(data)).toBe(true);
  });

  it("a resumed .part with wrong bytes fails the checksum of the whole file", async () => {
    writeFileSync(partPath(), Buffer.alloc(5000, 7));
    const err = await downloadModel(entry("/model.gguf"), { folder }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect(existsSync(partPath())).toBe(false);
    expect(existsSync(finalPath())).toBe(false);
  });

  it("corrupted bytes: a typed checksum error, and no file left in place", async () => {
    const err = await downloadModel(entry("/corrupt/model.gguf"), { folder }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ChecksumMismatchError);
    expect(err).toBeInstanceOf(ParleyError);
    expect(err).toMatchObject({ kind: "sha256", expected: SHA, code: "INVALID_ARGUMENT" });
    expect(existsSync(finalPath())).toBe(false);
    expect(existsSync(partPath())).toBe(false);
    expect(readdirSync(folder)).toEqual([]);
  });

  it("follows redirects", async () => {
    const r = await downloadModel(entry("/redirect/model.gguf"), { folder });
    expect(r.sha256).toBe(SHA);
    expect(seen.map((s) => s.path)).toEqual(["/redirect/model.gguf", "/hop/model.gguf", "/model.gguf"]);
  });

  it("404 is a typed error, not retried, and leaves nothing behind", async () => {
    const err = await downloadModel(entry("/missing.gguf"), { folder, retryDelayMs: 10 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelDownloadError);
    expect(err).toMatchObject({ status: 404, resumable: false });
    expect(seen).toHaveLength(1);
    expect(readdirSync(folder)).toEqual([]);
  });

  it("an entry without a published size or checksum checks Content-Length and reports the SHA-256", async () => {
    const r = await downloadModel(entry("/model.gguf", { sizeBytes: null, sha256: null }), { folder });
    expect(r).toMatchObject({ sha256: SHA, bytes: SIZE, checksumPinned: false });
    const v = await verifyModel(r.path, entry("/model.gguf", { sizeBytes: null, sha256: null }));
    expect(v).toMatchObject({ status: "no-published-checksum", ok: null, sha256: SHA });
  });

  it("a catalogue size that disagrees with the server is refused before anything is written", async () => {
    const err = await downloadModel(entry("/model.gguf", { sizeBytes: SIZE + 1 }), { folder }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ModelDownloadError);
    expect(readdirSync(folder)).toEqual([]);
  });

  it("abort keeps the .part and rejects with ABORTED", async () => {
    const controller = new AbortController();
    const err = await downloadModel(entry("/slow/model.gguf"), {
      folder,
      signal: controller.signal,
      progressIntervalMs: 0,
      onProgress: (p) => {
        if (p.receivedBytes > 512 * 1024) controller.abort();
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ParleyError);
    expect((err as ParleyError).code).toBe("ABORTED");
    expect(existsSync(finalPath())).toBe(false);
    expect(statSync(partPath()).size).toBeGreaterThan(512 * 1024);
    const r = await downloadModel(entry("/model.gguf"), { folder });
    expect(r).toMatchObject({ resumed: true, sha256: SHA });
  });

  it("an unknown id is a typed error", async () => {
    await expect(downloadModel("no-such-model", { folder, catalogue: [entry("/model.gguf")] })).rejects.toBeInstanceOf(UnknownModelError);
  });
});

describe("store and catalogue", () => {
  it("puts the models folder where the pipeline cache goes: PARLEY_MODELS, else PARLEY_CACHE_DIR, XDG, ~/.cache", () => {
    expect(modelsFolder({ PARLEY_MODELS: "/m", PARLEY_CACHE_DIR: "/c" })).toBe("/m");
    expect(modelsFolder({ PARLEY_CACHE_DIR: "/games/npc", XDG_CACHE_HOME: "/xdg" })).toBe("/games/npc/models");
    expect(modelsFolder({ XDG_CACHE_HOME: "/xdg" })).toBe("/xdg/parley/models");
    expect(modelsFolder({ XDG_CACHE_HOME: "relative/is/ignored" })).toBe(join(homedir(), ".cache", "parley", "models"));
    expect(modelsFolder({})).toBe(join(homedir(), ".cache", "parley", "models"));
  });

  it("pins the built-in TinyLlama Q4_0 and Q4_K_M files to one repository commit, size and SHA-256", async () => {
    const builtin = await loadCatalogue({ env: {} });
    for (const id of ["tinyllama-1.1b-chat-v1.0-q4_0", "tinyllama-1.1b-chat-v1.0-q4_k_m"]) {
      const e = builtin.find((x) => x.id === id)!;
      expect(e.sha256).toMatch(/^[0-9a-f]{64}$/);
      expect(e.sizeBytes).toBeGreaterThan(600_000_000);
      // A branch name would let the bytes change under a pinned checksum.
      expect(e.url).toMatch(/\/resolve\/[0-9a-f]{40}\//);
      expect(e.url.endsWith(`/${e.file}`)).toBe(true);
    }
    // The one entry without a published checksum stays explicit about it.
    expect(builtin.find((x) => x.id === "tinyllama-1.1b-chat-v1.0-q8_0")).toMatchObject({ sha256: null, sizeBytes: null });
  });

  it("lists, verifies and removes installed models", async () => {
    const e = entry("/model.gguf");
    await downloadModel(e, { folder });
    writeFileSync(join(folder, "other.gguf"), "GGUF");
    const listing = await listInstalled({ folder, catalogue: [e] });
    expect(listing.installed.map((m) => [m.file, m.status])).toEqual([
      ["other.gguf", "uncatalogued"],
      ["test-model.Q4_0.gguf", "verified"],
    ]);
    expect((await verifyModel(finalPath(), e)).status).toBe("ok");
    expect((await verifyModel(finalPath(), { ...e, sha256: "0".repeat(64) })).ok).toBe(false);
    const removed = await removeModel("test-model", { folder, catalogue: [e] });
    expect(removed.removed).toContain(finalPath());
    expect(existsSync(finalPath())).toBe(false);
    await expect(removeModel("/etc/hosts", { folder, catalogue: [e] })).rejects.toBeInstanceOf(UnknownModelError);
  });

  it("loads extra entries from PARLEY_CATALOGUE and catalogue.json, and rejects malformed ones", async () => {
    const file = join(folder, "extra.json");
    await writeFile(file, JSON.stringify([{ id: "extra", url: "https://example.com/x/extra.Q8_0.gguf", sizeBytes: 10, sha256: null }]));
    await writeFile(join(folder, "catalogue.json"), JSON.stringify({ entries: [{ id: "local", url: "http://127.0.0.1/local.gguf" }] }));
    const cat = await loadCatalogue({ folder, env: { PARLEY_CATALOGUE: file } });
    expect(cat.map((e) => e.id)).toEqual([
      "tinyllama-1.1b-chat-v1.0-q4_0",
      "tinyllama-1.1b-chat-v1.0-q4_k_m",
      "tinyllama-1.1b-chat-v1.0-q8_0",
      "local",
      "extra",
    ]);
    expect(cat.find((e) => e.id === "extra")).toMatchObject({ file: "extra.Q8_0.gguf", sizeBytes: 10, sha256: null });
    await writeFile(file, JSON.stringify([{ id: "bad", url: "https://example.com/a.gguf", sha256: "xyz" }]));
    await expect(loadCatalogue({ env: { PARLEY_CATALOGUE: file } })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
    await writeFile(file, JSON.stringify([{ id: "bad", url: "https://example.com/a.gguf", file: "../escape.gguf" }]));
    await expect(loadCatalogue({ env: { PARLEY_CATALOGUE: file } })).rejects.toMatchObject({ code: "INVALID_ARGUMENT" });
  });
});

function parley(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  // Asynchronous spawn: the HTTP server runs in this process and must keep answering.
  const tsx = pathToFileURL(createRequire(import.meta.url).resolve("tsx")).href;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", tsx, join(root, "runtime/cli.ts"), ...args], {
      cwd: root,
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

describe("parley model CLI", () => {
  it("get, list, verify and rm against the local server via PARLEY_CATALOGUE", async () => {
    const catalogueFile = join(folder, "..", `${folder.split(/[\\/]/).pop()}-catalogue.json`);
    await writeFile(catalogueFile, JSON.stringify([entry("/slow/model.gguf"), entry("/corrupt/model.gguf", { id: "bad-model", file: "bad.gguf" })]));
    const env = { PARLEY_CATALOGUE: catalogueFile, PARLEY_MODELS: folder };
    try {
      const got = await parley(["model", "get", "test-model"], env);
      expect(got.stderr).toMatch(/test-model\.Q4_0\.gguf: 100% /);
      expect(got.code).toBe(0);
      expect(got.stdout).toContain(`downloaded: ${finalPath()}`);
      expect(got.stdout).toContain(`✓ SHA-256 ${SHA}`);

      const list = await parley(["model", "list"], env);
      expect(list.code).toBe(0);
      expect(list.stdout).toMatch(/test-model\s+Q4_0\s+3\.16 MB\s+✓ installed, verified/);
      expect(list.stdout).toMatch(/tinyllama-1\.1b-chat-v1\.0-q4_0\s+Q4_0\s+638 MB\s+not installed/);
      expect(list.stdout).toMatch(/tinyllama-1\.1b-chat-v1\.0-q8_0\s+Q8_0\s+\?\s+not installed/);
      const json = JSON.parse((await parley(["model", "list", "--json"], env)).stdout);
      expect(json.folder).toBe(folder);
      expect(json.catalogue.find((e: { id: string }) => e.id === "test-model")).toMatchObject({ installed: true, status: "verified" });

      const verify = await parley(["model", "verify", "test-model", "--json"], env);
      expect(verify.code).toBe(0);
      expect(JSON.parse(verify.stdout)).toMatchObject({ status: "ok", sha256: SHA });

      const bad = await parley(["model", "get", "bad-model", "--folder", folder], { PARLEY_CATALOGUE: catalogueFile });
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/SHA-256 mismatch.*\[INVALID_ARGUMENT\]/);
      expect(existsSync(join(folder, "bad.gguf"))).toBe(false);

      const unknown = await parley(["model", "get", "nope"], env);
      expect(unknown.code).toBe(2);
      expect(unknown.stderr).toMatch(/unknown model "nope".*test-model/);

      // A file changed on disk: verify by path reports the mismatch with exit code 1.
      const tampered = Buffer.from(data);
      tampered[0] ^= 1;
      writeFileSync(finalPath(), tampered);
      const v2 = await parley(["model", "verify", finalPath()], env);
      expect(v2.code).toBe(1);
      expect(v2.stdout).toMatch(/✗ .*SHA-256 mismatch/);

      const removed = await parley(["model", "rm", "test-model"], env);
      expect(removed.code).toBe(0);
      expect(removed.stdout).toContain(`removed ${finalPath()}`);
      expect(existsSync(finalPath())).toBe(false);
    } finally {
      await rm(catalogueFile, { force: true });
    }
  });
});

// The editor's host over real HTTP on 127.0.0.1, on a temp copy of the village project: the loopback
// server's guards (token, Origin, Host), the project API (listing, reading, conflict-checked and
// validated saves, path confinement including symbolic links, deletes, node layout), the disk-change
// event stream, and the `npm run editor` CLI.
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { startEditorHost, type EditorHost } from "../../editor/host/editor-api.js";
import { ProjectFolder } from "../../editor/project/index.js";
import { HttpError, startLoopbackServer } from "../../runtime/host/loopback-server.js";
import { InvalidArgumentError } from "../../runtime/errors.js";
import { rawRequest } from "../fixtures/raw-request.js";

const village = fileURLToPath(new URL("../../samples/village/", import.meta.url));
const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const sha256 = (bytes: Buffer | string): string => createHash("sha256").update(bytes).digest("hex");

let scratch: string;
let outside: string; // a folder beside the project: what nothing may read or write
const SECRET = '{"secret": "TOP SECRET"}\n';

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "parley-editor-host-"));
  outside = join(scratch, "outside");
  await mkdir(outside);
  await writeFile(join(outside, "secret.json"), SECRET);
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

/** A fresh copy of the village's project files. */
async function copyVillage(): Promise<string> {
  const root = await mkdtemp(join(scratch, "village-"));
  for (const entry of ["characters", "dialogue", "parley.project.json"]) await cp(join(village, entry), join(root, entry), { recursive: true });
  return root;
}

interface Client {
  host: EditorHost;
  root: string;
  get(path: string, init?: RequestInit & { token?: string | null }): Promise<Response>;
  post(route: string, body: unknown, init?: RequestInit & { token?: string | null }): Promise<Response>;
  raw(path: string, headers?: Record<string, string>): Promise<{ status: number; body: string }>;
}

async function startClient(root: string): Promise<Client> {
  const host = await startEditorHost(await ProjectFolder.open(root), { debounceMs: 50 });
  return {
    host,
    root,
    get(path, init = {}) {
      const { token = host.token, ...rest } = init;
      const url = new URL(path, host.origin);
      if (token !== null) url.searchParams.set("token", token);
      return fetch(url, rest);
    },
    post(route, body, init = {}) {
      const { token = host.token, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token !== null) headers.set("x-parley-token", token);
      headers.set("content-type", "application/json");
      return fetch(`${host.origin}/api/${route}`, { ...rest, method: "POST", headers, body: typeof body === "string" ? body : JSON.stringify(body) });
    },
    raw(path, headers = {}) {
      return rawRequest(host.port, path, headers);
    },
  };
}

interface ErrorBody {
  error: { code: string; message: string; [key: string]: unknown };
}

let client: Client;
beforeEach(async () => {
  client = await startClient(await copyVillage());
});
afterEach(async () => {
  await client?.host.close();
});

describe("the editor host's guards", () => {
  it("listens on 127.0.0.1 with a 32-byte token in the URL and serves the editor's page", async () => {
    const { host } = client;
    expect(host.token).toMatch(/^[0-9a-f]{64}$/);
    expect(host.url).toBe(`http://127.0.0.1:${host.port}/?token=${host.token}`);
    const page = await fetch(host.url);
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/^text\/html/);
    expect(page.headers.get("referrer-policy")).toBe("no-referrer");
    expect(await page.text()).toContain("/api/project");
  });

  it("refuses API calls without the right token", async () => {
    const none = await client.get("/api/project", { token: null });
    expect(none.status).toBe(401);
    expect(((await none.json()) as ErrorBody).error.code).toBe("UNAUTHORIZED");
    const wrong = await client.get("/api/project", { token: "0".repeat(64) });
    expect(wrong.status).toBe(403);
    expect(((await wrong.json()) as ErrorBody).error.code).toBe("FORBIDDEN");
    expect((await client.get("/api/project", { token: client.host.token.slice(0, 63) })).status).toBe(403);
    expect((await client.get("/api/events", { token: null })).status).toBe(401);
    // Writes need the header: the token in the query string is not enough.
    const path = "characters/guard.json";
    const before = await readFile(join(client.root, path), "utf8");
    const queryOnly = await fetch(`${client.host.origin}/api/save?token=${client.host.token}`, {
      method: "POST",
      body: JSON.stringify({ path, text: before.replace("Captain Hale", "Mallory"), expectedHash: sha256(before) }),
    });
    expect(queryOnly.status).toBe(401);
    expect((await client.post("delete", { path: "dialogue/guard.json", force: true }, { token: "nope" })).status).toBe(403);
    expect(await readFile(join(client.root, path), "utf8")).toBe(before);
    expect(existsSync(join(client.root, "dialogue/guard.json"))).toBe(true);
  });

  it("refuses a foreign Origin and a foreign Host even with the token", async () => {
    const foreign = await client.post("delete", { path: "dialogue/guard.json", force: true }, { headers: { origin: "http://evil.example" } });
    expect(foreign.status).toBe(403);
    expect(((await foreign.json()) as ErrorBody).error.code).toBe("FORBIDDEN_ORIGIN");
    expect(existsSync(join(client.root, "dialogue/guard.json"))).toBe(true);
    expect((await client.get("/api/project", { headers: { origin: `http://localhost:${client.host.port}` } })).status).toBe(403);
    expect((await client.get("/api/project", { headers: { origin: "null" } })).status).toBe(403);
    expect((await client.get("/api/project", { headers: { origin: client.host.origin } })).status).toBe(200);
    // DNS rebinding: the right token, but the browser addressed another name.
    const rebound = await client.raw(`/api/project?token=${client.host.token}`, { host: `attacker.example:${client.host.port}` });
    expect(rebound.status).toBe(403);
    expect(JSON.parse(rebound.body)).toMatchObject({ error: { code: "FORBIDDEN_HOST" } });
    expect((await client.raw("/", { host: `localhost:${client.host.port}` })).status).toBe(403);
    expect((await client.raw(`/api/project?token=${client.host.token}`)).status).toBe(200);
  });

  it("answers bad requests with 4xx JSON errors and keeps working", async () => {
    const broken = await client.post("save", "{not json");
    expect(broken.status).toBe(400);
    expect(((await broken.json()) as ErrorBody).error.code).toBe("BAD_JSON");
    const missing = await client.post("save", { path: "characters/guard.json" });
    expect(missing.status).toBe(400);
    expect(((await missing.json()) as ErrorBody).error.message).toMatch(/"text" must be a string/);
    const noHash = await client.post("save", { path: "characters/guard.json", text: "{}" });
    expect(noHash.status).toBe(400);
    expect(((await noHash.json()) as ErrorBody).error.message).toMatch(/expectedHash/);
    expect((await client.get("/api/file")).status).toBe(400);
    expect((await client.get("/api/file?path=characters/nobody.json")).status).toBe(404);
    expect((await client.post("nothing", {})).status).toBe(404);
    expect((await client.get("/api/save")).status).toBe(405);
    expect((await client.post("node-position", { graph: "guard", node: "halt", x: "left", y: 0 })).status).toBe(400);
    expect((await client.get("/api/project")).status).toBe(200);
  });
});

describe("the editor's project API", () => {
  it("lists the project: 3 characters and 3 graphs with their hashes, no problems", async () => {
    const response = await client.get("/api/project");
    expect(response.status).toBe(200);
    const project = (await response.json()) as {
      name: string;
      manifest: { name: string };
      documents: { path: string; kind: string; id: string; hash: string | null; problem?: unknown; warnings: unknown[] }[];
    };
    expect(project.name).toBe("Ashford village");
    expect(project.manifest.name).toBe("Ashford village");
    const ids = (kind: string) => project.documents.filter((d) => d.kind === kind).map((d) => d.id);
    expect(ids("character")).toEqual(["blacksmith", "guard", "innkeeper"]);
    expect(ids("dialogue")).toEqual(["blacksmith", "guard", "innkeeper"]);
    for (const doc of project.documents) {
      expect(doc.problem, doc.path).toBeUndefined();
      expect(doc.hash, doc.path).toBe(sha256(await readFile(join(client.root, doc.path))));
      expect(doc).not.toHaveProperty("text"); // the listing is a summary
    }
  });

  it("reads a file with its text, hash and value", async () => {
    const file = (await (await client.get("/api/file?path=characters/guard.json")).json()) as { text: string; hash: string; value: { name: string } };
    const disk = await readFile(join(client.root, "characters/guard.json"), "utf8");
    expect(file.text).toBe(disk);
    expect(file.hash).toBe(sha256(disk));
    expect(file.value.name).toBe("Captain Hale");
  });

  it("saves with the hash it read, and refuses a save with a stale hash", async () => {
    const path = "characters/guard.json";
    const read = (await (await client.get(`/api/file?path=${path}`)).json()) as { text: string; hash: string };
    const text = read.text.replace('"Captain Hale"', '"Captain Mallory"');
    const saved = await client.post("save", { path, text, expectedHash: read.hash });
    expect(saved.status).toBe(200);
    const { hash } = (await saved.json()) as { hash: string };
    expect(hash).toBe(sha256(text));
    expect(await readFile(join(client.root, path), "utf8")).toBe(text);
    const again = (await (await client.get(`/api/file?path=${path}`)).json()) as { hash: string; value: { name: string } };
    expect(again).toMatchObject({ hash, value: { name: "Captain Mallory" } });
    // The hash read before the first save is stale now.
    const stale = await client.post("save", { path, text: read.text, expectedHash: read.hash });
    expect(stale.status).toBe(409);
    expect(await readFile(join(client.root, path), "utf8")).toBe(text);
    expect((await client.post("save", { path, text: read.text, expectedHash: hash })).status).toBe(200);
    expect(await readFile(join(client.root, path), "utf8")).toBe(read.text);
  });

  it("refuses to overwrite a file changed behind its back: 409 naming the path, then force", async () => {
    const path = "dialogue/innkeeper.json";
    const read = (await (await client.get(`/api/file?path=${path}`)).json()) as { text: string; hash: string };
    const theirs = read.text.replace(/\n$/, "\n\n"); // another program's edit (still a valid graph)
    await writeFile(join(client.root, path), theirs);
    const mine = read.text; // the text it read, unchanged: only the hash check can refuse it
    const conflict = await client.post("save", { path, text: mine, expectedHash: read.hash });
    expect(conflict.status).toBe(409);
    const body = (await conflict.json()) as ErrorBody;
    expect(body.error).toMatchObject({ code: "EXTERNAL_CHANGE", paths: [path] });
    expect(body.error.message).toContain(path);
    expect(await readFile(join(client.root, path), "utf8")).toBe(theirs);
    expect(((await (await client.get("/api/changes")).json()) as { changes: unknown[] }).changes).toEqual([{ path, change: "modified" }]);
    const forced = await client.post("save", { path, text: mine, expectedHash: read.hash, force: true });
    expect(forced.status).toBe(200);
    expect(await readFile(join(client.root, path), "utf8")).toBe(mine);
  });

  it("refuses invalid content with 400: JSON syntax with line and column, schema problems with JSON paths", async () => {
    const path = "characters/blacksmith.json";
    const disk = await readFile(join(client.root, path), "utf8");
    const read = (await (await client.get(`/api/file?path=${path}`)).json()) as { hash: string };

    const syntax = await client.post("save", { path, text: '{\n  "schema": "parley.character/1",\n  "id": "blacksmith",,\n}', expectedHash: read.hash });
    expect(syntax.status).toBe(400);
    const syntaxError = ((await syntax.json()) as ErrorBody).error;
    expect(syntaxError).toMatchObject({ code: "INVALID_JSON", line: 3, column: 22 });

    const value = JSON.parse(disk) as Record<string, unknown>;
    const schema = await client.post("save", {
      path,
      text: JSON.stringify({ ...value, name: 42, mood: undefined, speakingStyle: { maxWords: -3 } }),
      expectedHash: read.hash,
    });
    expect(schema.status).toBe(400);
    const schemaError = ((await schema.json()) as ErrorBody).error as ErrorBody["error"] & { issues: { path: string; message: string }[] };
    expect(schemaError.code).toBe("INVALID_DOCUMENT");
    expect(schemaError.issues.map((i) => i.path)).toEqual(expect.arrayContaining(["name", "speakingStyle.maxWords"]));
    expect(schemaError).not.toHaveProperty("stack");
    expect(await readFile(join(client.root, path), "utf8")).toBe(disk); // nothing written
  });

  it("refuses every path that leads outside the project with 403 and the reason", async () => {
    const cases: [string, RegExp][] = [
      ["../x", /"\.\." segment/],
      ["/etc/passwd", /absolute/],
      ["dialogue/../../x", /"\.\." segment/],
      ["../outside/secret.json", /"\.\." segment/],
      [join(outside, "secret.json"), /absolute/],
    ];
    for (const [path, reason] of cases) {
      const read = await client.get(`/api/file?path=${encodeURIComponent(path)}`);
      expect(read.status, path).toBe(403);
      const error = ((await read.json()) as ErrorBody).error;
      expect(error, path).toMatchObject({ code: "PATH_OUTSIDE_PROJECT", path });
      expect(error.message, path).toMatch(reason);
      expect(error.message, path).toContain(JSON.stringify(path));
      const save = await client.post("save", { path, text: SECRET.replace("TOP", "OVERWRITTEN"), expectedHash: null, force: true });
      expect(save.status, path).toBe(403);
      expect((await client.post("delete", { path, force: true })).status, path).toBe(403);
    }
    expect(await readFile(join(outside, "secret.json"), "utf8")).toBe(SECRET);
    expect(existsSync(join(client.root, "..", "x"))).toBe(false);
  });

  it("refuses a symbolic link that leads outside, whether it was there at open or appeared later", async () => {
    await client.host.close();
    const root = await copyVillage();
    await symlink(join(outside, "secret.json"), join(root, "characters", "spy.json"));
    await symlink(outside, join(root, "dialogue", "elsewhere"));
    client = await startClient(root);

    // At open: listed with the refusal as its problem, never read.
    const listing = (await (await client.get("/api/project")).json()) as { documents: { path: string; problem?: { message: string } }[] };
    const spy = listing.documents.find((d) => d.path === "characters/spy.json");
    expect(spy?.problem?.message).toMatch(/symbolic link leads it outside the project folder/);
    expect(JSON.stringify(listing)).not.toContain("TOP SECRET");

    await symlink(join(outside, "secret.json"), join(root, "dialogue", "later.json"));
    for (const path of ["characters/spy.json", "dialogue/later.json", "dialogue/elsewhere/secret.json"]) {
      const read = await client.get(`/api/file?path=${path}`);
      expect(read.status, path).toBe(403);
      const body = await read.text();
      expect(body, path).not.toContain("TOP SECRET");
      const error = (JSON.parse(body) as ErrorBody).error;
      expect(error, path).toMatchObject({
        code: "PATH_OUTSIDE_PROJECT",
        path,
        reason: expect.stringMatching(/symbolic link leads it outside the project folder/),
      });
      const save = await client.post("save", { path, text: '{"schema": "parley.character/1"}', expectedHash: sha256(SECRET), force: true });
      expect(save.status, path).toBe(403);
    }
    expect(await readFile(join(outside, "secret.json"), "utf8")).toBe(SECRET);
  });

  it("refuses to delete a character that graphs use: 409 listing them; force deletes it", async () => {
    const refused = await client.post("delete", { path: "characters/blacksmith.json" });
    expect(refused.status).toBe(409);
    const error = ((await refused.json()) as ErrorBody).error;
    expect(error).toMatchObject({ code: "CHARACTER_IN_USE", character: "blacksmith", graphs: ["dialogue/blacksmith.json"] });
    expect(error.message).toContain("dialogue/blacksmith.json");
    expect(existsSync(join(client.root, "characters/blacksmith.json"))).toBe(true);

    const forced = await client.post("delete", { path: "characters/blacksmith.json", force: true });
    expect(forced.status).toBe(200);
    expect(existsSync(join(client.root, "characters/blacksmith.json"))).toBe(false);
    const listing = (await (await client.get("/api/project")).json()) as { documents: { path: string; problem?: { message: string } }[] };
    expect(listing.documents.find((d) => d.path === "dialogue/blacksmith.json")?.problem?.message).toMatch(/blacksmith/);
  });

  it("moves a node by writing the layout file only: the graph's bytes stay the same", async () => {
    const graphFile = join(client.root, "dialogue/guard.json");
    const graphBefore = await readFile(graphFile);
    const moved = await client.post("node-position", { graph: "guard", node: "halt", x: 120.5, y: -40 });
    expect(moved.status).toBe(200);
    const { hash } = (await moved.json()) as { hash: string };
    const layout = await readFile(join(client.root, "dialogue/guard.layout.json"));
    expect(hash).toBe(sha256(layout));
    expect(JSON.parse(layout.toString("utf8"))).toMatchObject({ nodes: { halt: { x: 120.5, y: -40 } } });
    expect((await readFile(graphFile)).equals(graphBefore)).toBe(true);
    const unknownNode = await client.post("node-position", { graph: "guard", node: "nowhere", x: 0, y: 0 });
    expect(unknownNode.status).toBe(400);
    expect(((await unknownNode.json()) as ErrorBody).error.message).toMatch(/no node "nowhere"/);
  });

  it("creates, renames, duplicates and deletes through the API", async () => {
    expect((await client.post("create-character", { id: "miller", name: "Ada Miller" })).status).toBe(200);
    const graph = await client.post("create-graph", { id: "mill", character: "miller" });
    expect(graph.status).toBe(200);
    expect(((await graph.json()) as { document: { value: { character: string } } }).document.value.character).toBe("miller");
    expect((await client.post("create-character", { id: "miller", name: "Again" })).status).toBe(400);
    expect((await client.post("create-character", { id: "../escape", name: "Nope" })).status).toBe(400);

    const renamed = await client.post("rename-character", { from: "miller", to: "baker" });
    expect(renamed.status).toBe(200);
    expect(existsSync(join(client.root, "characters/miller.json"))).toBe(false);
    expect(JSON.parse(await readFile(join(client.root, "dialogue/mill.json"), "utf8")).character).toBe("baker");

    expect((await client.post("rename-graph", { from: "mill", to: "bakery" })).status).toBe(200);
    expect((await client.post("duplicate", { path: "dialogue/bakery.json", newId: "bakery2" })).status).toBe(200);
    expect(JSON.parse(await readFile(join(client.root, "dialogue/bakery2.json"), "utf8")).id).toBe("bakery2");
    expect((await client.post("delete", { path: "dialogue/bakery2.json" })).status).toBe(200);
    expect(existsSync(join(client.root, "dialogue/bakery2.json"))).toBe(false);
  });

  it("reports an external change on the event stream, and its end after a reload", async () => {
    const controller = new AbortController();
    const stream = await client.get("/api/events", { signal: controller.signal });
    expect(stream.status).toBe(200);
    expect(stream.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const reader = stream.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = "";
    const nextEvent = async (): Promise<{ type: string; changes: { path: string; change: string }[] }> => {
      for (;;) {
        const cut = buffer.indexOf("\n\n");
        if (cut >= 0) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = block.split("\n").find((line) => line.startsWith("data: "));
          if (data) return JSON.parse(data.slice(6));
          continue;
        }
        const { value, done } = await reader.read();
        if (done) throw new Error("event stream ended early");
        buffer += decoder.decode(value, { stream: true });
      }
    };
    try {
      // The editor's own save is not an external change: no event for it.
      const path = "dialogue/guard.json";
      const read = (await (await client.get(`/api/file?path=${path}`)).json()) as { text: string; hash: string };
      expect((await client.post("save", { path, text: read.text.replace(/\n$/, "\n\n"), expectedHash: read.hash })).status).toBe(200);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await writeFile(join(client.root, path), read.text);
      await writeFile(join(client.root, "characters/cook.json"), "{}");
      const event = await nextEvent();
      expect(event.type).toBe("disk-changes");
      expect(event.changes).toEqual([
        { path: "characters/cook.json", change: "added" },
        { path, change: "modified" },
      ]);
      expect((await client.post("reload", {})).status).toBe(200);
      expect(await nextEvent()).toEqual({ type: "disk-changes", changes: [] });
      const listing = (await (await client.get("/api/project")).json()) as { documents: { path: string; hash: string; problem?: unknown }[] };
      expect(listing.documents.find((d) => d.path === path)?.hash).toBe(sha256(read.text));
      expect(listing.documents.find((d) => d.path === "characters/cook.json")?.problem).toBeDefined();
    } finally {
      controller.abort();
      await reader.cancel().catch(() => undefined);
    }
  });
});

describe("the loopback server", () => {
  it("answers an unexpected error with a bare 500 (logged, no stack) and a ParleyError with its message", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const server = await startLoopbackServer({
      routes: {
        "GET /api/boom": () => {
          throw new Error("secret internals at /home/someone");
        },
        "GET /api/bad": () => {
          throw new InvalidArgumentError("that will not do");
        },
        "POST /api/teapot": () => {
          throw new HttpError(418, "TEAPOT", "short and stout", { spout: true, code: "OVERRIDDEN" });
        },
      },
      label: "test host",
    });
    try {
      const boom = await fetch(`${server.origin}/api/boom?token=${server.token}`);
      expect(boom.status).toBe(500);
      expect(await boom.json()).toEqual({ error: { code: "INTERNAL", message: "internal error" } });
      expect(log).toHaveBeenCalledWith("test host: request failed:", expect.any(Error));
      const bad = await fetch(`${server.origin}/api/bad?token=${server.token}`);
      expect(bad.status).toBe(400);
      expect(await bad.json()).toEqual({ error: { code: "INVALID_ARGUMENT", message: "that will not do" } });
      const teapot = await fetch(`${server.origin}/api/teapot`, { method: "POST", headers: { "x-parley-token": server.token } });
      expect(teapot.status).toBe(418);
      expect(await teapot.json()).toEqual({ error: { code: "TEAPOT", message: "short and stout", spout: true } });
      // No static folder: every other path is a 404, not a file of the working directory.
      expect((await fetch(`${server.origin}/package.json`)).status).toBe(404);
    } finally {
      await server.close();
      log.mockRestore();
    }
  });

  it("caps open event streams", async () => {
    const server = await startLoopbackServer({ routes: { "GET /api/events": (ctx) => ctx.eventStream(() => undefined) }, maxEventStreams: 2 });
    const controller = new AbortController();
    try {
      const open = async () => fetch(`${server.origin}/api/events?token=${server.token}`, { signal: controller.signal });
      expect((await open()).status).toBe(200);
      expect((await open()).status).toBe(200);
      const third = await open();
      expect(third.status).toBe(429);
      expect(((await third.json()) as ErrorBody).error.code).toBe("TOO_MANY_STREAMS");
    } finally {
      controller.abort();
      await server.close();
    }
  });
});

describe("npm run editor", () => {
  const cli = (args: string[], timeoutMs = 60_000): Promise<{ code: number | null; stdout: string; stderr: string }> =>
    new Promise((resolve, reject) => {
      const child = spawn(process.execPath, ["--import", "tsx", "editor/host/start.ts", ...args], {
        cwd: repoRoot,
        env: { ...process.env, NO_COLOR: "1", INIT_CWD: scratch },
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => (stdout += c));
      child.stderr.on("data", (c: Buffer) => (stderr += c));
      const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
      child.on("error", reject);
      child.on("exit", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });

  it("exits 2 with one line, no stack, for a missing project or one that is not a folder", async () => {
    const missing = await cli(["no-such-project"]);
    expect(missing.code).toBe(2);
    expect(missing.stderr.trim().split("\n")).toEqual([`parley editor: no project folder at ${join(scratch, "no-such-project")}`]);
    const file = join(scratch, "not-a-folder.json");
    await writeFile(file, "{}");
    const notFolder = await cli([file]);
    expect(notFolder.code).toBe(2);
    expect(notFolder.stderr.trim().split("\n")).toHaveLength(1);
    expect(notFolder.stderr).toMatch(/is not a folder/);
    expect(notFolder.stderr).not.toMatch(/\n\s+at /);
  });

  it("serves a project and prints its URL", async () => {
    const root = await copyVillage();
    const child = spawn(process.execPath, ["--import", "tsx", "editor/host/start.ts", root, "--browser"], {
      cwd: repoRoot,
      env: { ...process.env, NO_COLOR: "1" },
    });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        let out = "";
        const timer = setTimeout(() => reject(new Error(`no URL printed: ${out}`)), 60_000);
        child.stdout.on("data", (c: Buffer) => {
          out += c;
          const m = /Parley editor: (http:\/\/127\.0\.0\.1:\d+\/\?token=[0-9a-f]{64})/.exec(out);
          if (m) {
            clearTimeout(timer);
            resolve(m[1]);
          }
        });
        child.on("exit", (code) => reject(new Error(`exited ${code}: ${out}`)));
      });
      const api = new URL("/api/project", url);
      api.searchParams.set("token", new URL(url).searchParams.get("token")!);
      const project = (await (await fetch(api)).json()) as { documents: { kind: string }[] };
      expect(project.documents.filter((d) => d.kind === "dialogue")).toHaveLength(3);
    } finally {
      child.kill("SIGTERM");
    }
  });
});

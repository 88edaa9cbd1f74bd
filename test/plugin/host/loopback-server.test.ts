// The loopback server over real HTTP on 127.0.0.1: the guards (token, Host, Origin), JSON bodies (limits,
// bad JSON, typed fields), errors (HttpError, ParleyError, anything else as a bare 500), security headers,
// server-sent event streams (greeting, events, heartbeats, the cap, cleanup, close()) and the static
// folder's confinement (`..`, encoded dots, dotfiles, hidden files, symbolic links).
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { DisposedError, InvalidArgumentError } from "../../../runtime/errors.js";
import {
  HttpError,
  startLoopbackServer,
  TOKEN_HEADER,
  type LoopbackServer,
  type LoopbackServerOptions,
  type StreamSource,
} from "../../../runtime/host/loopback-server.js";

interface ErrorBody {
  error: { code: string; message: string; [key: string]: unknown };
}

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** A request through node:http: a forged Host, an unnormalized path, a body sent in chunks. */
function raw(port: number, options: { path: string; method?: string; headers?: Record<string, string>; chunks?: string[] }): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path: options.path, method: options.method ?? "GET", headers: options.headers }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on("error", reject);
    for (const chunk of options.chunks ?? []) req.write(chunk);
    req.end();
  });
}

/** Reads an event stream until `done(text so far)`; fails after 5 s. */
async function readUntil(response: Response, done: (text: string) => boolean): Promise<string> {
  const reader = response.body!.getReader();
  const decoder = new TextDecoder();
  let text = "";
  const deadline = Date.now() + 5000;
  while (!done(text)) {
    if (Date.now() > deadline) throw new Error(`stream never matched; got ${JSON.stringify(text)}`);
    const { value, done: ended } = await reader.read();
    if (ended) throw new Error(`stream ended; got ${JSON.stringify(text)}`);
    text += decoder.decode(value, { stream: true });
  }
  reader.releaseLock();
  return text;
}

const waitFor = async (condition: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !condition(); i++) await new Promise((r) => setTimeout(r, 25));
  expect(condition()).toBe(true);
};

let scratch: string;
let site: string; // the static folder
let server: LoopbackServer | undefined;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "parley-loopback-"));
  site = join(scratch, "site");
  await mkdir(join(site, "assets"), { recursive: true });
  await writeFile(join(site, "index.html"), "<!doctype html><title>home</title>");
  await writeFile(join(site, "assets", "app.js"), "console.log('app');\n");
  await writeFile(join(site, "assets", "my file.txt"), "spaced\n");
  await writeFile(join(site, ".env"), "SECRET=1\n");
  await writeFile(join(site, "notes.md"), "hidden notes\n");
  await writeFile(join(scratch, "outside.txt"), "TOP SECRET\n");
  await symlink(join(scratch, "outside.txt"), join(site, "escape.txt"));
  await symlink(scratch, join(site, "up"));
  await symlink(join(site, "assets", "app.js"), join(site, "alias.js"));
});
afterEach(async () => {
  await server?.close();
  server = undefined;
  vi.restoreAllMocks();
});
afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function start(options: Partial<LoopbackServerOptions> = {}): Promise<LoopbackServer> {
  server = await startLoopbackServer({ routes: {}, label: "test host", ...options });
  return server;
}

const echoRoutes: LoopbackServerOptions["routes"] = {
  "GET /api/info": (ctx) => ({ method: ctx.method, q: ctx.optionalQuery("q") ?? null }),
  "GET /api/need": (ctx) => ({ q: ctx.query("q") }),
  "POST /api/echo": (ctx) => ({ body: ctx.body }),
  "POST /api/say": (ctx) => ({
    text: ctx.field("text", "string"),
    loud: ctx.optionalField("loud", "boolean") ?? false,
    times: ctx.optionalField("times", "number") ?? 1,
  }),
  "POST /api/nothing": () => undefined,
};

describe("the token", () => {
  it("is required on the API: ?token= or the header on GET, only the header on other methods", async () => {
    const s = await start({ routes: echoRoutes });
    expect(s.token).toMatch(/^[0-9a-f]{64}$/);
    expect(s.url).toBe(`${s.origin}/?token=${s.token}`);
    expect(s.origin).toBe(`http://127.0.0.1:${s.port}`);

    const none = await fetch(`${s.origin}/api/info`);
    expect(none.status).toBe(401);
    expect(((await none.json()) as ErrorBody).error.code).toBe("UNAUTHORIZED");
    expect((await fetch(`${s.origin}/api/info?token=`)).status).toBe(401);
    const wrong = await fetch(`${s.origin}/api/info?token=${"0".repeat(64)}`);
    expect(wrong.status).toBe(403);
    expect(((await wrong.json()) as ErrorBody).error.code).toBe("FORBIDDEN");
    expect((await fetch(`${s.origin}/api/info?token=${s.token.slice(0, 63)}`)).status).toBe(403);

    const ok = await fetch(`${s.origin}/api/info?token=${s.token}&q=hi`);
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await ok.json()).toEqual({ method: "GET", q: "hi" });
    expect((await fetch(`${s.origin}/api/info`, { headers: { [TOKEN_HEADER]: s.token } })).status).toBe(200);
    // The API prefix itself is guarded too.
    expect((await fetch(`${s.origin}/api`)).status).toBe(401);

    // A POST must send the header: the query alone (a form elsewhere could send it) is not enough.
    const queryOnly = await fetch(`${s.origin}/api/echo?token=${s.token}`, { method: "POST", body: "{}" });
    expect(queryOnly.status).toBe(401);
    expect(((await queryOnly.json()) as ErrorBody).error.message).toContain(TOKEN_HEADER);
    expect((await fetch(`${s.origin}/api/echo`, { method: "POST", headers: { [TOKEN_HEADER]: "nope" }, body: "{}" })).status).toBe(403);
    const posted = await fetch(`${s.origin}/api/echo`, { method: "POST", headers: { [TOKEN_HEADER]: s.token }, body: '{"a": 1}' });
    expect(posted.status).toBe(200);
    expect(await posted.json()).toEqual({ body: { a: 1 } });
    const nothing = await fetch(`${s.origin}/api/nothing`, { method: "POST", headers: { [TOKEN_HEADER]: s.token } });
    expect(await nothing.json()).toEqual({ ok: true });
  });

  it('takes routes as "METHOD /prefix/path" keys', async () => {
    await expect(startLoopbackServer({ routes: { "GET api/x": () => 1 } })).rejects.toThrow(RangeError);
    await expect(startLoopbackServer({ routes: { "GET /other/x": () => 1 } })).rejects.toThrow(/outside \/api/);
    await expect(startLoopbackServer({ routes: { "HEAD /api/x": () => 1 } })).rejects.toThrow(/GET route/);
    const s = await start({ routes: { "GET /v1/info": () => ({ v: 1 }) }, apiPrefix: "/v1/" });
    expect((await fetch(`${s.origin}/v1/info`)).status).toBe(401);
    expect(await (await fetch(`${s.origin}/v1/info?token=${s.token}`)).json()).toEqual({ v: 1 });
  });

  it("is checked before the route is looked up; unknown routes are 404, other methods 405", async () => {
    const s = await start({ routes: echoRoutes });
    expect((await fetch(`${s.origin}/api/missing`)).status).toBe(401);
    const missing = await fetch(`${s.origin}/api/missing?token=${s.token}`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as ErrorBody).error.code).toBe("NOT_FOUND");
    const wrongMethod = await fetch(`${s.origin}/api/info`, { method: "DELETE", headers: { [TOKEN_HEADER]: s.token } });
    expect(wrongMethod.status).toBe(405);
    expect(((await wrongMethod.json()) as ErrorBody).error.code).toBe("METHOD_NOT_ALLOWED");
    expect((await fetch(`${s.origin}/api/echo?token=${s.token}`)).status).toBe(405);
  });
});

describe("Host and Origin", () => {
  it("refuses a foreign Origin, API and static files alike", async () => {
    const s = await start({ routes: echoRoutes, staticDir: site });
    for (const origin of ["http://evil.example", `http://localhost:${s.port}`, "null", `https://127.0.0.1:${s.port}`]) {
      const api = await fetch(`${s.origin}/api/echo`, { method: "POST", headers: { [TOKEN_HEADER]: s.token, origin }, body: "{}" });
      expect(api.status, origin).toBe(403);
      expect(((await api.json()) as ErrorBody).error.code).toBe("FORBIDDEN_ORIGIN");
      expect((await fetch(`${s.origin}/index.html`, { headers: { origin } })).status, origin).toBe(403);
    }
    expect((await fetch(`${s.origin}/api/info?token=${s.token}`, { headers: { origin: s.origin } })).status).toBe(200);
  });

  it("refuses any Host but 127.0.0.1:PORT (DNS rebinding), before the token and static files", async () => {
    const s = await start({ routes: echoRoutes, staticDir: site });
    for (const host of [`localhost:${s.port}`, "evil.example", `evil.example:${s.port}`, "127.0.0.1", `127.0.0.1:${s.port + 1}`]) {
      const api = await raw(s.port, { path: `/api/info?token=${s.token}`, headers: { host } });
      expect(api.status, host).toBe(403);
      expect((JSON.parse(api.body) as ErrorBody).error.code).toBe("FORBIDDEN_HOST");
      expect((await raw(s.port, { path: "/", headers: { host } })).status, host).toBe(403);
    }
    expect((await raw(s.port, { path: `/api/info?token=${s.token}` })).status).toBe(200);
  });
});

describe("JSON bodies", () => {
  const post = (s: LoopbackServer, route: string, body: string): Promise<Response> =>
    fetch(`${s.origin}/api/${route}`, { method: "POST", headers: { [TOKEN_HEADER]: s.token, "content-type": "application/json" }, body });

  it("refuses a body over the limit, declared or streamed, with 413 and connection: close, before the handler runs", async () => {
    const handler = vi.fn(() => "ran");
    const s = await start({ routes: { "POST /api/take": handler }, maxBodyBytes: 1024 });
    const declared = await raw(s.port, {
      path: "/api/take",
      method: "POST",
      headers: { [TOKEN_HEADER]: s.token, "content-type": "application/json", "content-length": "5000" },
    });
    expect(declared.status).toBe(413);
    expect(declared.headers.connection).toBe("close");
    expect((JSON.parse(declared.body) as ErrorBody).error.code).toBe("BODY_TOO_LARGE");

    const field = `{"text": "${"x".repeat(700)}"`;
    const streamed = await raw(s.port, {
      path: "/api/take",
      method: "POST",
      headers: { [TOKEN_HEADER]: s.token, "content-type": "application/json", "transfer-encoding": "chunked" },
      chunks: [field, `, "more": "${"y".repeat(700)}"}`],
    });
    expect(streamed.status).toBe(413);
    expect(streamed.headers.connection).toBe("close");
    expect((JSON.parse(streamed.body) as ErrorBody).error.code).toBe("BODY_TOO_LARGE");
    expect(handler).not.toHaveBeenCalled();

    // Within the limit, chunked or not, the body arrives.
    const small = await raw(s.port, {
      path: "/api/take",
      method: "POST",
      headers: { [TOKEN_HEADER]: s.token, "transfer-encoding": "chunked" },
      chunks: ['{"a":', "1}"],
    });
    expect(small.status).toBe(200);
    expect(handler).toHaveBeenCalledTimes(1);
  });

  it("answers bad JSON and non-object bodies with 400 BAD_JSON; an empty body is {}", async () => {
    const s = await start({ routes: echoRoutes });
    for (const body of ["{nope", "[1, 2]", "42", '"text"', "null"]) {
      const response = await post(s, "echo", body);
      expect(response.status, body).toBe(400);
      expect(((await response.json()) as ErrorBody).error.code, body).toBe("BAD_JSON");
    }
    expect(await (await post(s, "echo", "")).json()).toEqual({ body: {} });
    expect(await (await post(s, "echo", "  \n")).json()).toEqual({ body: {} });
  });

  it("answers a missing or mistyped field with 400 INVALID_ARGUMENT naming it", async () => {
    const s = await start({ routes: echoRoutes });
    const cases: Array<[string, string]> = [
      ["{}", '"text" must be a string, got nothing'],
      ['{"text": 3}', '"text" must be a string, got 3'],
      ['{"text": "hi", "loud": "yes"}', '"loud" must be a boolean, got "yes"'],
      ['{"text": "hi", "times": "2"}', '"times" must be a number, got "2"'],
    ];
    for (const [body, message] of cases) {
      const response = await post(s, "say", body);
      expect(response.status, body).toBe(400);
      expect(await response.json()).toEqual({ error: { code: "INVALID_ARGUMENT", message } });
    }
    expect(await (await post(s, "say", '{"text": "hi", "loud": null}')).json()).toEqual({ text: "hi", loud: false, times: 1 });
    expect(await (await post(s, "say", '{"text": "hi", "loud": true, "times": 3}')).json()).toEqual({ text: "hi", loud: true, times: 3 });
    const noQuery = await fetch(`${s.origin}/api/need?token=${s.token}`);
    expect(noQuery.status).toBe(400);
    expect(((await noQuery.json()) as ErrorBody).error.message).toContain('"q"');
    expect(await (await fetch(`${s.origin}/api/need?token=${s.token}&q=x`)).json()).toEqual({ q: "x" });
  });
});

describe("errors", () => {
  it("answers ParleyErrors by their code, HttpErrors with their details, and anything else as a bare 500", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => undefined);
    class Conflict extends Error {}
    const s = await start({
      routes: {
        "GET /api/bad": () => {
          throw new InvalidArgumentError("that will not do");
        },
        "GET /api/gone": () => {
          throw new DisposedError("the runtime");
        },
        "GET /api/boom": async () => {
          throw new Error("secret internals at /home/someone");
        },
        "GET /api/teapot": () => {
          throw new HttpError(418, "TEAPOT", "short and stout", { spout: true, code: "OVERRIDDEN" });
        },
        "GET /api/conflict": () => {
          throw new Conflict("changed on disk");
        },
      },
      mapError: (error) => (error instanceof Conflict ? new HttpError(409, "CONFLICT", error.message) : undefined),
    });
    const get = (route: string): Promise<Response> => fetch(`${s.origin}/api/${route}?token=${s.token}`);

    const bad = await get("bad");
    expect(bad.status).toBe(400);
    expect(await bad.json()).toEqual({ error: { code: "INVALID_ARGUMENT", message: "that will not do" } });
    const gone = await get("gone");
    expect(gone.status).toBe(503);
    expect(((await gone.json()) as ErrorBody).error.code).toBe("DISPOSED");
    const teapot = await get("teapot");
    expect(teapot.status).toBe(418);
    expect(await teapot.json()).toEqual({ error: { code: "TEAPOT", message: "short and stout", spout: true } });
    const conflict = await get("conflict");
    expect(conflict.status).toBe(409);
    expect(await conflict.json()).toEqual({ error: { code: "CONFLICT", message: "changed on disk" } });
    expect(log).not.toHaveBeenCalled();

    const boom = await get("boom");
    expect(boom.status).toBe(500);
    const text = await boom.text();
    expect(JSON.parse(text)).toEqual({ error: { code: "INTERNAL", message: "internal error" } });
    expect(text).not.toContain("secret");
    expect(text).not.toContain("at ");
    expect(log).toHaveBeenCalledWith("test host: request failed:", expect.any(Error));
  });

  it("sends the security headers on every response", async () => {
    const s = await start({ routes: { ...echoRoutes, "GET /api/events": (ctx) => ctx.eventStream(() => undefined) }, staticDir: site });
    const controller = new AbortController();
    try {
      const responses = [
        await fetch(`${s.origin}/api/info?token=${s.token}`),
        await fetch(`${s.origin}/api/info`),
        await fetch(`${s.origin}/api/missing?token=${s.token}`),
        await fetch(`${s.origin}/`),
        await fetch(`${s.origin}/nothing-here.txt`),
        await fetch(`${s.origin}/`, { method: "POST" }),
        await fetch(`${s.origin}/api/events?token=${s.token}`, { signal: controller.signal }),
      ];
      for (const response of responses) {
        expect(response.headers.get("x-content-type-options"), response.url).toBe("nosniff");
        expect(response.headers.get("referrer-policy")).toBe("no-referrer");
        expect(response.headers.get("x-frame-options")).toBe("DENY");
        expect(response.headers.get("content-security-policy")).toBe("frame-ancestors 'none'");
        expect(response.headers.get("cross-origin-resource-policy")).toBe("same-origin");
        expect(response.headers.get("cache-control")).toBe("no-store");
      }
      const forged = await raw(s.port, { path: "/", headers: { host: "evil.example" } });
      expect(forged.headers["x-frame-options"]).toBe("DENY");
    } finally {
      controller.abort();
    }
  });

  it("survives malformed requests", async () => {
    const s = await start({ routes: echoRoutes, staticDir: site });
    expect((await raw(s.port, { path: "/%zz" })).status).toBe(400);
    expect((await raw(s.port, { path: "/a%00b" })).status).toBe(400);
    const garbage = await new Promise<string>((resolve, reject) => {
      const socket = connect(s.port, "127.0.0.1", () => socket.write("NOT HTTP AT ALL\r\n\r\n"));
      let reply = "";
      socket.on("data", (c) => (reply += c.toString()));
      socket.on("end", () => resolve(reply));
      socket.on("error", reject);
    });
    expect(garbage).toMatch(/^HTTP\/1\.1 400/);
    const badHost = await raw(s.port, { path: "/", headers: { host: "bad host\\name" } });
    expect([400, 403]).toContain(badHost.status);
    expect((await fetch(`${s.origin}/api/info?token=${s.token}`)).status).toBe(200);
  });
});

describe("event streams", () => {
  /** A source that records its subscribers and can push to them. */
  function hub(): { source: StreamSource; push(event: unknown): void; subscribed: number; unsubscribed: number } {
    const senders = new Set<(event: unknown) => void>();
    const state = {
      subscribed: 0,
      unsubscribed: 0,
      source: ((send) => {
        state.subscribed++;
        senders.add(send);
        return () => {
          state.unsubscribed++;
          senders.delete(send);
        };
      }) as StreamSource,
      push(event: unknown) {
        for (const send of senders) send(event);
      },
    };
    return state;
  }

  it("opens with the greeting and retry, sends one JSON per data line, beats, and unsubscribes when the client goes", async () => {
    const events = hub();
    const s = await start({ routes: { "GET /api/events": (ctx) => ctx.eventStream(events.source) }, heartbeatMs: 40, streamGreeting: "test\nevents" });
    const controller = new AbortController();
    const response = await fetch(`${s.origin}/api/events?token=${s.token}`, { signal: controller.signal });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const opening = await readUntil(response, (text) => text.includes("retry: 2000\n\n"));
    expect(opening.startsWith(": test events\nretry: 2000\n\n")).toBe(true);
    expect(events.subscribed).toBe(1);

    events.push({ say: "hello\nthere", n: 1 });
    const withEvent = await readUntil(response, (text) => text.includes("\n\n"));
    expect(withEvent).toContain(`data: ${JSON.stringify({ say: "hello\nthere", n: 1 })}\n\n`);
    const beats = await readUntil(response, (text) => text.includes(": heartbeat\n\n"));
    expect(beats).toContain(": heartbeat\n\n");

    controller.abort();
    await waitFor(() => events.unsubscribed === 1);
  });

  it("refuses one stream over the cap with 429, and takes one again once a stream closes", async () => {
    const events = hub();
    const s = await start({ routes: { "GET /api/events": (ctx) => ctx.eventStream(events.source) }, maxEventStreams: 2 });
    const first = new AbortController();
    const second = new AbortController();
    const open = (signal?: AbortSignal): Promise<Response> => fetch(`${s.origin}/api/events?token=${s.token}`, { signal });
    expect((await open(first.signal)).status).toBe(200);
    expect((await open(second.signal)).status).toBe(200);
    const third = await open();
    expect(third.status).toBe(429);
    expect(((await third.json()) as ErrorBody).error.code).toBe("TOO_MANY_STREAMS");
    expect(events.subscribed).toBe(2);
    first.abort();
    await waitFor(() => events.unsubscribed === 1);
    const again = new AbortController();
    expect((await open(again.signal)).status).toBe(200);
    second.abort();
    again.abort();
  });

  it("ends every stream (and unsubscribes) on close()", async () => {
    const events = hub();
    const s = await start({ routes: { "GET /api/events": (ctx) => ctx.eventStream(events.source) } });
    const responses = [await fetch(`${s.origin}/api/events?token=${s.token}`), await fetch(`${s.origin}/api/events?token=${s.token}`)];
    for (const response of responses) await readUntil(response, (text) => text.includes("retry: 2000"));
    await s.close();
    for (const response of responses) {
      // The stream ends (cleanly, or cut off with the connection), it does not hang.
      const reader = response.body!.getReader();
      const ended = await (async () => {
        try {
          for (;;) if ((await reader.read()).done) return true;
        } catch {
          return true;
        }
      })();
      expect(ended).toBe(true);
    }
    await waitFor(() => events.unsubscribed === 2);
    await expect(fetch(`${s.origin}/api/events?token=${s.token}`)).rejects.toThrow();
  });

  it("holds no stream open for a HEAD, or for a handler that fails after opening one", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const events = hub();
    const s = await start({
      routes: {
        "GET /api/events": (ctx) => ctx.eventStream(events.source),
        "GET /api/broken": (ctx) => {
          ctx.eventStream(events.source);
          throw new Error("after opening");
        },
      },
      maxEventStreams: 1,
    });
    const head = await fetch(`${s.origin}/api/events?token=${s.token}`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(events.subscribed).toBe(0);
    expect((await fetch(`${s.origin}/api/broken?token=${s.token}`)).status).toBe(500);
    await waitFor(() => events.unsubscribed === events.subscribed);
    // The one slot is free again.
    const controller = new AbortController();
    expect((await fetch(`${s.origin}/api/events?token=${s.token}`, { signal: controller.signal })).status).toBe(200);
    controller.abort();
    expect(log).toHaveBeenCalledTimes(1);
  });

  it("ends a stream whose source throws, logging the error", async () => {
    const log = vi.spyOn(console, "error").mockImplementation(() => undefined);
    const s = await start({
      routes: {
        "GET /api/events": (ctx) =>
          ctx.eventStream(() => {
            throw new Error("source failed");
          }),
      },
    });
    const response = await fetch(`${s.origin}/api/events?token=${s.token}`);
    const text = await response.text();
    expect(text).not.toContain("source failed");
    expect(log).toHaveBeenCalledWith("test host: request failed:", expect.any(Error));
  });
});

describe("the static folder", () => {
  it("serves files with their type, / as index.html, and HEAD", async () => {
    const s = await start({ staticDir: site });
    const index = await fetch(`${s.origin}/`);
    expect(index.status).toBe(200);
    expect(index.headers.get("content-type")).toMatch(/^text\/html/);
    expect(await index.text()).toContain("<title>home</title>");
    const script = await fetch(`${s.origin}/assets/app.js`);
    expect(script.headers.get("content-type")).toMatch(/^text\/javascript/);
    expect(await script.text()).toBe("console.log('app');\n");
    expect(await (await fetch(`${s.origin}/assets/my%20file.txt`)).text()).toBe("spaced\n");
    const head = await fetch(`${s.origin}/assets/app.js`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String("console.log('app');\n".length));
    expect(await head.text()).toBe("");
    // A link that stays inside the folder is served.
    expect(await (await fetch(`${s.origin}/alias.js`)).text()).toBe("console.log('app');\n");
    expect((await fetch(`${s.origin}/missing.js`)).status).toBe(404);
    expect((await fetch(`${s.origin}/assets`)).status).toBe(404);
    expect((await fetch(`${s.origin}/index.html`, { method: "POST" })).status).toBe(405);
  });

  it("never serves what is outside the folder, dotfiles or hidden files", async () => {
    const s = await start({ staticDir: site, hideStatic: (path) => path.endsWith(".md"), staticDescription: "the test site" });
    const refused: Array<[string, number]> = [
      ["/../outside.txt", 404], // the URL parser resolves `..` to /outside.txt, which the folder does not have
      ["/%2e%2e/outside.txt", 404],
      ["/assets/%2e%2e/%2e%2e/outside.txt", 404],
      ["/..%2foutside.txt", 403],
      ["/%2e%2e%2foutside.txt", 403],
      ["/assets%2f..%2f..%2foutside.txt", 403],
      ["/escape.txt", 403],
      ["/up/outside.txt", 403],
      ["/.env", 404],
      ["/%2eenv", 404],
      ["/notes.md", 404],
      ["/assets\\..\\..\\outside.txt", 400],
    ];
    for (const [path, status] of refused) {
      const response = await raw(s.port, { path });
      expect(response.status, path).toBe(status);
      expect(response.body, path).not.toContain("TOP SECRET");
      expect(response.body, path).not.toContain("SECRET=1");
      expect(response.body, path).not.toContain("hidden notes");
    }
    const leaves = await raw(s.port, { path: "/escape.txt" });
    expect(JSON.parse(leaves.body)).toEqual({ error: { code: "FORBIDDEN_PATH", message: "path leaves the test site" } });
  });

  it("is 404 everywhere without a static folder", async () => {
    const s = await start();
    expect((await fetch(`${s.origin}/`)).status).toBe(404);
    expect((await fetch(`${s.origin}/package.json`)).status).toBe(404);
  });
});

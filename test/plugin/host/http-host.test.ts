// Browser mode of parley-npc/host: a real ConversationHost (NPCs given in code, authored lines: no model
// needed for the transport) served by startHttpHost on 127.0.0.1, driven by the page-side HttpClient
// (parley-npc/host/client) over Node's fetch, and by raw requests for what a browser would never send.
// Node has no EventSource, so the event stream is read from fetch's body here (the village e2e test runs the
// client's EventSource in Chromium).
import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { FallbackBackend } from "../../../plugin/index.js";
import { ConversationHost, startHttpHost, type HostEvent, type LoopbackServer } from "../../../plugin/host/index.js";
import { connectParley, HostRequestError, HttpClient } from "../../../plugin/host/client.js";
import { rawRequest } from "../../fixtures/raw-request.js";
import { readEvents as readEventStream } from "../../fixtures/event-stream.js";

const villageJson = (path: string): unknown => JSON.parse(readFileSync(new URL(`../../../samples/village/${path}`, import.meta.url), "utf8"));

let service: ConversationHost;
let server: LoopbackServer;
let client: HttpClient;

beforeAll(async () => {
  service = await ConversationHost.create({
    npcs: [{ character: villageJson("characters/guard.json"), graph: villageJson("dialogue/guard.json") }],
    backend: new FallbackBackend({ contextSize: 2048 }),
    seed: 3,
    log: () => undefined,
  });
  server = await startHttpHost(service, { heartbeatMs: 50 });
  client = new HttpClient({ baseUrl: server.origin, token: server.token });
});

afterAll(async () => {
  await server?.close();
  await service?.dispose();
});

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    expect(error).toBeInstanceOf(HostRequestError);
    return (error as HostRequestError).code;
  }
  return "accepted";
}

const readEvents = (response: Response, until: (event: HostEvent) => boolean | Promise<boolean>): Promise<void> => readEventStream<HostEvent>(response, until);

describe("startHttpHost + HttpClient", () => {
  it("answers info through the client: the NPCs from code, authored lines only", async () => {
    const info = await client.info();
    expect(info).toMatchObject({ canGenerate: false, device: "none", npcs: [{ id: "guard", name: "Captain Hale", role: "guard captain", graph: "guard" }] });
  });

  it("runs a conversation: start, streamed events, the player's line, cancel", async () => {
    const stream = await fetch(`${server.origin}/api/events?token=${server.token}`);
    expect(stream.headers.get("content-type")).toMatch(/^text\/event-stream/);
    const seen: string[] = [];
    const done = readEvents(stream, async (event) => {
      if (event.type !== "dialogue") return false;
      expect(event.npc).toBe("guard");
      seen.push(event.event.type);
      if (event.event.type === "input_requested") {
        expect(await codeOf(client.submit("   "))).toBe("EMPTY_INPUT");
        await client.submit("I am a merchant bringing cloth to the market.");
      }
      if (event.event.type === "choices_offered" || (event.event.type === "player_line" && seen.filter((t) => t === "line_complete").length > 1)) {
        await client.cancel();
      }
      return event.event.type === "ended";
    });
    await client.start("guard");
    await done;
    expect(seen[0]).toBe("started");
    expect(seen).toContain("line_complete");
    expect(seen).toContain("player_line");
    expect(seen.at(-1)).toBe("ended");
  });

  it("refuses bad requests with the protocol's codes, and the client throws them typed", async () => {
    expect(await codeOf(client.start("dragon"))).toBe("INVALID_ARGUMENT"); // well-formed, but no such NPC
    expect(await codeOf(client.start("Not An Id"))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(client.choose(-2))).toBe("INVALID_ARGUMENT");
    expect(await codeOf(client.choose(0))).toBe("INVALID_ARGUMENT"); // no conversation is running
    expect(await codeOf(client.submit("x".repeat(501)))).toBe("INPUT_TOO_LONG");
    expect(await codeOf(client.bark("guard"))).toBe("accepted");
    await service.barkSettled();
    expect(await client.bark("guard")).toBe("cooldown");
  });

  it("refuses a missing or wrong token, a foreign Origin and a foreign Host", async () => {
    const post = (headers: Record<string, string>) =>
      fetch(`${server.origin}/api/cancel`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: "{}" });
    expect((await post({})).status).toBe(401);
    expect((await post({ "x-parley-token": "0".repeat(64) })).status).toBe(403);
    expect((await post({ "x-parley-token": server.token, origin: "https://evil.example" })).status).toBe(403);
    expect((await post({ "x-parley-token": server.token })).status).toBe(200);
    expect((await rawRequest(server.port, `/api/info?token=${server.token}`, { host: "evil.example:80" })).status).toBe(403);
    expect((await rawRequest(server.port, `/api/info?token=${server.token}`)).status).toBe(200);
    const wrong = new HttpClient({ baseUrl: server.origin, token: "f".repeat(64) });
    expect(await codeOf(wrong.info())).toBe("FORBIDDEN");
  });

  it("survives a fuzz of junk bodies: each answered 200 or 4xx JSON, the host still working after", async () => {
    let seed = 7;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const pieces = ['{"npc":', '"guard"', "}", "[", "]", '{"index":', "-1", "1e309", '"', "\\u0000", "null", '{"text":', "{}", ",", "true", '"__proto__"', ":"];
    for (let i = 0; i < 200; i++) {
      const method = ["start", "choose", "submit", "cancel", "bark", "info"][Math.floor(random() * 6)];
      const body = Array.from({ length: Math.floor(random() * 6) }, () => pieces[Math.floor(random() * pieces.length)]).join("");
      const response = await fetch(`${server.origin}/api/${method}`, {
        method: "POST",
        headers: { "content-type": "application/json", "x-parley-token": server.token },
        body,
      });
      const json = (await response.json()) as { ok?: boolean; error?: { code: string; message: string } };
      if (response.status === 200) expect(json.ok).toBe(true);
      else {
        expect(response.status).toBeGreaterThanOrEqual(400);
        expect(response.status).toBeLessThan(500);
        expect(typeof json.error?.code).toBe("string");
      }
    }
    await client.cancel();
    expect((await client.info()).npcs).toHaveLength(1);
  });

  it("says the host is unreachable once it has stopped, and connectParley picks the bridge when the page has one", async () => {
    const lone = await ConversationHost.create({
      npcs: [{ character: villageJson("characters/guard.json"), graph: villageJson("dialogue/guard.json") }],
      log: () => undefined,
    });
    const loneServer = await startHttpHost(lone);
    const loneClient = connectParley({ baseUrl: loneServer.origin, token: loneServer.token, bridge: undefined, unreachableMessage: "gone" });
    expect(loneClient).toBeInstanceOf(HttpClient);
    expect((await loneClient.info()).npcs[0].id).toBe("guard");
    await loneServer.close();
    await lone.dispose();
    await expect(loneClient.info()).rejects.toMatchObject({ code: "HOST_UNREACHABLE", status: 0, message: "gone" });

    const calls: string[] = [];
    const bridge = {
      info: async () => ({ ok: true as const, value: { modelNote: "m", device: "none", canGenerate: false, npcs: [] } }),
      start: async (npc: string) => (calls.push(npc), { ok: false as const, error: { code: "INVALID_ARGUMENT", message: `no ${npc}` } }),
      choose: async () => ({ ok: true as const, value: null }),
      submit: async () => ({ ok: true as const, value: null }),
      cancel: async () => ({ ok: true as const, value: null }),
      bark: async () => ({ ok: true as const, value: "busy" }),
      subscribe: () => () => undefined,
    };
    const viaBridge = connectParley({ bridge });
    expect((await viaBridge.info()).modelNote).toBe("m");
    await expect(viaBridge.start("x")).rejects.toMatchObject({ code: "INVALID_ARGUMENT", message: "no x" });
    expect(await viaBridge.bark("x")).toBe("busy");
    expect(calls).toEqual(["x"]);
  });
});

// The conversation protocol's request checking (plugin/host/protocol.ts), which both transports run before
// anything reaches the host: well-formed requests in both shapes (named fields over HTTP, positional over
// IPC), and malformed ones — hand-picked and a seeded fuzz of junk — refused with a stable code and a message.
import { describe, expect, it } from "vitest";
import { seededRandom } from "../../fixtures/seeded-random.js";
import { HOST_METHODS, MAX_INPUT_CHARS, parseHostRequest, ProtocolError, type HostRequest } from "../../../plugin/host/protocol.js";

function refusal(method: unknown, params: unknown): ProtocolError {
  try {
    parseHostRequest(method, params);
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return error as ProtocolError;
  }
  throw new Error(`accepted ${JSON.stringify(method)} ${JSON.stringify(params)}`);
}

describe("parseHostRequest", () => {
  it("takes each method's parameters by name and by position", () => {
    const cases: [string, unknown, unknown, HostRequest][] = [
      ["info", {}, [], { method: "info" }],
      ["start", { npc: "old_tom" }, ["old_tom"], { method: "start", npc: "old_tom" }],
      ["choose", { index: 2 }, [2], { method: "choose", index: 2 }],
      ["submit", { text: "Got any swords?" }, ["Got any swords?"], { method: "submit", text: "Got any swords?" }],
      ["cancel", {}, [], { method: "cancel" }],
      ["bark", { npc: "guard-2" }, ["guard-2"], { method: "bark", npc: "guard-2" }],
    ];
    for (const [method, named, positional, expected] of cases) {
      expect(parseHostRequest(method, named)).toEqual(expected);
      expect(parseHostRequest(method, positional)).toEqual(expected);
    }
    expect(parseHostRequest("info", undefined)).toEqual({ method: "info" });
    expect(parseHostRequest("submit", { text: "x".repeat(MAX_INPUT_CHARS) })).toMatchObject({ method: "submit" });
  });

  it("refuses unknown methods, wrong types, extra parameters, blank and overlong lines with stable codes", () => {
    expect(refusal("launch", {}).code).toBe("UNKNOWN_METHOD");
    expect(refusal("__proto__", {}).code).toBe("UNKNOWN_METHOD");
    expect(refusal("toString", {}).code).toBe("UNKNOWN_METHOD");
    expect(refusal(7, {}).message).toContain("info, start, choose, submit, cancel, bark");
    expect(refusal("start", {}).message).toMatch(/"npc" must be a character id.*got nothing/);
    expect(refusal("start", { npc: "Old Tom" }).code).toBe("INVALID_ARGUMENT");
    expect(refusal("start", { npc: "../x" }).code).toBe("INVALID_ARGUMENT");
    expect(refusal("start", { npc: "a".repeat(65) }).code).toBe("INVALID_ARGUMENT");
    expect(refusal("start", { npc: "tom", extra: 1 }).message).toContain('unexpected "extra"');
    expect(refusal("start", ["tom", "more"]).message).toContain("got 2 arguments");
    expect(refusal("start", "tom").code).toBe("INVALID_ARGUMENT");
    expect(refusal("choose", { index: -1 }).code).toBe("INVALID_ARGUMENT");
    expect(refusal("choose", { index: 1.5 }).code).toBe("INVALID_ARGUMENT");
    expect(refusal("choose", { index: "1" }).code).toBe("INVALID_ARGUMENT");
    expect(refusal("choose", { index: Number.NaN }).code).toBe("INVALID_ARGUMENT");
    expect(refusal("submit", { text: " \n\t " }).code).toBe("EMPTY_INPUT");
    expect(refusal("submit", { text: "x".repeat(MAX_INPUT_CHARS + 1) }).code).toBe("INPUT_TOO_LONG");
    expect(refusal("submit", { text: ["hi"] }).message).toContain("an array");
    expect(refusal("cancel", { now: true }).code).toBe("INVALID_ARGUMENT");
  });

  it("answers thousands of junk requests with a ProtocolError or a well-formed request, never anything else", () => {
    const { random, pick } = seededRandom(0x5eed); // replayable junk
    const junk = (depth = 0): unknown =>
      pick<() => unknown>([
        () => undefined,
        () => null,
        () => random() * 1e6 - 5e5,
        () => Math.floor(random() * 10),
        () => pick([Number.NaN, Infinity, -0, 2 ** 53, -1]),
        () => pick(["", " ", "guard", "blacksmith", "Guard", "a b", "x".repeat(600), "\u0000", "__proto__", "constructor", "😀"]),
        () => random() < 0.5,
        () => (depth > 2 ? [] : Array.from({ length: Math.floor(random() * 4) }, () => junk(depth + 1))),
        () =>
          depth > 2
            ? {}
            : Object.fromEntries(Array.from({ length: Math.floor(random() * 3) }, () => [pick(["npc", "index", "text", "x", "__proto__"]), junk(depth + 1)])),
      ])();
    const methods = [...Object.keys(HOST_METHODS), "nope", "", "constructor", "hasOwnProperty"];
    let accepted = 0;
    for (let i = 0; i < 5000; i++) {
      const method = random() < 0.9 ? pick(methods) : junk();
      const params = junk();
      let request: HostRequest;
      try {
        request = parseHostRequest(method, params);
      } catch (error) {
        expect(error).toBeInstanceOf(ProtocolError);
        expect((error as ProtocolError).message.length).toBeLessThan(300);
        continue;
      }
      accepted++;
      // What passes is exactly a request of the protocol: its method, and only its checked parameters.
      expect(Object.keys(HOST_METHODS)).toContain(request.method);
      expect(Object.keys(request).sort()).toEqual(["method", ...HOST_METHODS[request.method]].sort());
      if ("npc" in request) expect(request.npc).toMatch(/^[a-z0-9_-]{1,64}$/);
      if ("index" in request) expect(Number.isSafeInteger(request.index) && request.index >= 0).toBe(true);
      if ("text" in request) expect(request.text.trim().length > 0 && request.text.length <= MAX_INPUT_CHARS).toBe(true);
    }
    expect(accepted).toBeGreaterThan(0); // the junk reaches the accepting paths too
  });
});

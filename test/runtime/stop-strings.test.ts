import { describe, expect, it } from "vitest";
import { InvalidArgumentError } from "../../runtime/errors.js";
import { StopStringMatcher } from "../../runtime/stop-strings.js";

/** Feed chunks; return what was emitted (including the final flush) and whether it stopped. */
function run(stops: string[], chunks: string[]): { text: string; stopped: boolean; pieces: string[] } {
  const m = new StopStringMatcher(stops);
  const pieces: string[] = [];
  let stopped = false;
  for (const c of chunks) {
    const r = m.push(c);
    pieces.push(r.emit);
    if (r.stopped) {
      stopped = true;
      break;
    }
  }
  pieces.push(m.flush());
  return { text: pieces.join(""), stopped, pieces };
}

describe("StopStringMatcher", () => {
  it("passes text through when there are no stops", () => {
    const m = new StopStringMatcher([]);
    expect(m.push("hello ")).toEqual({ emit: "hello ", stopped: false });
    expect(m.push("world")).toEqual({ emit: "world", stopped: false });
    expect(m.flush()).toBe("");
  });

  it("emits text immediately when it cannot start a stop string", () => {
    const m = new StopStringMatcher(["</s>"]);
    expect(m.push("Hi there")).toEqual({ emit: "Hi there", stopped: false });
  });

  it("holds back a possible prefix and releases it when it diverges", () => {
    const m = new StopStringMatcher(["User:"]);
    expect(m.push("Hello U")).toEqual({ emit: "Hello ", stopped: false });
    expect(m.push("se")).toEqual({ emit: "", stopped: false });
    expect(m.push("ful")).toEqual({ emit: "Useful", stopped: false });
  });

  it("stops on a match split over chunks and drops the stop string", () => {
    const m = new StopStringMatcher(["User:"]);
    expect(m.push("Sure. Us")).toEqual({ emit: "Sure. ", stopped: false });
    expect(m.push("er")).toEqual({ emit: "", stopped: false });
    expect(m.push(": more text")).toEqual({ emit: "", stopped: true });
    expect(m.stopped).toBe(true);
    expect(m.matched).toBe("User:");
    expect(m.push("anything")).toEqual({ emit: "", stopped: true });
    expect(m.flush()).toBe("");
  });

  it("emits the text before a stop found inside one chunk", () => {
    expect(run(["\n\n"], ["one\n\ntwo"])).toMatchObject({ text: "one", stopped: true });
  });

  it("works character by character", () => {
    const text = "abc ab abx abcd tail";
    const r = run(["abcd"], [...text]);
    expect(r).toMatchObject({ text: "abc ab abx ", stopped: true });
  });

  it("picks the earliest occurrence among several stops", () => {
    expect(run(["world", "lo w"], ["hello world"])).toMatchObject({ text: "hel", stopped: true });
    expect(run(["B", "A"], ["xxAyyB"])).toMatchObject({ text: "xx", stopped: true });
  });

  it("holds the longest possible prefix across several stops", () => {
    const m = new StopStringMatcher(["abc", "bcd"]);
    // "ab" could start "abc"; "b" could start "bcd" → hold "ab"
    expect(m.push("xab")).toEqual({ emit: "x", stopped: false });
    expect(m.push("cd")).toEqual({ emit: "", stopped: true });
    expect(m.matched).toBe("abc");
  });

  it("handles a stop that is a repeat of its own prefix", () => {
    // "aab" after "aaa": the held tail must stay "aa", not be emitted too early.
    expect(run(["aab"], ["aa", "a", "ab", "z"])).toMatchObject({ text: "aa", stopped: true });
    expect(run(["aab"], ["aa", "a", "a", "z"])).toMatchObject({ text: "aaaaz", stopped: false });
  });

  it("flush releases held text at the end of the stream", () => {
    const m = new StopStringMatcher(["###"]);
    expect(m.push("end #")).toEqual({ emit: "end ", stopped: false });
    expect(m.push("#")).toEqual({ emit: "", stopped: false });
    expect(m.flush()).toBe("##");
    expect(m.flush()).toBe("");
  });

  it("never loses or duplicates text (random streams)", () => {
    let seed = 1;
    const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const stops = ["abc", "ca", "bbb"];
    for (let trial = 0; trial < 300; trial++) {
      const len = 1 + Math.floor(rnd() * 30);
      let text = "";
      for (let i = 0; i < len; i++) text += "abcd"[Math.floor(rnd() * 4)];
      const chunks: string[] = [];
      for (let i = 0; i < text.length;) {
        const n = 1 + Math.floor(rnd() * 4);
        chunks.push(text.slice(i, i + n));
        i += n;
      }
      const idx = stops.map((s) => text.indexOf(s)).filter((i) => i >= 0);
      const expectedStop = idx.length > 0 ? Math.min(...idx) : -1;
      const r = run(stops, chunks);
      expect(r.stopped).toBe(expectedStop >= 0);
      expect(r.text).toBe(expectedStop >= 0 ? text.slice(0, expectedStop) : text);
    }
  });

  it("rejects empty stop strings", () => {
    expect(() => new StopStringMatcher([""])).toThrow(InvalidArgumentError);
  });
});

// `npm start` resolves the model once and hands it to the Electron shell whole, so the window's on-screen
// note says where the model came from (demo model, models folder, …), not "--model". Electron itself cannot
// run here (no binary); this checks the hand-over: launch.ts's arguments and main.ts's parsing of them.
import { describe, expect, it } from "vitest";
import { electronArgs } from "../../../samples/village/electron/launch.js";
import { parseResolvedModel } from "../../../samples/village/electron/main.js";
import type { ResolvedModel } from "../../../runtime/models/index.js";

const bundle = { main: "/b/main.mjs", preload: "/b/preload.cjs" };

describe("Electron hand-over of the resolved model", () => {
  it("passes the resolved model, note included, and main.ts reads it back unchanged", () => {
    const resolved: ResolvedModel = {
      path: "/models/parley-demo.gguf",
      source: "demo",
      note: 'model: Parley\'s demo model — for real conversations, … "quoted" = ok',
      synthetic: false,
      folder: "/models",
    };
    const args = electronArgs(bundle, { gameDir: "/game", resolved });
    const arg = args.find((a) => a.startsWith("--resolved-model="));
    expect(arg).toBeDefined();
    expect(args.some((a) => a.startsWith("--model="))).toBe(false);
    expect(parseResolvedModel(arg!.slice("--resolved-model=".length))).toEqual(resolved);
  });

  it("rejects malformed hand-overs with a clear error", () => {
    expect(() => parseResolvedModel("{not json")).toThrow(/not JSON/);
    expect(() => parseResolvedModel(JSON.stringify({ path: "/m.gguf" }))).toThrow(/path, note and synthetic/);
  });
});

describe("Electron hand-over of the project folder", () => {
  it("passes --project for a watched project folder, and nothing without one", () => {
    expect(electronArgs(bundle, { gameDir: "/game", project: "/work/my-project" })).toContain("--project=/work/my-project");
    expect(electronArgs(bundle, { gameDir: "/game" }).some((a) => a.startsWith("--project"))).toBe(false);
  });
});

// The README's game-loop example is samples/game-loop.ts, word for word, and it runs as written.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../", import.meta.url));

describe("README example game loop", () => {
  it("is the file in samples/, at most 60 lines", () => {
    const file = readFileSync(`${root}samples/game-loop.ts`, "utf8");
    const readme = readFileSync(`${root}README.md`, "utf8");
    const block = /```ts\n(\/\/ A minimal game loop[\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBe(file);
    expect(file.trimEnd().split("\n").length).toBeLessThanOrEqual(60);
  });

  it("runs as written: the conversation streams, takes input and a choice, fires a game event and ends", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "samples/game-loop.ts"], {
      cwd: root,
      encoding: "utf8",
      timeout: 240_000,
      env: { ...process.env, PARLEY_MODEL: "" },
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/Brom Ironhand: \S/);
    expect(r.stdout).toMatch(/Player: I need a sword for the road\./);
    expect(r.stdout).toMatch(/Player picks: /);
    expect(r.stdout).toMatch(/\[conversation end\] gold: \d+/);
  });
});

// The README's game-loop example is samples/game-loop.ts, word for word, and it runs as written with the
// demo model it picks by default (samples/demo-model/parley-demo.gguf, which knows the village's NPCs).
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

  it("runs as written on the demo model: Brom speaks, the player types and picks, the conversation ends", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "samples/game-loop.ts"], {
      cwd: root,
      encoding: "utf8",
      timeout: 240_000,
      env: { ...process.env, PARLEY_MODEL: "" },
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);
    // NPC lines print as `Speaker: text`, the player's as `You: text`.
    const npcLines = r.stdout.split("\n").filter((l) => l.startsWith("Brom Ironhand: "));
    expect(npcLines.length).toBeGreaterThanOrEqual(2);
    for (const line of npcLines) expect(line).toMatch(/^Brom Ironhand: .*\p{L}{2}/u);
    expect(r.stdout).toMatch(/^You: I need a sword for the road\.$/m);
    expect(r.stdout.match(/^You: /gm)?.length).toBeGreaterThanOrEqual(2); // the typed line and a choice (or a second line)
    expect(r.stdout).toMatch(/\[conversation end\] gold: \d+\n$/);
  });
});

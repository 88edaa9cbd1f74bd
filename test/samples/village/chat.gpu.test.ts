// `npm run chat` with piped stdin on the real runtime (a tiny synthetic model): the transcript streams the
// NPC's lines, echoes the player's words and ends; blank and over-long lines are asked again; end of input
// leaves the conversation cleanly.
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { MAX_INPUT_CHARS } from "../../../samples/village/village-npcs.js";
import { syntheticModel } from "../../fixtures/models.js";

const root = fileURLToPath(new URL("../../../", import.meta.url));
let model: string;

beforeAll(async () => {
  model = await syntheticModel("tiny", "q8_0");
});

function chat(args: string[], input: string): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--import", "tsx", "samples/chat/chat.ts", ...args], {
      cwd: root,
      env: { ...process.env, NO_COLOR: "1", PARLEY_MODEL: "", PARLEY_MODELS: "" },
      stdio: ["pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.setEncoding("utf8").on("data", (c: string) => (stdout += c));
    child.stderr.setEncoding("utf8").on("data", (c: string) => (stderr += c));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

describe("terminal chat", () => {
  it("plays a conversation from piped answers: NPC lines stream, the player's words show, it ends", async () => {
    // Whatever the random-weight model picks, "1" is a valid choice and any non-blank line is valid free
    // text. The blank and over-long lines first are asked again, not sent.
    const tooLong = "z".repeat(MAX_INPUT_CHARS + 1);
    const answers = ["", "   ", tooLong, "I need a sword for the road.", "1", "1", "Nice forge.", "1", "1", "1", "1"];
    const { code, stdout, stderr } = await chat(["--npc", "blacksmith", "--model", model, "--seed", "3"], answers.join("\n") + "\n");
    expect(stderr).toBe("");
    expect(code).toBe(0);
    expect(stdout).toContain("Talking to Brom Ironhand");
    expect(stdout).toMatch(/^Brom Ironhand: .+/m);
    expect(stdout).toContain("You: I need a sword for the road.");
    expect(stdout).toContain("(type what you want to say, then Enter; Ctrl-D leaves)");
    expect(stdout).toContain(`(that is ${MAX_INPUT_CHARS + 1} characters; say it in at most ${MAX_INPUT_CHARS})`);
    expect(stdout).not.toMatch(/^You:\s*$/m);
    expect(stdout).not.toContain(tooLong);
    // The first line the NPC heard is the first real one.
    expect(stdout.match(/^You: .*/m)?.[0]).toBe("You: I need a sword for the road.");
    expect(stdout).toMatch(/\[intent: (buy_weapon|ask_ore|small_talk)[\],]/);
    expect(stdout).toContain("Brom Ironhand: Off with you, then. The fire won't tend itself.");
    expect(stdout.trimEnd().endsWith("[conversation ended: end]")).toBe(true);
  });

  it("leaves the conversation at end of input", async () => {
    const { code, stdout } = await chat(["--npc", "blacksmith", "--model", model, "--seed", "3"], "");
    expect(code).toBe(0);
    expect(stdout).toContain("[end of input]");
    expect(stdout).toContain("[conversation ended: cancelled]");
  });

  it("says how to use it when the NPC is unknown", async () => {
    const { code, stderr } = await chat(["--npc", "dragon"], "");
    expect(code).toBe(2);
    expect(stderr).toMatch(/unknown NPC "dragon"/);
    expect(stderr).toMatch(/usage: npm run chat/);
  });
});

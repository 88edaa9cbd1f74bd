// `npm run chat -- --npc blacksmith`: talk to a village NPC in the terminal, through the same host
// (createVillageHost) the game uses. NPC lines stream as they generate; choices are numbered (type the
// number); free text answers input prompts (a blank or over-long line is asked again). Game events and
// intents show in dim text.
// Works with piped stdin too (each line answers the next prompt), which is how it is tested:
//   printf 'I need a sword\n1\n' | npm run chat -- --npc blacksmith --model tiny.gguf --seed 1

import { createInterface } from "node:readline";
import { parseArgs } from "node:util";
import { ParleyError } from "../../runtime/errors.js";
import type { DialogueEvent } from "../../plugin/index.js";
import { MAX_INPUT_CHARS, VILLAGE_NPCS, type HostEvent, type NpcId } from "../village/village-npcs.js";
import { createVillageHost } from "../village/host/village-host.js";

const USAGE = `usage: npm run chat -- --npc ${VILLAGE_NPCS.map((n) => n.id).join("|")} [--model FILE] [--seed N] [--device D]`;

const color = process.stdout.isTTY === true && !process.env.NO_COLOR;
const dim = (text: string): string => (color ? `\x1b[2m${text}\x1b[22m` : text);
const bold = (text: string): string => (color ? `\x1b[1m${text}\x1b[22m` : text);
const out = (text: string): void => void process.stdout.write(text);

class UsageError extends Error {}

function parseFlags(): { npc: NpcId; model?: string; seed?: number; device?: string } {
  const { values } = parseArgs({
    options: {
      npc: { type: "string", default: "blacksmith" },
      model: { type: "string" },
      seed: { type: "string" },
      device: { type: "string" },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const npc = values.npc as NpcId;
  if (!VILLAGE_NPCS.some((n) => n.id === npc)) throw new UsageError(`unknown NPC "${values.npc}"`);
  let seed: number | undefined;
  if (values.seed !== undefined) {
    seed = Number(values.seed);
    if (!Number.isSafeInteger(seed)) throw new UsageError(`--seed must be an integer, got ${values.seed}`);
  }
  return { npc, model: values.model, seed, device: values.device };
}

/** Lines from stdin, in order, handed out one at a time as prompts ask for them. */
class LineReader {
  readonly #lines: string[] = [];
  #waiting: ((line: string | null) => void) | undefined;
  #closed = false;
  readonly interactive = process.stdin.isTTY === true;
  readonly rl = createInterface({ input: process.stdin, terminal: process.stdin.isTTY === true && process.stdout.isTTY === true });

  constructor() {
    this.rl.on("line", (line) => {
      if (this.#waiting) {
        const w = this.#waiting;
        this.#waiting = undefined;
        w(line);
      } else this.#lines.push(line);
    });
    this.rl.on("close", () => {
      this.#closed = true;
      const w = this.#waiting;
      this.#waiting = undefined;
      w?.(null);
    });
  }

  /** The next line, or null at end of input. */
  next(prompt: string): Promise<string | null> {
    if (this.interactive) out(prompt);
    if (this.#lines.length > 0) return Promise.resolve(this.#lines.shift()!);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => (this.#waiting = resolve));
  }

  close(): void {
    this.rl.close();
  }
}

async function main(): Promise<number> {
  const flags = parseFlags();
  const service = await createVillageHost({ model: flags.model, seed: flags.seed, device: flags.device });
  const reader = new LineReader();
  const character = service.npc(flags.npc).character;
  console.log(dim(service.modelNote));
  console.log(dim(`Talking to ${character.name}, the ${character.role}. Type a number to pick a choice; Ctrl-C or Ctrl-D to leave.`));

  // Events are handled one at a time, in order; prompts wait for a line without blocking the stream.
  const queue: HostEvent[] = [];
  let wake: (() => void) | undefined;
  const off = service.subscribe((event) => {
    queue.push(event);
    wake?.();
  });

  let exiting = false;
  const leave = (): void => {
    if (exiting) process.exit(130);
    exiting = true;
    out(dim("\n[leaving]\n"));
    void service.cancel();
  };
  reader.rl.on("SIGINT", leave);
  process.on("SIGINT", leave);
  process.on("SIGTERM", leave);

  let streamed = ""; // the text of the line being streamed
  let atLineStart = true;
  const newline = (): void => {
    if (!atLineStart) out("\n");
    atLineStart = true;
  };
  const say = (text: string): void => {
    if (text === "") return;
    out(text);
    atLineStart = text.endsWith("\n");
  };

  const handle = async (event: DialogueEvent): Promise<boolean> => {
    switch (event.type) {
      case "started":
        say(dim(`— ${event.npcName} —\n`));
        break;
      case "line_started":
        newline();
        streamed = "";
        say(`${bold(event.speaker)}: `);
        break;
      case "text_chunk":
        streamed += event.text;
        say(event.text);
        break;
      case "line_reset":
        say(dim(" [withdrawn]"));
        newline();
        streamed = "";
        say(`${bold(character.name)}: `);
        break;
      case "line_complete":
        if (event.text !== streamed) {
          if (event.text.startsWith(streamed)) say(event.text.slice(streamed.length));
          else {
            newline();
            say(`${bold(event.speaker)}: ${event.text}`);
          }
        }
        streamed = "";
        newline();
        break;
      case "choices_offered": {
        newline();
        event.choices.forEach((c, i) => say(`  ${i + 1}. ${c.text}\n`));
        for (;;) {
          const line = await reader.next("> ");
          if (line === null) return false;
          const n = Number(line.trim());
          if (Number.isInteger(n) && n >= 1 && n <= event.choices.length) {
            await service.choose(event.choices[n - 1].index);
            break;
          }
          say(dim(`type a number from 1 to ${event.choices.length}\n`));
        }
        break;
      }
      case "input_requested": {
        newline();
        say(dim(`(${event.prompt || "say something"})\n`));
        for (;;) {
          const line = await reader.next("> ");
          if (line === null) return false;
          // A blank line is not an answer (the NPC would reply to silence): ask again.
          if (line.trim() === "") {
            say(dim("(type what you want to say, then Enter; Ctrl-D leaves)\n"));
            continue;
          }
          if (line.length > MAX_INPUT_CHARS) {
            say(dim(`(that is ${line.length} characters; say it in at most ${MAX_INPUT_CHARS})\n`));
            continue;
          }
          await service.submit(line);
          break;
        }
        break;
      }
      case "player_line":
        newline();
        say(`${bold("You")}: ${event.text}\n`);
        break;
      case "intent_chosen":
        newline();
        say(dim(`[intent: ${event.intent ?? `unclear (best ${event.best})`}, ${Math.round(event.confidence * 100)}% by ${event.source}]\n`));
        break;
      case "game_event":
        newline();
        say(dim(`[game] ${event.name} ${JSON.stringify(event.args)}\n`));
        break;
      case "variable_changed":
        break;
      case "ended":
        newline();
        say(dim(`[conversation ended: ${event.reason}${event.error ? ` — ${event.error}` : ""}]\n`));
        break;
    }
    return true;
  };

  await service.start(flags.npc);
  let endReason: string | undefined;
  while (endReason === undefined) {
    if (queue.length === 0) {
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      continue;
    }
    const event = queue.shift()!;
    if (event.type === "stats") {
      if (event.tokensPerSecond !== null) say(dim(`[${event.tokensPerSecond.toFixed(1)} tokens/s, first token ${event.firstTokenMs?.toFixed(0)} ms]\n`));
      continue;
    }
    if (event.type !== "dialogue" || event.npc !== flags.npc) continue;
    const keepGoing = await handle(event.event).catch((error: unknown) => {
      say(dim(`[${error instanceof Error ? error.message : String(error)}]\n`));
      return true;
    });
    if (!keepGoing && !exiting) {
      // End of input while the NPC waits for the player: leave the conversation.
      exiting = true;
      newline();
      say(dim("[end of input]\n"));
      await service.cancel();
    }
    if (event.event.type === "ended") endReason = event.event.reason;
  }
  off();
  reader.close();
  await service.dispose();
  return endReason === "error" ? 1 : 0;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    if (error instanceof UsageError || (error instanceof TypeError && (error as { code?: string }).code?.startsWith("ERR_PARSE_ARGS"))) {
      console.error(`chat: ${error.message}\n${USAGE}`);
      process.exit(2);
    }
    console.error(`chat: ${error instanceof ParleyError ? error.message : error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);

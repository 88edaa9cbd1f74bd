// A minimal game loop with one NPC conversation (README: "The dialogue plugin").
import { readFileSync } from "node:fs";
import { Runtime, writeSyntheticModel } from "parley/runtime";
import { DialogueRunner, LocalBackend, createDialogueStore, parseCharacter, parseDialogueGraph } from "parley/plugin";

const load = (path: string) => JSON.parse(readFileSync(new URL(path, import.meta.url), "utf8"));
const character = parseCharacter(load("./village/characters/blacksmith.json"));
const graph = parseDialogueGraph(load("./village/dialogue/blacksmith.json"));

// A real model: PARLEY_MODEL=tinyllama-1.1b-chat.Q4_0.gguf. Otherwise a random-weight stand-in.
let modelPath = process.env.PARLEY_MODEL;
if (!modelPath) await writeSyntheticModel({ shape: "tiny", type: "q4_0", seed: 1, out: (modelPath = "/tmp/parley-demo.gguf") });
const runtime = await Runtime.create();
const model = await runtime.loadModel(modelPath);
// Loading screen: pick the kernels for this player's GPU (measured once, then read from the tuning store).
if (runtime.device.type !== "cpu") await model.tune();
const backend = new LocalBackend(model, { device: runtime.device.name });
await backend.prepare(); // builds the GPU pipelines now, off the game's thread, not at the NPC's first line

// The game and its UI read dialogue state from a store; the runner feeds it events.
const store = createDialogueStore();
const runner = new DialogueRunner({ graph, character, backend, seed: 42, world: () => ({ time: "dusk" }) });
runner.on(store.getState().apply);
const conversation = runner.start();

// The player, scripted: what they type and which option they pick.
const typed = ["I need a sword for the road.", "Nice weather for forging."];
let shown = "";
const frame = setInterval(() => {
  const state = store.getState();
  if (state.bubble !== shown) {
    process.stdout.write(state.bubble.startsWith(shown) ? state.bubble.slice(shown.length) : `\n${state.conversation?.npcName}: ${state.bubble}`);
    shown = state.bubble;
  }
  if (state.status === "waiting_input" && runner.status === "waiting_input") {
    const text = typed.shift() ?? "Goodbye.";
    console.log(`\nPlayer: ${text}`);
    runner.submit(text);
  }
  if (state.status === "waiting_choice" && runner.status === "waiting_choice") {
    const pick = state.choices[0];
    console.log(`\nPlayer picks: ${pick.text}`);
    runner.choose(pick.index);
  }
  handleGameEvents();
}, 16);
const handleGameEvents = () => {
  for (const event of store.getState().takeGameEvents()) console.log(`\n[game] ${event.name} ${JSON.stringify(event.args)}`);
};

await conversation;
clearInterval(frame);
handleGameEvents();
console.log(`\n[conversation ${store.getState().endReason}] gold: ${runner.variables["player.gold"]}`);
backend.dispose();
runtime.dispose();

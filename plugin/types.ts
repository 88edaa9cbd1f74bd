// The data model of Parley's dialogue system: characters (personas) and dialogue graphs, as authored in
// the editor and loaded by games. Both are versioned JSON documents, validated at load (see
// character/validate.ts and dialogue/validate.ts); these types are what validation produces.

// ---------------------------------------------------------------------------------------------------
// Characters

export const CHARACTER_SCHEMA = "parley.character/1";

export interface Character {
  schema: typeof CHARACTER_SCHEMA;
  /** Stable id, [a-z0-9_-]+, used by graphs, relationships and memory. */
  id: string;
  name: string;
  /** What they are in the world: "blacksmith", "innkeeper". */
  role: string;
  /** Who they are, in prose (third person). */
  description: string;
  /** The situation the conversation happens in (a card's `scenario`); "" for none. */
  scenario: string;
  /** Personality traits: "gruff", "kind to children". */
  personality: string[];
  speakingStyle: SpeakingStyle;
  /** Lore and knowledge: always in the prompt, or brought in when a keyword appears in the conversation. */
  knowledge: LoreEntry[];
  goals: string[];
  /** Never to be revealed: the guardrails check replies against them. */
  secrets: Secret[];
  relationships: Relationship[];
  /** The first line when the player starts talking. */
  greeting: string;
  /** Other first lines; the runner picks among `greeting` and these by the conversation's seed. */
  alternateGreetings: string[];
  /** Example exchanges that show the voice. */
  examples: ExampleExchange[];
  /** The persona's own instructions (a card's `system_prompt`); placed below Parley's rules, never above. */
  systemPrompt: string;
  /** Instructions placed after the conversation history (a card's `post_history_instructions`). */
  postHistoryInstructions: string;
  /** Current mood, a word or short phrase; games change it at run time. */
  mood: string;
  /** Authored lines used when no model is loaded or generation fails, so a bubble is never empty. */
  fallbackLines: string[];
  /** Data kept for other tools (Character Card V2 `extensions` round-trip here untouched). */
  extensions: Record<string, unknown>;
}

export interface SpeakingStyle {
  /** How they talk: "short sentences, smithing metaphors, calls the player 'lad'". */
  description: string;
  /** Replies are cut to this many words, at a sentence end. */
  maxWords: number;
}

export interface LoreEntry {
  /** Words or phrases (case-insensitive) that bring this entry into the prompt; empty with `always`. */
  keywords: string[];
  text: string;
  /** Always in the prompt (part of the stable persona prefix). */
  always: boolean;
  /** Higher first when the token budget is tight. */
  priority: number;
}

export interface Secret {
  /** The secret itself, told to the model as something it must never say. */
  text: string;
  /** Words or phrases whose appearance in a reply counts as a leak. */
  leakPatterns: string[];
}

export interface Relationship {
  /** "player", or another character's id. */
  target: string;
  /** "friendly", "suspicious", "owes them money". */
  attitude: string;
  description: string;
}

export interface ExampleExchange {
  player: string;
  npc: string;
}

// ---------------------------------------------------------------------------------------------------
// Dialogue graphs

export const DIALOGUE_SCHEMA = "parley.dialogue/1";

export type VariableType = "bool" | "number" | "string";
export type Value = boolean | number | string;

export interface VariableDeclaration {
  type: VariableType;
  default: Value;
}

/** Something the game handles: `{ name: "give_item", args: { item: "sword" } }`. */
export interface GameEvent {
  name: string;
  args: Record<string, Value>;
}

export interface DialogueGraph {
  schema: typeof DIALOGUE_SCHEMA;
  id: string;
  /** The character who speaks the NPC lines. */
  character: string;
  /** Id of the first node. */
  start: string;
  /** Typed variables with defaults; conditions and effects use them by name. */
  variables: Record<string, VariableDeclaration>;
  nodes: Record<string, DialogueNode>;
}

interface NodeBase {
  /** Free-form tags the game can read (animation hints, camera cues). */
  tags: string[];
  /** Game events emitted when the node runs. */
  events: GameEvent[];
}

/** An authored NPC line. `{name}` placeholders are replaced by variable values. */
export interface LineNode extends NodeBase {
  type: "line";
  text: string;
  next: string | null;
}

export interface ChoiceOption {
  text: string;
  next: string;
  /** Shown only when this expression is true. */
  condition: string | null;
  tags: string[];
}

/** Player options. The runner offers those whose condition holds. */
export interface ChoiceNode extends NodeBase {
  type: "choice";
  options: ChoiceOption[];
}

/** An NPC line generated from the persona and an authored instruction. */
export interface LlmLineNode extends NodeBase {
  type: "llm_line";
  /** What the line should do: "Greet the player and mention the broken cart". */
  instruction: string;
  /** Overrides the character's maxWords for this line. */
  maxWords: number | null;
  /** Authored line when generation fails or no model is loaded. */
  fallback: string;
  next: string | null;
}

/** Free text from the player. With `reply`, the NPC answers in character; the text is also stored. */
export interface PlayerInputNode extends NodeBase {
  type: "player_input";
  /** Hint shown in the input box. */
  prompt: string;
  /** Generate an in-character answer. */
  reply: boolean;
  /** Instruction for the answer ("Stay wary; he does not trust strangers"). */
  instruction: string;
  /** Variable (type string) that receives the player's text; null: not stored. */
  store: string | null;
  next: string | null;
}

export interface Intent {
  id: string;
  /** What the player means: "wants to buy a weapon". */
  description: string;
  /** Authored phrases a player might say for this intent; routing compares the player's words with them. */
  examples: string[];
  next: string;
}

/** Classifies the player's last free text into one of the authored intents (constrained decoding). */
export interface IntentNode extends NodeBase {
  type: "intent";
  intents: Intent[];
  /** Where to go when the text matches none well enough (also when nothing can judge: no model, no examples). */
  fallback: string;
  /** Combined probability the best intent needs to be taken (0–1); null: the default (0.5). */
  minConfidence: number | null;
}

export interface Branch {
  condition: string;
  next: string;
}

export interface BranchNode extends NodeBase {
  type: "branch";
  branches: Branch[];
  /** Taken when no condition holds. */
  otherwise: string;
}

/** Effects on variables, e.g. `gold = gold - 10`, `met_smith = true`. */
export interface SetNode extends NodeBase {
  type: "set";
  effects: string[];
  next: string | null;
}

export interface JumpNode extends NodeBase {
  type: "jump";
  target: string;
}

export interface EndNode extends NodeBase {
  type: "end";
}

export type DialogueNode = LineNode | ChoiceNode | LlmLineNode | PlayerInputNode | IntentNode | BranchNode | SetNode | JumpNode | EndNode;

export type DialogueNodeType = DialogueNode["type"];

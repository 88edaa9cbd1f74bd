// Character Card V2: import maps the card onto a Parley character (texts as written, macros kept);
// card → character → card is exact.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { characterFromCardV2, characterToCardV2, idFromName, parseExamples, type CardV2 } from "../../plugin/character/card-v2.js";
import { parseCharacter, serializeCharacter } from "../../plugin/character/validate.js";
import { PluginValidationError } from "../../plugin/errors.js";

/** A card as SillyTavern / chub export them: every field, a lorebook, extensions Parley does not know. */
function richCard(): CardV2 {
  return {
    spec: "chara_card_v2",
    spec_version: "2.0",
    data: {
      name: "Seraphina",
      description: "{{char}} is a guardian of the Eldoria forest. She heals travellers like {{user}} who lose their way.",
      personality: "kind, protective,  wise ,gentle",
      scenario: "{{user}} wakes up in {{char}}'s glade after a wolf attack.",
      first_mes: "*{{char}} kneels beside you.* Easy now, {{user}}. You're safe here.",
      mes_example:
        "<START>\n{{user}}: Who are you?\n{{char}}: I am Seraphina, keeper of this forest.\n<START>\n{{user}}: Where am I?\n{{char}}: In my glade. The wolves cannot follow you here.\nRest now.",
      creator_notes: "Works best with a warm temperature.",
      system_prompt: "You are {{char}}. Stay in character.",
      post_history_instructions: "Keep replies under 100 words.",
      alternate_greetings: ["*{{char}} hums a song.* Oh! A visitor.", "Welcome back, {{user}}."],
      character_book: {
        name: "Eldoria",
        description: "Lore of the forest",
        scan_depth: 4,
        token_budget: 512,
        recursive_scanning: false,
        extensions: { world_info_source: "manual" },
        entries: [
          {
            keys: ["Eldoria", "forest"],
            content: "Eldoria is an ancient forest protected by {{char}}'s magic.",
            extensions: { position: 0, depth: 4, probability: 100 },
            enabled: true,
            insertion_order: 100,
            case_sensitive: false,
            name: "forest",
            priority: 10,
            id: 0,
            comment: "the setting",
            selective: false,
            secondary_keys: [],
            constant: true,
            position: "before_char",
          },
          {
            keys: ["wolves", "wolf"],
            content: "Shadow wolves roam the edges of Eldoria at night.",
            extensions: {},
            enabled: true,
            insertion_order: 50,
            id: 1,
            constant: false,
            position: "after_char",
          },
          {
            keys: ["secret grove"],
            content: "A disabled note the author left switched off.",
            extensions: {},
            enabled: false,
            insertion_order: 10,
            id: 2,
          },
          {
            keys: ["healing"],
            content: "Seraphina heals with moonlight.",
            extensions: { weight: 3 },
            enabled: true,
            insertion_order: 75,
            id: 3,
          },
        ],
      },
      tags: ["fantasy", "female", "healer"],
      creator: "someone@chub",
      character_version: "1.2",
      extensions: {
        talkativeness: "0.5",
        fav: true,
        world: "Eldoria",
        depth_prompt: { prompt: "{{char}} is gentle.", depth: 4, role: "system" },
      },
    },
  };
}

describe("characterFromCardV2", () => {
  it("maps the card's fields onto a valid Parley character", () => {
    const c = characterFromCardV2(richCard());
    expect(parseCharacter(c)).toEqual(c);
    expect(c.id).toBe("seraphina");
    expect(c.name).toBe("Seraphina");
    expect(c.role).toBe("character");
    // Macros stay macros: the prompt builder resolves them with the NPC's and the player's names.
    expect(c.description).toBe("{{char}} is a guardian of the Eldoria forest. She heals travellers like {{user}} who lose their way.");
    expect(c.personality).toEqual(["kind", "protective", "wise", "gentle"]);
    expect(c.greeting).toBe("*{{char}} kneels beside you.* Easy now, {{user}}. You're safe here.");
    expect(c.alternateGreetings).toEqual(["*{{char}} hums a song.* Oh! A visitor.", "Welcome back, {{user}}."]);
    expect(c.scenario).toBe("{{user}} wakes up in {{char}}'s glade after a wolf attack.");
    expect(c.systemPrompt).toBe("You are {{char}}. Stay in character.");
    expect(c.postHistoryInstructions).toBe("Keep replies under 100 words.");
    expect(c.examples).toEqual([
      { player: "Who are you?", npc: "I am Seraphina, keeper of this forest." },
      { player: "Where am I?", npc: "In my glade. The wolves cannot follow you here.\nRest now." },
    ]);
    // Disabled entries are not knowledge; the rest map keys/content/constant/insertion_order.
    expect(c.knowledge).toEqual([
      { keywords: ["Eldoria", "forest"], text: "Eldoria is an ancient forest protected by {{char}}'s magic.", always: true, priority: 100 },
      { keywords: ["wolves", "wolf"], text: "Shadow wolves roam the edges of Eldoria at night.", always: false, priority: 50 },
      { keywords: ["healing"], text: "Seraphina heals with moonlight.", always: false, priority: 75 },
    ]);
    expect(c.mood).toBe("neutral");
    expect(c.speakingStyle.maxWords).toBeGreaterThan(0);
  });

  it("keeps unknown extensions as they are, and card fields with no Parley home under chara_card", () => {
    const c = characterFromCardV2(richCard());
    expect(c.extensions.fav).toBe(true);
    expect(c.extensions.depth_prompt).toEqual({ prompt: "{{char}} is gentle.", depth: 4, role: "system" });
    const kept = c.extensions.chara_card as Record<string, unknown>;
    expect(kept).toMatchObject({
      creator_notes: "Works best with a warm temperature.",
      tags: ["fantasy", "female", "healer"],
      creator: "someone@chub",
      character_version: "1.2",
    });
    // Fields with a Parley home are not parked here.
    for (const f of ["scenario", "system_prompt", "post_history_instructions", "alternate_greetings", "first_mes"]) expect(kept).not.toHaveProperty(f);
  });

  it("takes an id option", () => {
    const c = characterFromCardV2(richCard(), { id: "forest_guardian" });
    expect(c.id).toBe("forest_guardian");
  });

  it("reports card problems with the card's paths", () => {
    const card = richCard() as unknown as { data: Record<string, unknown> };
    card.data.name = "";
    card.data.first_mes = 5;
    card.data.tags = "fantasy";
    (card.data.character_book as { entries: unknown[] }).entries[1] = { keys: "wolf", content: 3 };
    let error: PluginValidationError | undefined;
    try {
      characterFromCardV2(card);
    } catch (e) {
      error = e as PluginValidationError;
    }
    expect(error).toBeInstanceOf(PluginValidationError);
    expect(error!.issues.map((i) => i.path)).toEqual([
      "data.name",
      "data.first_mes",
      "data.tags",
      "data.character_book.entries[1].keys",
      "data.character_book.entries[1].content",
    ]);
  });

  it("refuses other card specs clearly", () => {
    expect(() => characterFromCardV2({ spec: "chara_card_v3", spec_version: "3.0", data: {} })).toThrow(
      /spec: unsupported card: spec "chara_card_v3" version "3.0" \(this reads spec "chara_card_v2", spec_version "2.0"\)/,
    );
    expect(() => characterFromCardV2({ name: "V1 card", description: "" })).toThrow(/unsupported card: no spec field/);
  });
});

describe("card → character → card", () => {
  it("is exact for a rich card (lorebook, disabled entry, unknown extensions, every text field)", () => {
    const card = richCard();
    const back = characterToCardV2(characterFromCardV2(card));
    expect(back).toEqual(card);
  });

  it("is exact through the saved file too (serializeCharacter → parseCharacter)", () => {
    const card = richCard();
    const saved = serializeCharacter(characterFromCardV2(card));
    expect(characterToCardV2(parseCharacter(JSON.parse(saved)))).toEqual(card);
  });

  it("is exact when texts use the literal name, examples or traits are loosely written, or unknown fields exist", () => {
    const card = richCard() as CardV2 & Record<string, unknown>;
    card.data.description = "Seraphina (not {{char}}) guards the forest.";
    card.data.personality = "kind\nwise";
    card.data.mes_example = "{{char}}: Hello there.\n\n<START>\n{{user}}: Hi\n{{user}}: Hello?\n{{char}}: Shh.";
    card.data.character_book!.entries[1].content = "Seraphina fears the wolves.";
    card.data.nickname = "Sera";
    card.name = "Seraphina"; // V1 fields at the top level, as some tools write them
    card.first_mes = card.data.first_mes;
    card.data.alternate_greetings = ["", "Hello again."];
    const c = characterFromCardV2(card);
    expect(c.alternateGreetings).toEqual(["Hello again."]);
    const back = characterToCardV2(c);
    expect(back).toEqual(card);
  });

  it("is exact for a minimal card without a lorebook", () => {
    const card: CardV2 = {
      spec: "chara_card_v2",
      spec_version: "2.0",
      data: {
        name: "Bob",
        description: "",
        personality: "",
        scenario: "",
        first_mes: "Hey.",
        mes_example: "",
        creator_notes: "",
        system_prompt: "",
        post_history_instructions: "",
        alternate_greetings: [],
        tags: [],
        creator: "",
        character_version: "",
        extensions: {},
      },
    };
    expect(characterToCardV2(characterFromCardV2(card))).toEqual(card);
  });
});

describe("characterToCardV2", () => {
  it("writes edited fields back as they are, keeping what Parley has no field for", () => {
    const c = characterFromCardV2(richCard());
    c.greeting = "Welcome, {{user}}. {{char}} is glad you came.";
    c.scenario = "A quiet night.";
    c.personality = [...c.personality, "stubborn"];
    c.knowledge[1] = { ...c.knowledge[1], text: "{{char}} fights the wolves." };
    c.knowledge.push({ keywords: ["moon"], text: "The moon is bright.", always: false, priority: 5 });
    const card = characterToCardV2(c);
    expect(card.data.first_mes).toBe("Welcome, {{user}}. {{char}} is glad you came.");
    expect(card.data.scenario).toBe("A quiet night.");
    expect(card.data.personality).toBe("kind, protective, wise, gentle, stubborn");
    const entries = card.data.character_book!.entries;
    expect(entries.map((e) => e.content)).toEqual([
      "Eldoria is an ancient forest protected by {{char}}'s magic.",
      "{{char}} fights the wolves.",
      "A disabled note the author left switched off.",
      "Seraphina heals with moonlight.",
      "The moon is bright.",
    ]);
    // Fields Parley has no place for survive the edit.
    expect(entries[1]).toMatchObject({ id: 1, position: "after_char", constant: false, insertion_order: 50 });
    expect(entries[4]).toEqual({ keys: ["moon"], content: "The moon is bright.", extensions: {}, enabled: true, insertion_order: 5 });
  });

  it("exports a Parley-made character with its Parley fields under extensions.parley, and reads them back", () => {
    const smith = parseCharacter(JSON.parse(readFileSync(new URL("../../samples/village/characters/blacksmith.json", import.meta.url), "utf8")));
    const card = characterToCardV2(smith);
    expect(card.spec).toBe("chara_card_v2");
    expect(card.data.name).toBe("Brom Ironhand");
    expect(card.data.first_mes).toBe(smith.greeting);
    expect(card.data.personality).toBe(smith.personality.join(", "));
    expect(card.data.mes_example).toContain("<START>\n{{user}}: Nice forge you have here.\n{{char}}: Forty years of fire and sweat, lad. It'd better be.");
    expect(card.data.character_book!.entries).toHaveLength(smith.knowledge.length);
    expect(card.data.extensions.parley).toMatchObject({ id: "blacksmith", role: "blacksmith", mood: "busy" });
    expect(characterFromCardV2(card)).toEqual(smith);
    expect(characterToCardV2(characterFromCardV2(card))).toEqual(card);
  });
});

describe("helpers", () => {
  it("idFromName makes a valid id", () => {
    expect(idFromName("Brom Ironhand")).toBe("brom-ironhand");
    expect(idFromName("Zoë the Brave!")).toBe("zoe-the-brave");
    expect(idFromName("???")).toBe("character");
  });

  it("parseExamples reads <START> blocks, name-prefixed lines and multi-line messages", () => {
    expect(parseExamples("<START>\n{{user}}: hi\nBob: hello\nthere\n<START>\n<USER>: yo\n<BOT>: sup", "Bob")).toEqual([
      { player: "hi", npc: "hello\nthere" },
      { player: "yo", npc: "sup" },
    ]);
  });
});

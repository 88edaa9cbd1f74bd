// Character card files: JSON and PNG cards in the shapes other tools write (PNGs built byte by byte from the
// PNG spec in test/fixtures/card-png.ts), the clear errors for files that are not cards, and exports read
// back with an independent chunk walk.
import { describe, expect, it } from "vitest";
import { CardFileError } from "../../plugin/character/card-errors.js";
import { cardFileName, exportCardJson, exportCardPng, importCardFile, readCardFile } from "../../plugin/character/card-file.js";
import { defaultPortraitPng } from "../../plugin/character/card-portrait.js";
import { parseCharacter } from "../../plugin/character/validate.js";
import { base64Json, cardV2Png, onePixelImage, pngFile, pngTexts, textChunk, walkPng } from "../fixtures/card-png.js";

const utf8 = (text: string) => new TextEncoder().encode(text);

const v2Card = {
  spec: "chara_card_v2",
  spec_version: "2.0",
  data: {
    name: "Wren Tallow",
    description: "{{char}} keeps the lighthouse on the point and distrusts boats.",
    personality: "watchful, dry, patient",
    scenario: "",
    first_mes: "You're late for the tide, {{user}}.",
    mes_example: "<START>\n{{user}}: Is the lamp lit?\n{{char}}: Always, before dusk.",
    creator_notes: "",
    system_prompt: "",
    post_history_instructions: "",
    alternate_greetings: [],
    tags: ["coast"],
    creator: "someone",
    character_version: "1",
    extensions: { talkativeness: "0.5" },
    character_book: {
      extensions: {},
      entries: [{ keys: ["lamp"], content: "The lamp burns whale oil.", extensions: {}, enabled: true, insertion_order: 10 }],
    },
  },
};

function problemOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(CardFileError);
    return (error as CardFileError).problem;
  }
  throw new Error("expected a CardFileError");
}

describe("reading card files", () => {
  it("reads a Card V2 PNG laid out as SillyTavern writes it", () => {
    const { character, source } = importCardFile(cardV2Png(v2Card));
    expect(source).toEqual({ format: "png", chunk: "chara", spec: "v2" });
    expect(character.name).toBe("Wren Tallow");
    expect(character.id).toBe("wren-tallow");
    expect(character.personality).toEqual(["watchful", "dry", "patient"]);
    expect(character.examples).toEqual([{ player: "Is the lamp lit?", npc: "Always, before dusk." }]);
    expect(character.knowledge).toEqual([{ keywords: ["lamp"], text: "The lamp burns whale oil.", always: false, priority: 10 }]);
    expect(character.extensions.talkativeness).toBe("0.5");
  });

  it("prefers the ccv3 chunk when a PNG has both, and falls back to chara when ccv3 is broken", () => {
    const { ihdr, idat, iend } = onePixelImage();
    const v3 = {
      spec: "chara_card_v3",
      spec_version: "3.0",
      data: {
        ...v2Card.data,
        name: "Wren the Third",
        nickname: "Wren",
        group_only_greetings: [],
        assets: [{ type: "icon", uri: "ccdefault:", name: "main", ext: "png" }],
      },
    };
    const both = pngFile([ihdr, textChunk("chara", base64Json(v2Card)), idat, textChunk("ccv3", base64Json(v3)), iend]);
    const read = importCardFile(both);
    expect(read.source).toEqual({ format: "png", chunk: "ccv3", spec: "v3" });
    expect(read.character.name).toBe("Wren the Third");
    // V3-only fields survive in the kept card fields.
    expect((read.character.extensions.chara_card as Record<string, unknown>).assets).toEqual(v3.data.assets);

    const brokenV3 = pngFile([ihdr, idat, textChunk("ccv3", "%%% not base64 %%%"), textChunk("chara", base64Json(v2Card)), iend]);
    expect(importCardFile(brokenV3).source.chunk).toBe("chara");
  });

  it("reads lenient JSON shapes: V2 without spec_version, a minimal V1 card, a legacy book place", () => {
    const noVersion = { spec: "chara_card_v2", data: { name: "Ida", first_mes: "Hm?" } };
    expect(importCardFile(utf8(JSON.stringify(noVersion))).character.greeting).toBe("Hm?");
    const v1 = readCardFile(utf8("\uFEFF" + JSON.stringify({ name: "Old Pell", description: "A ferryman.", first_mes: "Fare's a copper.", avatar: "none" })));
    expect(v1.source).toEqual({ format: "json", spec: "v1" });
    expect(importCardFile(utf8(JSON.stringify({ name: "Old Pell", description: "A ferryman.", first_mes: "Fare's a copper." }))).character.description).toBe(
      "A ferryman.",
    );
    const flatWithSpec = readCardFile(utf8(JSON.stringify({ spec: "chara_card_v2", name: "Flat", first_mes: "Hi." })));
    expect(flatWithSpec.source.spec).toBe("v1");
    expect(importCardFile(utf8(JSON.stringify({ spec: "chara_card_v2", name: "Flat", first_mes: "Hi." }))).character.greeting).toBe("Hi.");
    const legacy = {
      spec: "chara_card_v2",
      spec_version: "2.0",
      data: {
        name: "Sal",
        first_mes: "Yes?",
        extensions: {
          character_book: { extensions: {}, entries: [{ keys: ["salt"], content: "Salt is dear.", extensions: {}, enabled: true, insertion_order: 1 }] },
        },
      },
    };
    expect(importCardFile(utf8(JSON.stringify(legacy))).character.knowledge.map((k) => k.text)).toEqual(["Salt is dear."]);
  });

  it("refuses what is not a card with a typed, clear error", () => {
    const { ihdr, idat, iend } = onePixelImage();
    expect(problemOf(() => readCardFile(pngFile([ihdr, idat, iend])))).toBe("NO_CARD_CHUNK");
    expect(problemOf(() => readCardFile(utf8("GIF89a not a card")))).toBe("NOT_A_CARD_FILE");
    expect(problemOf(() => readCardFile(Uint8Array.from([0xff, 0xfe, 0x00, 0xd8])))).toBe("NOT_A_CARD_FILE");
    expect(problemOf(() => readCardFile(pngFile([ihdr, textChunk("chara", "@@@@"), idat, iend])))).toBe("BAD_BASE64");
    expect(problemOf(() => readCardFile(pngFile([ihdr, textChunk("chara", Buffer.from("{not json").toString("base64")), idat, iend])))).toBe("BAD_JSON");
    expect(problemOf(() => readCardFile(utf8('{"spec": ')))).toBe("BAD_JSON");
    expect(problemOf(() => readCardFile(cardV2Png(v2Card).subarray(0, 60)))).toBe("CORRUPT_PNG");
    expect(problemOf(() => readCardFile(new Uint8Array(2048), { maxBytes: 1024 }))).toBe("TOO_LARGE");
    // A chunk that claims 4 GB in a tiny file is refused before anything is allocated for it.
    const hostile = pngFile([ihdr, idat, iend]);
    new DataView(hostile.buffer).setUint32(8 + 25, 0xfffffff0);
    expect(problemOf(() => readCardFile(hostile))).toBe("CORRUPT_PNG");
    // A card that is read but does not make a character names the card's field.
    const noGreeting = () => importCardFile(utf8(JSON.stringify({ spec: "chara_card_v2", data: { name: "Nobody", first_mes: "" } })));
    expect(problemOf(noGreeting)).toBe("INVALID_CARD");
    expect(() => noGreeting()).toThrow(/data\.first_mes/);
  });
});

describe("writing card files", () => {
  const character = importCardFile(cardV2Png(v2Card)).character;

  it("exports Card V2 JSON that imports back to the same character", () => {
    const json = exportCardJson(character);
    expect(JSON.parse(json)).toMatchObject({
      spec: "chara_card_v2",
      spec_version: "2.0",
      data: { name: "Wren Tallow", first_mes: "You're late for the tide, {{user}}." },
    });
    expect(importCardFile(utf8(json)).character).toEqual(character);
    expect(cardFileName(character, "json")).toBe("wren-tallow.card.json");
  });

  it("exports a PNG with chara (V2) and ccv3 (V3) chunks before IEND, readable by an independent chunk walk", () => {
    const png = exportCardPng(character);
    const chunks = walkPng(png);
    expect(chunks.every((c) => c.crcOk)).toBe(true);
    expect(chunks[0].type).toBe("IHDR");
    expect(chunks.at(-1)!.type).toBe("IEND");
    expect(chunks.at(-2)!.type).toBe("tEXt");
    const texts = pngTexts(png);
    expect([...texts.keys()]).toEqual(["chara", "ccv3"]);
    const card = JSON.parse(Buffer.from(texts.get("chara")!, "base64").toString("utf8")) as { spec: string; data: { name: string } };
    expect([card.spec, card.data.name]).toEqual(["chara_card_v2", "Wren Tallow"]);
    const v3 = JSON.parse(Buffer.from(texts.get("ccv3")!, "base64").toString("utf8")) as { spec: string; spec_version: string; data: { name: string } };
    expect([v3.spec, v3.spec_version, v3.data.name]).toEqual(["chara_card_v3", "3.0", "Wren Tallow"]);
    expect([...pngTexts(exportCardPng(character, { spec: "v2" })).keys()]).toEqual(["chara"]);
    expect(importCardFile(png).character).toEqual(character);
    // The default portrait is a real 256×256 image.
    const ihdr = new DataView(walkPng(defaultPortraitPng())[0].data.buffer);
    expect([ihdr.getUint32(0), ihdr.getUint32(4)]).toEqual([256, 256]);
  });

  it("replaces the card chunks of a given portrait, keeping its image chunks", () => {
    const portrait = pngFile(Object.values(onePixelImage()).flatMap((c, i) => (i === 1 ? [c, textChunk("ccv3", "old"), textChunk("Title", "kept")] : [c])));
    const png = exportCardPng(parseCharacter({ ...character, name: "Wren Tallow", description: "Changed ✓ — ünïcode" }), { portrait });
    expect(walkPng(png).map((c) => c.type)).toEqual(["IHDR", "IDAT", "tEXt", "tEXt", "tEXt", "IEND"]);
    expect([...pngTexts(png).keys()]).toEqual(["Title", "chara", "ccv3"]);
    expect(importCardFile(png).character.description).toBe("Changed ✓ — ünïcode");
  });
});

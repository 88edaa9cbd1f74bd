// The editor host's card and token routes over real HTTP, on a temp copy of the village project: a card
// PNG (written byte by byte, test/fixtures/card-png.ts) imported as a new character with a unique id,
// refused files with their codes and nothing written, exports read back with an independent chunk walk,
// and token counts from the real Llama 2 tokenizer.
import { cp, mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { editorRoutes, mapEditorError } from "../../editor/host/editor-api.js";
import { llama2Tokenizer } from "../../editor/host/character-tokens.js";
import { ProjectFolder } from "../../editor/project/index.js";
import { parseCharacter } from "../../plugin/character/validate.js";
import { buildPersonaPrefix } from "../../plugin/prompt/prompt-builder.js";
import { startLoopbackServer, type LoopbackServer } from "../../runtime/host/loopback-server.js";
import { cardV2Png, onePixelImage, pngFile, pngTexts, walkPng } from "../fixtures/card-png.js";

const village = fileURLToPath(new URL("../../samples/village/", import.meta.url));
const card = {
  spec: "chara_card_v2",
  spec_version: "2.0",
  data: {
    name: "Innkeeper",
    description: "{{char}} is a tinker from the south.",
    personality: "chatty",
    first_mes: "Pots mended!",
    mes_example: "",
    extensions: {},
  },
};

let scratch: string;
let server: LoopbackServer;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "parley-card-routes-"));
  for (const entry of ["characters", "dialogue", "parley.project.json"]) await cp(join(village, entry), join(scratch, entry), { recursive: true });
  const project = await ProjectFolder.open(scratch);
  server = await startLoopbackServer({ routes: editorRoutes(project), maxBodyBytes: 32 * 1024 * 1024, mapError: mapEditorError });
});
afterAll(async () => {
  await server.close();
  await rm(scratch, { recursive: true, force: true });
});

// Test-side JSON: tests read fields of answers and files loosely.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = Record<string, any>;

async function post(route: string, body: unknown): Promise<{ status: number; json: Json }> {
  const response = await fetch(`${server.origin}/api/${route}`, {
    method: "POST",
    headers: { "x-parley-token": server.token, "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: response.status, json: (await response.json()) as Json };
}

const base64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

describe("card routes", () => {
  it("imports a card PNG as a new character, with a free id when the card's is taken", async () => {
    // The village already has an "innkeeper": the card's character becomes innkeeper-2.
    const { status, json } = await post("import-card", { data: base64(cardV2Png(card)) });
    expect(status).toBe(200);
    expect(json.source).toEqual({ format: "png", chunk: "chara", spec: "v2" });
    expect(json.document.path).toBe("characters/innkeeper-2.json");
    const saved = parseCharacter(JSON.parse(await readFile(join(scratch, "characters", "innkeeper-2.json"), "utf8")));
    expect(saved.description).toBe("{{char}} is a tinker from the south."); // macros are resolved at prompt time
    expect(saved.id).toBe("innkeeper-2");

    const again = await post("import-card", { data: base64(cardV2Png(card)), id: "innkeeper-2" });
    expect(again.status).toBe(409);
    expect(again.json.error.code).toBe("CHARACTER_EXISTS");
  });

  it("refuses files that hold no card with their code, writing nothing", async () => {
    const before = await readdir(join(scratch, "characters"));
    const { ihdr, idat, iend } = onePixelImage();
    const noCard = await post("import-card", { data: base64(pngFile([ihdr, idat, iend])) });
    expect([noCard.status, noCard.json.error.code]).toEqual([400, "NO_CARD_CHUNK"]);
    expect(noCard.json.error.message).toMatch(/no character card/);
    const notCard = await post("import-card", { data: Buffer.from("just text").toString("base64") });
    expect([notCard.status, notCard.json.error.code]).toEqual([400, "NOT_A_CARD_FILE"]);
    const noGreeting = await post("import-card", {
      data: Buffer.from(JSON.stringify({ spec: "chara_card_v2", data: { name: "Mute", first_mes: "" } })).toString("base64"),
    });
    expect([noGreeting.status, noGreeting.json.error.code]).toEqual([400, "INVALID_CARD"]);
    expect(noGreeting.json.error.issues[0].path).toBe("data.first_mes");
    const huge = await post("import-card", { data: "A".repeat(28 * 1024 * 1024) });
    expect([huge.status, huge.json.error.code]).toEqual([413, "TOO_LARGE"]);
    expect(await readdir(join(scratch, "characters"))).toEqual(before);
  });

  it("exports a saved character as Card V2 or V3 JSON and PNG", async () => {
    const json = await post("export-card", { id: "innkeeper", format: "json" });
    expect(json.status).toBe(200);
    expect(json.json.fileName).toBe("innkeeper.card.json");
    expect(JSON.parse(Buffer.from(json.json.data, "base64").toString("utf8"))).toMatchObject({ spec: "chara_card_v2", data: { name: "Maren Bell" } });

    const png = await post("export-card", { id: "innkeeper", format: "png" });
    expect(png.json.mimeType).toBe("image/png");
    const bytes = new Uint8Array(Buffer.from(png.json.data, "base64"));
    expect(walkPng(bytes).every((c) => c.crcOk)).toBe(true);
    const inside = JSON.parse(Buffer.from(pngTexts(bytes).get("chara")!, "base64").toString("utf8")) as { data: { name: string } };
    expect(inside.data.name).toBe("Maren Bell");
    expect([...pngTexts(bytes).keys()]).toEqual(["chara", "ccv3"]);

    const v3 = await post("export-card", { id: "innkeeper", format: "json", spec: "v3" });
    expect(JSON.parse(Buffer.from(v3.json.data, "base64").toString("utf8"))).toMatchObject({
      spec: "chara_card_v3",
      spec_version: "3.0",
      data: { name: "Maren Bell" },
    });
    const v2Png = await post("export-card", { id: "innkeeper", format: "png", spec: "v2" });
    expect([...pngTexts(new Uint8Array(Buffer.from(v2Png.json.data, "base64"))).keys()]).toEqual(["chara"]);
    expect((await post("export-card", { id: "innkeeper", format: "json", spec: "v4" })).status).toBe(400);

    expect((await post("export-card", { id: "nobody", format: "png" })).status).toBe(404);
    expect((await post("export-card", { id: "innkeeper", format: "gif" })).status).toBe(400);
  });

  it("counts tokens per field and for the persona prefix with the Llama 2 tokenizer", async () => {
    const maren = JSON.parse(await readFile(join(scratch, "characters", "innkeeper.json"), "utf8")) as Record<string, unknown>;
    const { status, json } = await post("character-tokens", { character: maren });
    expect(status).toBe(200);
    const tokenizer = llama2Tokenizer();
    expect(json.fields.description).toBe(tokenizer.encode(maren.description as string, { addBos: false }).length);
    expect(json.fields["speakingStyle.description"]).toBeGreaterThan(0);
    expect(json.fields.id).toBeUndefined();
    expect(json.persona).toBe(tokenizer.encode(buildPersonaPrefix(parseCharacter(maren)), { addBos: false }).length);
    expect(json.contextSize).toBe(2048);

    // A character being typed that is not valid yet: its fields are counted, the persona is not.
    const broken = await post("character-tokens", { character: { ...maren, name: "", greeting: 5 } });
    expect(broken.json.persona).toBeNull();
    expect(broken.json.fields.description).toBe(json.fields.description);
  });
});

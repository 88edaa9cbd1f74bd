// The editor host's character card and token routes, added to editorRoutes (editor-api.ts):
//
//   POST /api/import-card {data, id?}             → {document, source}
//        `data` is the card file's bytes in base64 (JSON, PNG or CHARX; the page reads a picked file); the card
//        becomes characters/ID.json, ID being `id`, else the card's own (its Parley id, or one made from its
//        name) made unique with -2, -3… Nothing is written when the card is not a valid character.
//   POST /api/export-card {id, format: "json" | "png", spec?: "v2" | "v3"} → {fileName, mimeType, data}
//        the saved character as a card file to download (data in base64): JSON is Card V2 unless spec is
//        "v3"; a PNG carries the V2 card in `chara` and, unless spec is "v2", the V3 card in `ccv3`.
//   POST /api/character-tokens {character}        → {tokenizer, fields, persona, contextSize}
//        token counts of a character as the form holds it (character-tokens.ts).
//
// Errors: 413 TOO_LARGE for a card file (or a CHARX's card.json) over the limit; 400 NOT_A_CARD_FILE,
// CORRUPT_PNG, NO_CARD_CHUNK, BAD_BASE64, BAD_JSON, CORRUPT_ZIP, NO_CARD_JSON (the file holds no readable
// card), INVALID_CARD {issues} (a card that does not make a valid character, each issue named by its path
// in the card); 409 CHARACTER_EXISTS when a given id is taken.

import { CardFileError } from "../../plugin/character/card-errors.js";
import { cardFileName, exportCardJson, exportCardPng, importCardFile, MAX_CARD_FILE_BYTES, type CardExportSpec } from "../../plugin/character/card-file.js";
import { CHARACTER_ID_PATTERN, serializeCharacter } from "../../plugin/character/validate.js";
import type { Character } from "../../plugin/types.js";
import { HttpError, type Routes } from "../../runtime/host/loopback-server.js";
import type { CharacterDocument, ProjectFolder } from "../project/index.js";
import { countCharacterTokens } from "./character-tokens.js";

/** How many numbered ids an import tries before giving up ("wren-2" … "wren-1000"). */
const MAX_ID_SUFFIX = 1000;

/**
 * The routes over `project`; `wrote` is told about every file written (the disk watcher re-checks), and
 * `view` turns a document into what the API answers (editor-api.ts's documentView).
 */
export function characterRoutes(project: ProjectFolder, options: { wrote(): void; view(doc: CharacterDocument): unknown }): Routes {
  const pathOf = (id: string) => `characters/${id}.json`;
  const taken = (id: string) => project.document(pathOf(id)) !== undefined;

  return {
    "POST /api/import-card": async (ctx) => {
      const data = ctx.field("data", "string");
      // base64 is 4 characters per 3 bytes: a file over the limit is refused before it is decoded.
      if (Math.floor((data.length * 3) / 4) > MAX_CARD_FILE_BYTES + 2)
        throw cardError(new CardFileError("TOO_LARGE", `card files are limited to ${MAX_CARD_FILE_BYTES / (1024 * 1024)} MB`));
      const wanted = ctx.optionalField("id", "string");
      if (wanted !== undefined && !CHARACTER_ID_PATTERN.test(wanted))
        throw new HttpError(400, "INVALID_ARGUMENT", `${JSON.stringify(wanted)} is not a usable character id: use lowercase letters, digits, _ and -`);
      if (wanted !== undefined && taken(wanted))
        throw new HttpError(409, "CHARACTER_EXISTS", `there is already a character "${wanted}"; choose another id`, { id: wanted });
      let imported: ReturnType<typeof importCardFile>;
      try {
        imported = importCardFile(Buffer.from(data, "base64"), wanted === undefined ? {} : { id: wanted });
      } catch (error) {
        throw cardError(error);
      }
      const character: Character = { ...imported.character, id: wanted ?? freeId(imported.character.id, taken) };
      await project.save(pathOf(character.id), serializeCharacter(character), { expectedHash: null });
      options.wrote();
      return { document: options.view(project.document(pathOf(character.id)) as CharacterDocument), source: imported.source };
    },

    "POST /api/export-card": (ctx) => {
      const id = ctx.field("id", "string");
      const format = ctx.field("format", "string");
      if (format !== "json" && format !== "png")
        throw new HttpError(400, "INVALID_ARGUMENT", `"format" must be "json" or "png", got ${JSON.stringify(format)}`);
      const spec = ctx.optionalField("spec", "string");
      if (spec !== undefined && spec !== "v2" && spec !== "v3")
        throw new HttpError(400, "INVALID_ARGUMENT", `"spec" must be "v2" or "v3", got ${JSON.stringify(spec)}`);
      const doc = CHARACTER_ID_PATTERN.test(id) ? (project.document(pathOf(id)) as CharacterDocument | undefined) : undefined;
      if (!doc) throw new HttpError(404, "NOT_FOUND", `there is no character "${id}"`);
      if (!doc.value)
        throw new HttpError(400, "INVALID_DOCUMENT", `${doc.path} has problems; fix them before exporting it as a card`, { issues: doc.problem?.issues ?? [] });
      const options: { spec?: CardExportSpec } = spec === "v2" || spec === "v3" ? { spec } : {};
      const bytes = format === "json" ? Buffer.from(exportCardJson(doc.value, options), "utf8") : Buffer.from(exportCardPng(doc.value, options));
      return { fileName: cardFileName(doc.value, format), mimeType: format === "json" ? "application/json" : "image/png", data: bytes.toString("base64") };
    },

    "POST /api/character-tokens": (ctx) => {
      if (!Object.hasOwn(ctx.body, "character")) throw new HttpError(400, "INVALID_ARGUMENT", `"character" must be the character's JSON`);
      return countCharacterTokens(ctx.body.character, project.manifest.contextSize);
    },
  };
}

/** `id`, or the first of id-2, id-3… that no character has. */
function freeId(id: string, taken: (id: string) => boolean): string {
  if (!taken(id)) return id;
  for (let n = 2; n <= MAX_ID_SUFFIX; n++) if (!taken(`${id}-${n}`)) return `${id}-${n}`;
  throw new HttpError(409, "CHARACTER_EXISTS", `there are already characters "${id}" to "${id}-${MAX_ID_SUFFIX}"; import with another id`, { id });
}

/** A card file's problem as the HTTP error the page shows (its code is the problem's). */
function cardError(error: unknown): unknown {
  if (!(error instanceof CardFileError)) return error;
  return new HttpError(error.problem === "TOO_LARGE" ? 413 : 400, error.problem, error.message, error.issues.length > 0 ? { issues: error.issues } : undefined);
}

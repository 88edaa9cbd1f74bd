// The character form's validation: the plugin's own parseCharacter (one source of truth with the game and
// the host), plus the project's rule that a character's id is its file name. Results are kept per JSON
// object, so the form's fields, the save status and the autosave share one check per edit.

import { parseCharacter } from "../../../plugin/character/validate.js";
import { PluginValidationError, type ValidationIssue } from "../../../plugin/errors.js";
import type { Character } from "../../../plugin/types.js";

export interface CharacterCheck {
  /** The character when valid: what a save writes. */
  character?: Character;
  /** Every problem with its JSON path ("name", "knowledge[1].text"). */
  issues: ValidationIssue[];
}

const checked = new WeakMap<object, CharacterCheck>();

/** Checks the form's JSON as the character file `characters/FILEID.json`. */
export function checkCharacter(json: object, fileId: string): CharacterCheck {
  const known = checked.get(json);
  if (known) return known;
  let result: CharacterCheck;
  try {
    const character = parseCharacter(json);
    result =
      character.id === fileId
        ? { character, issues: [] }
        : {
            issues: [
              {
                path: "id",
                message: `"${character.id}" does not match the file name characters/${fileId}.json; rename the character from the project browser instead`,
              },
            ],
          };
  } catch (error) {
    if (!(error instanceof PluginValidationError)) throw error;
    result = { issues: [...error.issues] };
  }
  checked.set(json, result);
  return result;
}

/** The issues at `path` or inside it ("knowledge" has those of "knowledge[0].text"). */
export function issuesAt(issues: readonly ValidationIssue[], path: string, options: { inside?: boolean } = {}): ValidationIssue[] {
  return issues.filter((i) => i.path === path || (options.inside === true && (i.path.startsWith(`${path}.`) || i.path.startsWith(`${path}[`))));
}

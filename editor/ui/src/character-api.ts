/// <reference lib="dom" />
// The page's client for the host's character routes (create-character in editor-api.ts; card import and
// export and token counts in character-routes.ts). Card files travel as base64 inside the JSON bodies the
// host reads, so they pass through the same token and origin checks as every other request.

import type { CharacterTokenCounts } from "../../host/character-tokens.js";
import type { CardFileSource } from "../../../plugin/character/card-file.js";
import { request, type DocumentView } from "./api.js";

export type { CharacterTokenCounts, CardFileSource };

export interface ExportedCard {
  fileName: string;
  mimeType: string;
  /** The file's bytes, base64. */
  data: string;
}

export const characterApi = {
  /** A new character with placeholder fields (a role, a greeting) the writer then replaces. */
  create: (id: string, name: string) => request<{ document: DocumentView }>("POST", "/api/create-character", { id, name }),
  /** A card file (JSON, PNG or CHARX) as a new character; without `id`, the card's own made unique. */
  importCard: async (file: Blob, id?: string) =>
    request<{ document: DocumentView; source: CardFileSource }>("POST", "/api/import-card", { data: await base64Of(file), ...(id ? { id } : {}) }),
  exportCard: (id: string, format: "json" | "png", spec?: "v2" | "v3") =>
    request<ExportedCard>("POST", "/api/export-card", { id, format, ...(spec ? { spec } : {}) }),
  tokens: (character: unknown) => request<CharacterTokenCounts>("POST", "/api/character-tokens", { character }),
};

/** A file's bytes as base64 (FileReader's data URL, without its "data:…;base64," head). */
function base64Of(file: Blob): Promise<string> {
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(String(reader.result).replace(/^data:[^,]*,/, ""));
    reader.onerror = () => reject(new Error(`the file could not be read: ${reader.error?.message ?? "unknown error"}`));
    reader.readAsDataURL(file);
  });
}

/** Saves an exported card through the browser's download (the page cannot write files itself). */
export function downloadCard(card: ExportedCard): void {
  const bytes = Uint8Array.from(atob(card.data), (c) => c.charCodeAt(0));
  const url = URL.createObjectURL(new Blob([bytes], { type: card.mimeType }));
  const link = document.createElement("a");
  link.href = url;
  link.download = card.fileName;
  document.body.append(link);
  link.click();
  link.remove();
  // The download has taken its copy once the click is handled.
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

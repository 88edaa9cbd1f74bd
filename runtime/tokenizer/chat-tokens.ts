// Tokenizes a chat prompt given as structure/content segments (renderChatSegments in runtime/chat-template.ts).
//
// The segments are encoded as ONE text, as llama.cpp would encode the rendered prompt with special-token
// parsing on, except that special tokens are recognised only inside structure segments: `</s>` written by
// the template becomes EOS, `</s>` typed by a player stays the plain-text pieces `</`, `s`, `>`. Raw text
// runs across segment boundaries, so merges and the add_space_prefix rule are the same as for the whole
// string (no stray `▁` at the start of a content segment). One BOS starts the prompt: added when the
// vocabulary asks for it, unless the template already wrote `bos_token` at the start.

import type { ChatSegment } from "../chat-template.js";
import type { LlamaTokenizer } from "./tokenizer.js";

export interface TokenizeChatOptions {
  /** Start with BOS (once). Default: the vocabulary's add_bos_token. */
  addBos?: boolean;
}

export function tokenizeChat(tokenizer: LlamaTokenizer, segments: readonly ChatSegment[], options: TokenizeChatOptions = {}): number[] {
  const ids = tokenizer.encodeParts(
    segments.map((s) => ({ text: s.text, parseSpecial: s.special })),
    { addBos: false },
  );
  if ((options.addBos ?? tokenizer.vocab.addBos) && ids[0] !== tokenizer.bosId) ids.unshift(tokenizer.bosId);
  return ids;
}

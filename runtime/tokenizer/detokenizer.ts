// Streaming detokenizer: turns generated token ids into text chunks as they arrive.
//
// - `▁` becomes a space; byte tokens (`<0xE2>` `<0x82>` `<0xAC>`) are assembled into UTF-8, and a chunk never
//   ends inside a multi-byte character: incomplete sequences are held back until the next token completes
//   them. Bytes that can never form a character become U+FFFD as soon as that is certain; a sequence still
//   incomplete at flush() becomes U+FFFD then.
// - Control and unknown tokens (BOS, EOS, `<unk>`) produce no text unless skipSpecial is false.
// - The space add_space_prefix put before the first word is removed from the token after a leading BOS (by
//   default only when the stream starts with BOS: a sequence decoded from its start, as a prompt echo).
//   A stream of generated tokens that continues a prompt does not start with BOS, so its first `▁word` keeps
//   its space, which is what the reader needs to append it to the prompt text.
// The concatenation of all chunks (push()… then flush()) equals tokenizer.decode(ids, sameOptions).

import type { DecodeOptions, LlamaTokenizer } from "./tokenizer.js";

export interface StreamingDetokenizerOptions {
  /** Leave out control and unknown tokens. Default true. */
  skipSpecial?: boolean;
  /** See DecodeOptions.stripLeadingSpace. Default "after-bos". */
  stripLeadingSpace?: DecodeOptions["stripLeadingSpace"];
}

export class StreamingDetokenizer {
  private readonly tokenizer: LlamaTokenizer;
  private readonly skipSpecial: boolean;
  private readonly stripMode: boolean | "after-bos";
  private decoder = new TextDecoder("utf-8", { ignoreBOM: true });
  /** Tokens pushed since the start (or the last flush), counted up to 2. */
  private position = 0;
  /** Position of the token whose leading space goes, or -1. */
  private stripAt = -1;

  constructor(tokenizer: LlamaTokenizer, options: StreamingDetokenizerOptions = {}) {
    this.tokenizer = tokenizer;
    this.skipSpecial = options.skipSpecial ?? true;
    this.stripMode = tokenizer.vocab.addSpacePrefix ? (options.stripLeadingSpace ?? "after-bos") : false;
  }

  /** Adds one token; returns the text that is now complete (possibly ""). */
  push(tokenId: number): string {
    let bytes = this.tokenizer.tokenBytes(tokenId, !this.skipSpecial);
    const position = this.position;
    if (position === 0) {
      // Same rule as LlamaTokenizer.decode: the first token's piece, or the next one after a silent BOS.
      const isBos = tokenId === this.tokenizer.bosId;
      if (this.stripMode === true || (this.stripMode === "after-bos" && isBos)) {
        this.stripAt = isBos && bytes.length === 0 ? 1 : 0;
      }
    }
    if (position < 2) this.position++;
    if (position === this.stripAt && bytes[0] === 0x20) bytes = bytes.subarray(1);
    if (bytes.length === 0) return "";
    return this.decoder.decode(bytes, { stream: true });
  }

  /** Adds several tokens; returns the text completed by them. */
  pushAll(tokenIds: Iterable<number>): string {
    let text = "";
    for (const id of tokenIds) text += this.push(id);
    return text;
  }

  /** Ends the stream: returns held-back bytes (as U+FFFD if they never formed a character) and resets. */
  flush(): string {
    const rest = this.decoder.decode();
    this.decoder = new TextDecoder("utf-8", { ignoreBOM: true });
    this.position = 0;
    this.stripAt = -1;
    return rest;
  }
}

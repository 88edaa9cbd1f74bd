// Stop-string matching over streamed text.
//
// Text is pushed as it is generated. Everything that can no longer be the beginning of a stop string
// is emitted at once; a tail that might still grow into a stop string is held back. When a stop
// string appears, the text before it is emitted, `stopped` is reported, and the stop string itself
// (and anything after it) is dropped. The earliest-starting occurrence wins; at equal starts the
// longest stop string is the one reported.

import { InvalidArgumentError } from "./errors.js";

export interface StopPushResult {
  /** Text that is now safe to show. */
  emit: string;
  /** A stop string was found; generation should end. */
  stopped: boolean;
}

export class StopStringMatcher {
  private readonly stops: readonly string[];
  private held = "";
  private done = false;
  private matchedStop: string | undefined;

  constructor(stops: readonly string[]) {
    if (!Array.isArray(stops)) throw new InvalidArgumentError("StopStringMatcher: stops must be an array of strings");
    for (const s of stops) {
      if (typeof s !== "string" || s.length === 0) {
        throw new InvalidArgumentError(`StopStringMatcher: every stop string must be a non-empty string, got ${JSON.stringify(s)}`);
      }
    }
    // Dedupe; longest first so that at equal start positions the longest stop is reported.
    this.stops = [...new Set(stops)].sort((a, b) => b.length - a.length);
  }

  /** True once a stop string has been matched. */
  get stopped(): boolean {
    return this.done;
  }

  /** The stop string that ended the stream, if any. */
  get matched(): string | undefined {
    return this.matchedStop;
  }

  push(text: string): StopPushResult {
    if (this.done) return { emit: "", stopped: true };
    if (typeof text !== "string") throw new InvalidArgumentError("StopStringMatcher.push: text must be a string");
    const buf = this.held + text;

    // A complete stop string anywhere in the buffer? (Nothing emitted earlier can be part of one:
    // every possible stop-string prefix was held back.)
    let at = -1;
    let which: string | undefined;
    for (const s of this.stops) {
      const i = buf.indexOf(s);
      if (i >= 0 && (at < 0 || i < at)) {
        at = i;
        which = s;
      }
    }
    if (at >= 0) {
      this.done = true;
      this.matchedStop = which;
      this.held = "";
      return { emit: buf.slice(0, at), stopped: true };
    }

    // Hold back the longest suffix of buf that is a proper prefix of some stop string.
    const keep = this.longestPrefixSuffix(buf);
    this.held = buf.slice(buf.length - keep);
    return { emit: buf.slice(0, buf.length - keep), stopped: false };
  }

  /** End of stream: release whatever was held back (nothing after a stop). */
  flush(): string {
    const out = this.done ? "" : this.held;
    this.held = "";
    return out;
  }

  private longestPrefixSuffix(buf: string): number {
    let best = 0;
    for (const s of this.stops) {
      const max = Math.min(s.length - 1, buf.length);
      for (let len = max; len > best; len--) {
        if (buf.endsWith(s.slice(0, len))) {
          best = len;
          break;
        }
      }
    }
    return best;
  }
}

/// <reference lib="dom" />
// Token counts in the character form: the host counts the form's JSON with the model's Llama tokenizer
// (character-tokens.ts) a moment after each edit; each field shows its count beside its label, and the
// summary shows the persona prefix (what every prompt of this character starts with) against the
// project's context size, which also has to hold the lore, memory, turns and the reply.

import { createContext, useContext, useEffect, useState } from "react";
import type { JsonObject } from "../../../plugin/errors.js";
import { asApiError } from "./api.js";
import { characterApi, type CharacterTokenCounts } from "./character-api.js";

/** Wait after the last edit before counting again, ms: typing does not send a request per key. */
const COUNT_DELAY_MS = 250;
/** Above this share of the context, the persona leaves little room for the conversation: the meter warns. */
const PERSONA_WARN_SHARE = 0.5;

export interface TokenState {
  counts: CharacterTokenCounts | null;
  /** Why counting failed (the host did not answer). */
  error: string | null;
}

const TokenContext = createContext<TokenState>({ counts: null, error: null });

/** Counts `json` a moment after it last changed. */
export function useTokenCounts(json: JsonObject | null): TokenState {
  const [state, setState] = useState<TokenState>({ counts: null, error: null });
  useEffect(() => {
    if (!json) return;
    let current = true;
    const timer = setTimeout(() => {
      characterApi.tokens(json).then(
        (counts) => current && setState({ counts, error: null }),
        (error: unknown) => current && setState((s) => ({ counts: s.counts, error: asApiError(error).message })),
      );
    }, COUNT_DELAY_MS);
    return () => {
      current = false;
      clearTimeout(timer);
    };
  }, [json]);
  return state;
}

export const TokenCountsProvider = TokenContext.Provider;

/** Tokens of the field at `path` and everything inside it ("knowledge" sums every entry's texts); null before the first count. */
export function useFieldTokens(path: string): number | null {
  const { counts } = useContext(TokenContext);
  if (!counts) return null;
  let total = 0;
  for (const [at, n] of Object.entries(counts.fields)) if (at === path || at.startsWith(`${path}.`) || at.startsWith(`${path}[`)) total += n;
  return total;
}

export function tokenLabel(n: number | null): string | undefined {
  return n === null ? undefined : `${n} ${n === 1 ? "token" : "tokens"}`;
}

/** The persona prefix's tokens against the context size. */
export function TokenSummary() {
  const { counts, error } = useContext(TokenContext);
  if (!counts) return <p className="token-summary muted">{error ? `Token counts unavailable: ${error}` : "Counting tokens…"}</p>;
  const share = counts.persona === null ? 0 : counts.persona / counts.contextSize;
  return (
    <div className={`token-summary ${share > PERSONA_WARN_SHARE ? "warn" : ""}`} data-testid="persona-tokens" title={`Counted with the ${counts.tokenizer}`}>
      {counts.persona === null ? (
        <span>Persona prefix: fix the problems below to count it</span>
      ) : (
        <>
          <span>
            Persona prefix: <strong>{counts.persona}</strong> of {counts.contextSize} context tokens ({Math.round(share * 100)}%)
          </span>
          <meter
            min={0}
            max={counts.contextSize}
            value={counts.persona}
            high={counts.contextSize * PERSONA_WARN_SHARE}
            aria-label="Persona prefix tokens of the context size"
          />
        </>
      )}
      <span className="muted"> · {counts.tokenizer}</span>
      {error && <span className="token-error"> (not updated: {error})</span>}
    </div>
  );
}

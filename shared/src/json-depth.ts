import { limits } from './api/limits';

/** Deepest nesting of arrays and objects any JSON we accept may have; recursion over user data stops here. */
export const MAX_JSON_DEPTH = limits.jsonDepth;

/**
 * True when the JSON text nests arrays/objects deeper than `max`. One pass over the characters,
 * no recursion, so it is safe on any input; run before JSON.parse and anything that walks the value.
 */
export function nestsDeeperThan(text: string, max: number = MAX_JSON_DEPTH): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (inString) {
      if (ch === 0x5c)
        i++; // backslash: skip the escaped character
      else if (ch === 0x22) inString = false;
    } else if (ch === 0x22) inString = true;
    else if (ch === 0x5b || ch === 0x7b) {
      if (++depth > max) return true;
    } else if (ch === 0x5d || ch === 0x7d) depth--;
  }
  return false;
}

/**
 * Python's whitespace (str.isspace, and `\s` of Python's `re` on str), which sacreBLEU's tokenizers and
 * chrF's whitespace removal use. It differs from JavaScript's `\s`: it has the information separators
 * U+001C–U+001F and U+0085 and lacks U+FEFF, so a JS `\s` gives other scores on such text.
 */
const PY_SPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

export const pySpaces = new RegExp(`[${PY_SPACE}]+`, 'gu');
export const pyTrailingSpace = new RegExp(`[${PY_SPACE}]+$`, 'u');

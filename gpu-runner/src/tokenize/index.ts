/**
 * Offline tokenizer loading: tokenizer.json plus whichever side files (model/side-files.ts) the
 * export came with. EOS and pad ids come from those files, never from hard-coded guesses.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { readSideFiles } from '../model/side-files.js';

export interface LoadedTokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
  eosId: number;
  eosToken: string;
  padId: number;
  bosId: number | undefined;
  /**
   * Special tokens the tokenizer's post-processor puts before every text (XGLM `</s>`, LLaMA `<s>`,
   * none for GPT-2/BLOOM): the reference tokenizes with them, so calibration samples start with them.
   */
  prefixIds: number[];
  /** the model's vocabulary (config), else the tokenizer's */
  vocabSize: number;
  /** ids the tokenizer itself can produce (its vocabulary and added tokens), whatever the config says */
  tokenCount: number;
}

function tokenString(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (v && typeof v === 'object' && typeof (v as { content?: unknown }).content === 'string') {
    return (v as { content: string }).content;
  }
  return undefined;
}

export async function loadTokenizer(modelDir: string): Promise<LoadedTokenizer> {
  let tokJson: Record<string, unknown>;
  try {
    tokJson = JSON.parse(await readFile(path.join(modelDir, 'tokenizer.json'), 'utf8')) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new Error('tokenizer.json is missing: upload the tokenizer.json that came with the export');
    throw new Error(`tokenizer.json cannot be read: ${(err as Error).message}`);
  }
  // EOS/pad may be defined in config.json, generation_config.json, genai_config.json,
  // tokenizer_config.json or special_tokens_map.json: read them all.
  const side = await readSideFiles(modelDir);
  return fromJson(tokJson, side.tokenizerConfig, side.config);
}

export function fromJson(tokJson: Record<string, unknown>, tokConfig: Record<string, unknown>, config: Record<string, unknown>): LoadedTokenizer {
  const tok = new Tokenizer(tokJson as never, tokConfig as never);
  const added = (tokJson.added_tokens as { id: number; content: string }[] | undefined) ?? [];
  const idOf = (t: string | undefined): number | undefined => {
    if (t === undefined) return undefined;
    const a = added.find((x) => x.content === t);
    if (a) return a.id;
    const id = (tok as unknown as { token_to_id?: (s: string) => number | undefined }).token_to_id?.(t);
    return typeof id === 'number' ? id : undefined;
  };
  const num = (v: unknown) => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);

  const eosId = num(config.eos_token_id) ?? idOf(tokenString(tokConfig.eos_token));
  if (eosId === undefined)
    throw new Error(
      'cannot determine EOS: none of config.json, generation_config.json, genai_config.json has eos_token_id and tokenizer_config.json/special_tokens_map.json name no eos_token: upload the side file that defines it',
    );
  const eosToken = tokenString(tokConfig.eos_token) ?? added.find((a) => a.id === eosId)?.content ?? '';
  // Many decoder LMs have no pad token; padding positions are masked anyway, so EOS is the usual stand-in.
  const padId = num(config.pad_token_id) ?? idOf(tokenString(tokConfig.pad_token)) ?? eosId;
  const bosId = num(config.bos_token_id) ?? idOf(tokenString(tokConfig.bos_token));
  const vocab = (tokJson.model as { vocab?: Record<string, number> | unknown[] } | undefined)?.vocab;
  const baseSize = Array.isArray(vocab) ? vocab.length : vocab ? Object.keys(vocab).length : 0;
  const tokenCount = Math.max(baseSize, ...added.map((a) => a.id + 1));
  const vocabSize = num(config.vocab_size) ?? tokenCount;

  const plain = (text: string) => tok.encode(text, { add_special_tokens: false } as never).ids as number[];
  const withSpecial = tok.encode('a', { add_special_tokens: true } as never).ids as number[];
  const bare = plain('a');
  const at = withSpecial.findIndex((_, i) => bare.every((id, k) => withSpecial[i + k] === id));
  const prefixIds = at > 0 ? withSpecial.slice(0, at) : [];

  return {
    encode: plain,
    decode: (ids) => tok.decode(ids, { skip_special_tokens: false } as never),
    eosId,
    eosToken,
    padId,
    bosId,
    prefixIds,
    vocabSize,
    tokenCount,
  };
}

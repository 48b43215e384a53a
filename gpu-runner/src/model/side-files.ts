/**
 * The small JSON files exporters put next to a graph, merged into one HF-style view. EOS, pad, BOS,
 * context length and head counts may sit in any of them: optimum writes config.json,
 * generation_config.json, tokenizer_config.json and special_tokens_map.json; the onnxruntime-genai
 * model builder writes genai_config.json and no config.json.
 *
 * Precedence: config.json, then generation_config.json (token ids), then genai_config.json; for
 * token strings tokenizer_config.json, then special_tokens_map.json.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';

export type Json = Record<string, unknown>;

export const SIDE_FILES = ['config.json', 'generation_config.json', 'genai_config.json', 'tokenizer_config.json', 'special_tokens_map.json'] as const;

export interface SideInfo {
  /** HF config keys (eos_token_id, pad_token_id, bos_token_id, vocab_size, max_position_embeddings, num_attention_heads, …) */
  config: Json;
  /** tokenizer_config.json over special_tokens_map.json */
  tokenizerConfig: Json;
  /** which side files were found */
  found: string[];
}

async function readJson(file: string): Promise<Json | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not a JSON object');
    return v as Json;
  } catch (err) {
    throw new Error(`${path.basename(file)} is not valid JSON: ${(err as Error).message}`);
  }
}

/** LLaMA-3 style configs list several EOS ids; the first is the one generation stops on first. */
function firstId(v: unknown): number | undefined {
  if (typeof v === 'number' && Number.isInteger(v)) return v;
  if (Array.isArray(v) && typeof v[0] === 'number' && Number.isInteger(v[0])) return v[0];
  return undefined;
}

const obj = (v: unknown): Json => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Json) : {});

/** genai_config.json's fields under their HF config names. */
export function fromGenaiConfig(genai: Json): Json {
  const model = obj(genai.model);
  const decoder = obj(model.decoder);
  const out: Json = {
    eos_token_id: firstId(model.eos_token_id),
    pad_token_id: firstId(model.pad_token_id),
    bos_token_id: firstId(model.bos_token_id),
    vocab_size: model.vocab_size,
    max_position_embeddings: model.context_length,
    num_attention_heads: decoder.num_attention_heads,
    num_key_value_heads: decoder.num_key_value_heads,
    hidden_size: decoder.hidden_size,
    num_hidden_layers: decoder.num_hidden_layers,
    head_dim: decoder.head_size,
    model_type: model.type,
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined));
}

/** Pure merge of whatever side files exist (undefined = absent). */
export function mergeSideFiles(files: Partial<Record<(typeof SIDE_FILES)[number], Json>>): SideInfo {
  const config: Json = { ...(files['genai_config.json'] ? fromGenaiConfig(files['genai_config.json']) : {}) };
  const gen = files['generation_config.json'] ?? {};
  for (const k of ['eos_token_id', 'pad_token_id', 'bos_token_id'] as const) {
    const v = firstId(gen[k]);
    if (v !== undefined) config[k] = v;
  }
  for (const [k, v] of Object.entries(files['config.json'] ?? {})) {
    if (v === null || v === undefined) continue;
    config[k] = k.endsWith('_token_id') ? (firstId(v) ?? config[k]) : v;
  }
  const tokenizerConfig: Json = { ...(files['special_tokens_map.json'] ?? {}), ...(files['tokenizer_config.json'] ?? {}) };
  // A null in tokenizer_config.json (e.g. "pad_token": null) must not hide special_tokens_map.json's value.
  for (const [k, v] of Object.entries(files['tokenizer_config.json'] ?? {}))
    if (v === null && files['special_tokens_map.json']?.[k] !== undefined) tokenizerConfig[k] = files['special_tokens_map.json'][k];
  return { config, tokenizerConfig, found: SIDE_FILES.filter((f) => files[f] !== undefined) };
}

export async function readSideFiles(dir: string): Promise<SideInfo> {
  const files: Partial<Record<(typeof SIDE_FILES)[number], Json>> = {};
  for (const f of SIDE_FILES) {
    const v = await readJson(path.join(dir, f));
    if (v) files[f] = v;
  }
  return mergeSideFiles(files);
}

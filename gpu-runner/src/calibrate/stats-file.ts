import type { ActivationStats } from '../types.js';

const MAGIC = 'PPSTATS1';

interface Header {
  version: 1;
  meta: Record<string, unknown>;
  layers: Array<{ id: string; dIn: number; samples: number; tokens: number }>;
}

export function encodeStats(stats: ActivationStats, meta: Record<string, unknown> = {}): Uint8Array {
  const layers = [...stats.values()].map((s) => ({ id: s.id, dIn: s.sqNorm.length, samples: s.samples, tokens: s.tokens }));
  const json = new TextEncoder().encode(JSON.stringify({ version: 1, meta, layers } satisfies Header));
  const payloadAt = Math.ceil((12 + json.length) / 8) * 8;
  const total = payloadAt + layers.reduce((s, l) => s + l.dIn * 8, 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(new TextEncoder().encode(MAGIC), 0);
  view.setUint32(8, json.length, true);
  out.set(json, 12);
  let at = payloadAt;
  for (const s of stats.values()) {
    for (let j = 0; j < s.sqNorm.length; j++, at += 8) view.setFloat64(at, s.sqNorm[j]!, true);
  }
  return out;
}

export function decodeStats(bytes: Uint8Array): { stats: ActivationStats; meta: Record<string, unknown> } {
  if (bytes.length < 12 || new TextDecoder().decode(bytes.subarray(0, 8)) !== MAGIC) {
    throw new Error(`not a polyprune statistics file: expected magic ${MAGIC}`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = view.getUint32(8, true);
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(12, 12 + n))) as Header;
  if (header.version !== 1) throw new Error(`statistics file version ${header.version} not supported (expected 1)`);
  let at = Math.ceil((12 + n) / 8) * 8;
  const need = at + header.layers.reduce((s, l) => s + l.dIn * 8, 0);
  if (bytes.length !== need) throw new Error(`statistics file has ${bytes.length} bytes, header describes ${need}`);
  const stats: ActivationStats = new Map();
  for (const l of header.layers) {
    const sqNorm = new Float64Array(l.dIn);
    for (let j = 0; j < l.dIn; j++, at += 8) sqNorm[j] = view.getFloat64(at, true);
    stats.set(l.id, { id: l.id, sqNorm, samples: l.samples, tokens: l.tokens });
  }
  return { stats, meta: header.meta };
}

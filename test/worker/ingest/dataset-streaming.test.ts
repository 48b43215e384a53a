/**
 * Corpus and suite uploads write their normalised rows to R2 as lines are validated (never held
 * whole): rows over one 5 MiB R2 part come back byte for byte, with the sha256 and stats an
 * independent computation here gives; a refused upload leaves nothing behind. Duplicates are found
 * by 64-bit hashes (SeenSet), checked here against a plain Set.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { limits } from '@polyprune/shared/api/limits';
import { formDataBody } from '@polyprune/shared/form-data';
import { rowLabel, stratifiedSubset } from '@polyprune/shared/subset';
import { SeenSet } from '@polyprune/worker/ingest/seen-set';
import { call, makeToken, sha256 } from '../helpers';

let owner: string;
beforeAll(async () => {
  owner = await makeToken('streaming-owner', ['write']);
});

const enc = new TextEncoder();
const post = (kind: 'corpora' | 'suites', query: string, body: BodyInit, headers: Record<string, string> = {}) =>
  call('POST', `/v1/${kind}?${query}`, { token: owner, body, headers });
const uploadsLeft = async () => (await env.BLOBS.list({ prefix: 'uploads/' })).objects.map((o) => o.key);

describe('SeenSet', () => {
  it('answers as a Set of the keys does, across its growth', () => {
    const seen = new SeenSet(4);
    const plain = new Set<string>();
    let x = 12345;
    for (let i = 0; i < 50_000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      // a small key space, so about half the keys repeat
      const key = `k${x % 30_000}`;
      expect(seen.add(key)).toBe(!plain.has(key));
      plain.add(key);
    }
    expect(seen.size).toBe(plain.size);
  });

  it('keeps the two fields of a pair apart from their concatenation', () => {
    const seen = new SeenSet();
    expect(seen.add('ab', 'c')).toBe(true);
    expect(seen.add('a', 'bc')).toBe(true);
    expect(seen.add('abc')).toBe(true);
    expect(seen.add('ab', 'c')).toBe(false);
  });
});

describe('normalised rows over one R2 part', () => {
  // ~7 MiB of TSV: every 7th line repeats an earlier pair (after NFC + trim), every 1000th is src = tgt
  const pairs: Array<[string, string]> = [];
  for (let i = 0; pairs.length < 60_000; i++) {
    if (i % 7 === 6) pairs.push([` Satz ${i - 3} ist hier, in einem etwas längeren Text.`, `Sentence ${i - 3} is here, in a somewhat longer text. `]);
    else if (i % 1000 === 999) pairs.push([`Gleich ${i}`, `Gleich ${i}`]);
    else pairs.push([`Satz ${i} ist hier, in einem etwas längeren Text.`, `Sentence ${i} is here, in a somewhat longer text.`]);
  }
  const tsv = enc.encode(pairs.map(([s, t]) => `${s}\t${t}\n`).join(''));

  it('are stored as they were validated, with the sha256, size and stats computed here', async () => {
    const seen = new Set<string>();
    const kept: Array<[string, string]> = [];
    let identical = 0;
    for (const [s, t] of pairs) {
      const key = JSON.stringify([s.normalize('NFC').trim(), t.normalize('NFC').trim()]);
      if (seen.has(key)) continue;
      seen.add(key);
      kept.push([s, t]);
      if (s.trim() === t.trim()) identical++;
    }
    const expected = enc.encode(kept.map(([src, tgt]) => `${JSON.stringify({ src, tgt })}\n`).join(''));
    expect(expected.byteLength).toBeGreaterThan(5 * 1024 * 1024);
    const up = await post('corpora', 'src=deu_Latn&tgt=eng_Latn&format=tsv', tsv);
    expect(up.status).toBe(201);
    expect(up.body.sha256).toBe(await sha256(expected));
    expect(up.body.size).toBe(expected.byteLength);
    expect(up.body.stats).toMatchObject({
      lines: pairs.length,
      pairsKept: kept.length,
      duplicates: pairs.length - kept.length,
      identicalPairs: identical,
      meanCharsSrc: kept.reduce((a, [s]) => a + s.length, 0) / kept.length,
      meanCharsTgt: kept.reduce((a, [, t]) => a + t.length, 0) / kept.length,
    });
    const data = await call('GET', `/v1/corpora/${up.body.id}/data`, { token: owner });
    expect(data.headers.get('x-content-sha256')).toBe(up.body.sha256);
    expect(data.bytes).toEqual(expected);

    // the same rows again from another original: the same sha256 and bytes
    const again = await post('corpora', 'src=deu_Latn&tgt=eng_Latn&format=tsv', new Uint8Array([...tsv, ...enc.encode(`${pairs[0]![0]}\t${pairs[0]![1]}\n`)]));
    expect(again.status).toBe(201);
    expect(again.body.sha256).toBe(up.body.sha256);
    expect((await call('GET', `/v1/corpora/${again.body.id}/data`, { token: owner })).bytes).toEqual(expected);
    // the originals were copied to their content addresses, their upload objects dropped
    expect((await uploadsLeft()).filter((k) => k.startsWith('uploads/original-'))).toEqual([]);
  });

  it('a refused corpus or suite leaves nothing in R2', async () => {
    const before = await uploadsLeft();
    const bad = new Uint8Array([...tsv, ...enc.encode('no tab on this line\n')]);
    const r = await post('corpora', 'src=deu_Latn&tgt=eng_Latn&format=tsv&onError=reject', bad);
    expect([r.status, r.body.error.code]).toEqual([422, 'invalid_lines']);
    const text = enc.encode(`${pairs.map(([s]) => s).join('\n')}\n{"text": 3}\n`);
    const s = await post('suites', 'format=ppl&lang=de&onError=reject', text);
    expect([s.status, s.body.error.code]).toEqual([422, 'invalid_lines']);
    expect(await uploadsLeft()).toEqual(before);
  });
});

describe('a suite subset', () => {
  it('is drawn from rows waiting in R2: the same rows as drawing from all the stored rows', async () => {
    const passages = Array.from({ length: 70_000 }, (_, i) => `Absatz ${i}: ein Text, lang genug, dass die Zeilen über einen Teil von R2 hinausgehen.`);
    const text = enc.encode(`${passages.join('\n')}\n`);
    const all = await post('suites', 'format=ppl&lang=de', text);
    expect(all.status).toBe(201);
    const allBytes = (await call('GET', `/v1/suites/${all.body.id}/data`, { token: owner })).bytes;
    expect(allBytes.byteLength).toBeGreaterThan(5 * 1024 * 1024);
    const lines = new TextDecoder().decode(allBytes).split('\n').slice(0, -1);
    const rows = lines.map((l) => JSON.parse(l) as unknown);
    const want = stratifiedSubset(rows, 1000, 7, rowLabel).map((i) => `${lines[i]}\n`);

    const sub = await post('suites', 'format=ppl&lang=de&subset=1000&seed=7', text);
    expect(sub.status).toBe(201);
    expect(sub.body.stats.subset).toEqual({ n: 1000, seed: 7, of: passages.length });
    const got = await call('GET', `/v1/suites/${sub.body.id}/data`, { token: owner });
    expect(new TextDecoder().decode(got.bytes)).toBe(want.join(''));
    expect(sub.body.sha256).toBe(await sha256(enc.encode(want.join(''))));
    expect((await uploadsLeft()).filter((k) => k.startsWith('uploads/subset-rows-'))).toEqual([]);
  });
});

describe('the two-file form', () => {
  it('is refused past its own limit (it is read whole)', async () => {
    const half = new Uint8Array(limits.twoFileFormBytes / 2 + 1024).fill(0x61);
    const form = formDataBody([
      { name: 'src', filename: 'a.txt', bytes: half },
      { name: 'tgt', filename: 'b.txt', bytes: half },
    ]);
    const r = await post('corpora', 'src=fra_Latn&tgt=eng_Latn', form.body, { 'content-type': form.contentType });
    expect([r.status, r.body.error.code]).toEqual([413, 'payload_too_large']);
  });
});

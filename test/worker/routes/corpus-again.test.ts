/**
 * A file uploaded again: what an isolate remembers of an accepted upload stands only for the same
 * bytes under the same options, and only while D1 shows its objects stored; the answer and the
 * stored corpus are those of an upload parsed afresh. And a body held whole (small, with its
 * length) gives the same corpus as the same bytes streamed.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, makeToken, sha256 } from '../helpers';

let writer: string;
beforeAll(async () => {
  writer = await makeToken('again-owner', ['write']);
});

const enc = new TextEncoder();
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const upload = (body: BodyInit, query: string) => call('POST', `/v1/corpora?${query}`, { token: writer, body });
/** The answer without what differs between two uploads of one file. */
const same = ({ id: _i, createdAt: _c, ...rest }: Record<string, unknown>) => rest;
const served = async (id: string) => ({
  rows: text((await call('GET', `/v1/corpora/${id}/data`, { token: writer })).bytes),
  original: (await call('GET', `/v1/corpora/${id}/data?original=true`, { token: writer })).bytes,
});

describe('the same corpus file again', () => {
  // one bad line (kept out with onError=skip), Latin text labelled as Russian (a script warning), a duplicate
  const file = enc.encode('Bonjour.\tHello.\nno tab\nMerci.\tThanks.\nBonjour.\tHello.\n');

  it('answers and stores what a fresh parse does, for each set of options', async () => {
    const first = await upload(file, 'src=fr&tgt=ru&onError=skip');
    expect(first.status).toBe(201);
    expect(first.body.skippedLines).toEqual([{ line: 2, reason: 'missing_tab', message: 'expected "source<TAB>target"' }]);
    expect(first.body.stats.warnings).toHaveLength(1);
    const again = await upload(file, 'src=fr&tgt=ru&onError=skip');
    expect(again.status).toBe(201);
    expect(again.body.id).not.toBe(first.body.id);
    expect(same(again.body)).toEqual(same(first.body));
    expect((await call('GET', `/v1/corpora/${again.body.id}`, { token: writer })).body).toEqual(again.body);
    expect(await served(again.body.id)).toEqual(await served(first.body.id));

    // other options, other answers: the policy, the language as given, the format
    const rejected = await upload(file, 'src=fr&tgt=ru');
    expect([rejected.status, rejected.body.error?.code, rejected.body.error?.details.problems[0].line]).toEqual([422, 'invalid_lines', 2]);
    const spelled = await upload(file, 'src=fra&tgt=ru&onError=skip');
    expect(spelled.status).toBe(201);
    expect(spelled.body.stats.languages).toEqual({ src: 'fra', tgt: 'ru' });
    expect(same(spelled.body)).toEqual({ ...same(first.body), stats: { ...first.body.stats, languages: { src: 'fra', tgt: 'ru' } } });
    const english = await upload(file, 'src=fr&tgt=en&onError=skip');
    expect([english.body.tgt, english.body.stats.warnings]).toEqual(['en', []]);
    const json = await upload(file, 'src=fr&tgt=ru&onError=skip&format=jsonl');
    expect([json.status, json.body.error?.code]).toEqual([422, 'no_valid_lines']);
  });

  it('stores it afresh where its objects are no longer referenced', async () => {
    const mine = enc.encode('Une autre.\tAnother one.\nEt encore.\tAnd again.\n');
    const first = await upload(mine, 'src=fr&tgt=en');
    expect(first.status).toBe(201);
    const { rows, original } = await served(first.body.id);
    // the first corpus's row no longer points at the objects, which are gone
    const row = await env.DB.prepare('SELECT r2_key, original_r2_key FROM corpora WHERE id = ?')
      .bind(first.body.id)
      .first<{ r2_key: string; original_r2_key: string }>();
    await env.DB.prepare("UPDATE corpora SET r2_key = 'sha256/gone', original_r2_key = 'sha256/gone-too' WHERE id = ?").bind(first.body.id).run();
    await env.BLOBS.delete([row!.r2_key, row!.original_r2_key]);
    const again = await upload(mine, 'src=fr&tgt=en');
    expect(again.status).toBe(201);
    expect(same(again.body)).toEqual(same(first.body));
    expect(await served(again.body.id)).toEqual({ rows, original });
    expect(await env.BLOBS.head(row!.r2_key)).not.toBeNull();
    expect(await env.BLOBS.head(row!.original_r2_key)).not.toBeNull();
  });

  it('a body held whole and the same bytes streamed give the same corpus', async () => {
    const lines = Array.from({ length: 300 }, (_, i) => `Phrase ${i} ici.\tSentence ${i} here.\r\n`).join('');
    const bytes = enc.encode(`\uFEFF${lines}bad line\n`);
    let at = 0;
    const streamed = new ReadableStream<Uint8Array>({
      pull(ctl) {
        if (at >= bytes.byteLength) return ctl.close();
        // pieces that cut lines and the BOM apart
        ctl.enqueue(bytes.slice(at, at + 1001));
        at += 1001;
      },
    });
    const a = await upload(streamed, 'src=fr&tgt=en&onError=skip&name=streamed');
    const b = await upload(bytes, 'src=fr&tgt=en&onError=skip&name=streamed');
    expect([a.status, b.status]).toEqual([201, 201]);
    expect(same(b.body)).toEqual(same(a.body));
    expect(a.body.original).toEqual({ sha256: await sha256(bytes), size: bytes.byteLength });
    expect(await served(b.body.id)).toEqual(await served(a.body.id));
  });
});

/**
 * The file a researcher uploaded is kept as it arrived and served by GET …/data?original=true with
 * the sha256 of those bytes; the normalised rows stay the default. Hashes are computed here with
 * crypto.subtle, independently of the worker.
 */
import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { formDataBody } from '@polyprune/shared/form-data';
import { call, makeToken, sha256 } from '../helpers';

let owner: string;
let other: string;
beforeAll(async () => {
  owner = await makeToken('original-owner', ['write']);
  other = await makeToken('original-other', ['write']);
});

const enc = new TextEncoder();
const BOM = '\uFEFF';
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const post = (kind: 'corpora' | 'suites', query: string, body: BodyInit, headers: Record<string, string> = {}) =>
  call('POST', `/v1/${kind}?${query}`, { token: owner, body, headers });
const temporaries = async () => (await env.BLOBS.list({ prefix: 'uploads/original-' })).objects.length;

describe('corpora', () => {
  // hub rows as published: BOM, CRLF line ends, fields polyprune does not store (id, domain)
  const uploaded = enc.encode(
    `${BOM}{"id":1,"domain":"news","translation":{"fr":"Bonjour.","en":"Hello."}}\r\n{"id":2,"domain":"news","translation":{"fr":"Merci.","en":"Thanks."}}\r\n`,
  );

  it('?original=true serves the uploaded bytes with their sha256; the default stays the normalised JSONL', async () => {
    const up = await post('corpora', 'src=fr&tgt=en', uploaded);
    expect(up.status).toBe(201);
    const expected = await sha256(uploaded);
    expect(up.body.original).toEqual({ sha256: expected, size: uploaded.byteLength });

    const orig = await call('GET', `/v1/corpora/${up.body.id}/data?original=true`, { token: owner });
    expect(orig.status).toBe(200);
    expect(orig.bytes).toEqual(uploaded);
    expect(orig.headers.get('x-content-sha256')).toBe(expected);
    expect(orig.headers.get('content-disposition')).toContain(`${up.body.id}.original.jsonl`);

    const rows = '{"src":"Bonjour.","tgt":"Hello."}\n{"src":"Merci.","tgt":"Thanks."}\n';
    for (const q of ['', '?original=false']) {
      const norm = await call('GET', `/v1/corpora/${up.body.id}/data${q}`, { token: owner });
      expect(text(norm.bytes)).toBe(rows);
      expect(norm.headers.get('x-content-sha256')).toBe(await sha256(rows));
      expect(norm.headers.get('x-content-sha256')).toBe(up.body.sha256);
      expect(norm.headers.get('content-disposition')).toContain(`${up.body.id}.jsonl`);
    }
    expect((await call('GET', `/v1/corpora/${up.body.id}`, { token: owner })).body.original).toEqual(up.body.original);
    // a byte range of the original
    const part = await call('GET', `/v1/corpora/${up.body.id}/data?original=true`, { token: owner, headers: { range: 'bytes=0-2' } });
    expect([part.status, [...part.bytes]]).toEqual([206, [0xef, 0xbb, 0xbf]]);
  });

  it('a two-file upload keeps the form as sent, and each file with its own sha256', async () => {
    const fr = enc.encode(`${BOM}Bonjour.\r\nMerci.\r\n`);
    const en = enc.encode('Hello.\nThanks.\n');
    const form = formDataBody([
      { name: 'src', filename: 'fra_Latn.devtest', bytes: fr },
      { name: 'tgt', filename: 'eng_Latn.devtest', bytes: en },
    ]);
    const up = await post('corpora', 'src=fra_Latn&tgt=eng_Latn', form.body, { 'content-type': form.contentType });
    expect(up.status).toBe(201);
    expect(up.body.original).toEqual({
      sha256: await sha256(form.body),
      size: form.body.byteLength,
      parts: [
        { name: 'src', filename: 'fra_Latn.devtest', sha256: await sha256(fr), size: fr.byteLength },
        { name: 'tgt', filename: 'eng_Latn.devtest', sha256: await sha256(en), size: en.byteLength },
      ],
    });
    const orig = await call('GET', `/v1/corpora/${up.body.id}/data?original=true`, { token: owner });
    expect(orig.bytes).toEqual(form.body);
    expect(orig.headers.get('x-content-sha256')).toBe(await sha256(form.body));
    // served with its boundary, so any multipart reader splits it back into the two files
    expect(orig.headers.get('content-type')).toBe(form.contentType);
    const parsed = await new Response(orig.bytes, { headers: { 'content-type': orig.headers.get('content-type')! } }).formData();
    expect(new Uint8Array(await (parsed.get('src') as unknown as Blob).arrayBuffer())).toEqual(fr);
    expect(text((await call('GET', `/v1/corpora/${up.body.id}/data`, { token: owner })).bytes)).toBe(
      '{"src":"Bonjour.","tgt":"Hello."}\n{"src":"Merci.","tgt":"Thanks."}\n',
    );
  });

  it('the same file uploaded again is a new corpus on the objects already stored; the same rows from another file keep that file', async () => {
    const objects = async () => (await env.BLOBS.list({ prefix: 'sha256/' })).objects.length;
    const tsv = enc.encode('Bonjour encore.\tHello again.\nMerci encore.\tThanks again.\n');
    const first = await post('corpora', 'src=fr&tgt=en&name=first', tsv);
    expect(first.status).toBe(201);
    const before = await objects();
    const again = await post('corpora', 'src=fr&tgt=en&name=again&visibility=public', tsv);
    expect(again.status).toBe(201);
    expect(await objects()).toBe(before);
    expect(again.body.id).not.toBe(first.body.id);
    const { id: _a, name: _b, visibility: _c, createdAt: _d, ...same } = first.body;
    expect(again.body).toMatchObject({ ...same, name: 'again', visibility: 'public' });
    expect(again.body.original).toEqual({ sha256: await sha256(tsv), size: tsv.byteLength });
    const rows = '{"src":"Bonjour encore.","tgt":"Hello again."}\n{"src":"Merci encore.","tgt":"Thanks again."}\n';
    expect(text((await call('GET', `/v1/corpora/${again.body.id}/data`, { token: null })).bytes)).toBe(rows);
    expect((await call('GET', `/v1/corpora/${again.body.id}/data?original=true`, { token: null })).bytes).toEqual(tsv);
    expect((await call('GET', `/v1/corpora/${again.body.id}`, { token: owner })).body).toEqual(again.body);

    // CRLF line ends: the same rows, another file, which is stored and served as its own
    const crlf = enc.encode('Bonjour encore.\tHello again.\r\nMerci encore.\tThanks again.\r\n');
    const other = await post('corpora', 'src=fr&tgt=en', crlf);
    expect(other.body.sha256).toBe(first.body.sha256);
    expect(other.body.original).toEqual({ sha256: await sha256(crlf), size: crlf.byteLength });
    expect(await objects()).toBe(before + 1);
    expect((await call('GET', `/v1/corpora/${other.body.id}/data?original=true`, { token: owner })).bytes).toEqual(crlf);
    expect(text((await call('GET', `/v1/corpora/${other.body.id}/data`, { token: owner })).bytes)).toBe(rows);

    // a two-file form sent twice byte for byte (the same boundary): its parts are those of the first
    const form = formDataBody([
      { name: 'src', filename: 'a.fr', bytes: enc.encode('Oui.\nNon.\n') },
      { name: 'tgt', filename: 'a.en', bytes: enc.encode('Yes.\nNo.\n') },
    ]);
    const sent = () => post('corpora', 'src=fr&tgt=en', form.body, { 'content-type': form.contentType });
    const f1 = await sent();
    const f2 = await sent();
    expect([f1.status, f2.status]).toEqual([201, 201]);
    expect(f2.body.original).toEqual(f1.body.original);
    expect(f2.body.original.parts).toHaveLength(2);
    const served = await call('GET', `/v1/corpora/${f2.body.id}/data?original=true`, { token: owner });
    expect([served.bytes, served.headers.get('content-type')]).toEqual([form.body, form.contentType]);
  });

  it('a private original is not readable by another user or anonymously (404); a public one is', async () => {
    const up = await post('corpora', 'src=fr&tgt=en', uploaded);
    for (const token of [other, null]) {
      const r = await call('GET', `/v1/corpora/${up.body.id}/data?original=true`, { token });
      expect([r.status, r.body.error.code]).toEqual([404, 'not_found']);
    }
    const pub = await post('corpora', 'src=fr&tgt=en&visibility=public', uploaded);
    const r = await call('GET', `/v1/corpora/${pub.body.id}/data?original=true`, { token: null });
    expect(r.bytes).toEqual(uploaded);
  });

  it('a corpus stored before originals were kept: no original in its info, ?original=true is 404 no_original', async () => {
    const up = await post('corpora', 'src=fr&tgt=en', enc.encode('Salut.\tHi.\n'));
    await env.DB.prepare(
      'UPDATE corpora SET original_sha256 = NULL, original_size = NULL, original_r2_key = NULL, original_content_type = NULL, original_parts = NULL WHERE id = ?',
    )
      .bind(up.body.id)
      .run();
    const info = await call('GET', `/v1/corpora/${up.body.id}`, { token: owner });
    expect(info.body.original).toBeUndefined();
    const r = await call('GET', `/v1/corpora/${up.body.id}/data?original=true`, { token: owner });
    expect(r.status).toBe(404);
    expect(r.body.error.code).toBe('no_original');
    expect(r.body.error.message).toBe(
      `corpus ${up.body.id} was stored before polyprune kept uploaded files: only its normalised rows exist (GET /v1/corpora/${up.body.id}/data)`,
    );
    expect(text((await call('GET', `/v1/corpora/${up.body.id}/data`, { token: owner })).bytes)).toBe('{"src":"Salut.","tgt":"Hi."}\n');
  });
});

describe('suites', () => {
  // PAWS-X as published plus a BOM, CRLF and its id column (not stored)
  const uploaded = enc.encode(`${BOM}id\tsentence1\tsentence2\tlabel\r\n1\tDer Hund bellt.\tEin Hund bellt.\t1\r\n2\tEs regnet.\tDie Sonne scheint.\t0\r\n`);

  it('?original=true serves the uploaded bytes with their sha256; the default stays the normalised JSONL', async () => {
    const up = await post('suites', 'format=pawsx&lang=de', uploaded);
    expect(up.status).toBe(201);
    expect(up.body.stats.recognised).toEqual({ input: 'tsv', header: true, columns: ['id', 'sentence1', 'sentence2', 'label'] });
    const expected = await sha256(uploaded);
    expect(up.body.original).toEqual({ sha256: expected, size: uploaded.byteLength });
    const orig = await call('GET', `/v1/suites/${up.body.id}/data?original=true`, { token: owner });
    expect(orig.bytes).toEqual(uploaded);
    expect(orig.headers.get('x-content-sha256')).toBe(expected);
    expect(orig.headers.get('content-disposition')).toContain(`${up.body.id}.original.tsv`);
    const rows =
      '{"sentence1":"Der Hund bellt.","sentence2":"Ein Hund bellt.","label":1}\n{"sentence1":"Es regnet.","sentence2":"Die Sonne scheint.","label":0}\n';
    const norm = await call('GET', `/v1/suites/${up.body.id}/data`, { token: owner });
    expect(text(norm.bytes)).toBe(rows);
    expect(norm.headers.get('x-content-sha256')).toBe(await sha256(rows));
  });

  it('a private original is not readable by another user or anonymously (404)', async () => {
    const up = await post('suites', 'format=pawsx&lang=de', uploaded);
    for (const token of [other, null]) {
      const r = await call('GET', `/v1/suites/${up.body.id}/data?original=true`, { token });
      expect([r.status, r.body.error.code]).toEqual([404, 'not_found']);
    }
  });

  it('a suite stored before originals were kept: ?original=true is 404 no_original', async () => {
    const up = await post('suites', 'format=pawsx&lang=de', uploaded);
    await env.DB.prepare('UPDATE suites SET original_sha256 = NULL, original_size = NULL, original_r2_key = NULL WHERE id = ?').bind(up.body.id).run();
    expect((await call('GET', `/v1/suites/${up.body.id}`, { token: owner })).body.original).toBeUndefined();
    const r = await call('GET', `/v1/suites/${up.body.id}/data?original=true`, { token: owner });
    expect([r.status, r.body.error.code]).toEqual([404, 'no_original']);
  });

  // Over one 5 MiB R2 part: the body is sent to R2 in parts as it is parsed, then copied to its content address.
  const big = (() => {
    const line = 'Der schnelle braune Fuchs springt über den faulen Hund, und dann läuft er weiter.\r\n';
    return enc.encode(BOM + line.repeat(Math.ceil((6 * 1024 * 1024) / line.length)));
  })();

  it('a file larger than one R2 part, streamed without a length, is kept byte for byte at its content address', async () => {
    const stream = () =>
      new ReadableStream<Uint8Array>({
        start(ctrl) {
          for (let at = 0; at < big.byteLength; at += 1 << 20) ctrl.enqueue(big.slice(at, at + (1 << 20)));
          ctrl.close();
        },
      });
    const expected = await sha256(big);
    for (const body of [stream(), big]) {
      const up = await post('suites', 'format=ppl&lang=de', body);
      expect(up.status).toBe(201);
      expect(up.body.original).toEqual({ sha256: expected, size: big.byteLength });
      const orig = await call('GET', `/v1/suites/${up.body.id}/data?original=true`, { token: owner });
      expect(orig.bytes.byteLength).toBe(big.byteLength);
      expect(orig.bytes).toEqual(big);
      expect(orig.headers.get('x-content-sha256')).toBe(expected);
    }
    expect(await env.BLOBS.head(`sha256/${expected}`)).not.toBeNull();
    expect(await temporaries()).toBe(0);
  });

  it('a refused upload keeps nothing', async () => {
    const bad = new Uint8Array([...big, ...enc.encode('{"text": "a JSON line in a text file is fine"}\r\n\u0007\r\n')]);
    const r = await post('suites', 'format=ppl&lang=de&onError=reject', bad);
    expect(r.status).toBe(422);
    expect(await env.BLOBS.head(`sha256/${await sha256(bad)}`)).toBeNull();
    expect(await temporaries()).toBe(0);
  });
});

describe('the OpenAPI document', () => {
  it('carries original on Corpus and Suite, and the ?original query with its 404 on both data routes', async () => {
    const doc = (await call('GET', '/v1/openapi.json')).body;
    for (const schema of ['Corpus', 'Suite']) {
      expect(doc.components.schemas[schema].properties.original, schema).toEqual({ $ref: '#/components/schemas/OriginalFile' });
      expect(doc.components.schemas[schema].required).not.toContain('original');
    }
    expect(Object.keys(doc.components.schemas.OriginalFile.properties)).toEqual(['sha256', 'size', 'parts']);
    for (const kind of ['corpora', 'suites']) {
      const route = doc.paths[`/v1/${kind}/{id}/data`].get;
      expect(route.parameters.find((p: { in: string }) => p.in === 'query')).toMatchObject({ name: 'original', schema: { enum: ['true', 'false'] } });
      expect(route.responses['404'].description).toContain('no_original');
    }
  });
});

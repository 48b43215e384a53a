import { env } from 'cloudflare:workers';
import { beforeAll, describe, expect, it } from 'vitest';
import { call, makeToken, sha256 } from '../helpers';

let writer: string;
beforeAll(async () => {
  writer = await makeToken('corpus-owner', ['write']);
});

const upload = (body: BodyInit, query: string) => call('POST', `/v1/corpora?${query}`, { token: writer, body });
const rowCount = async () => (await env.DB.prepare('SELECT COUNT(*) AS n FROM corpora').first<{ n: number }>())!.n;

describe('corpus upload', () => {
  it('stores the text as uploaded with stats, dropping exact duplicates (compared after NFC + trim)', async () => {
    const tsv = 'Bonjour.\tHello.\nMerci beaucoup.\tThank you very much.\nBonjour. \tHello.\n\n  Au revoir.  \tGoodbye.\r\n';
    const r = await upload(tsv, 'src=fr&tgt=en&name=greetings');
    expect(r.status).toBe(201);
    expect(r.body.stats).toMatchObject({ pairsKept: 3, duplicates: 1, skipped: {} });
    // Mean characters per side, computed by hand: (8+15+14)/3 and (6+20+8)/3.
    expect(r.body.stats.meanCharsSrc).toBeCloseTo(37 / 3, 10);
    expect(r.body.stats.meanCharsTgt).toBeCloseTo(34 / 3, 10);
    const data = await call('GET', `/v1/corpora/${r.body.id}/data`, { token: writer });
    const text = new TextDecoder().decode(data.bytes);
    expect(text).toBe('{"src":"Bonjour.","tgt":"Hello."}\n{"src":"Merci beaucoup.","tgt":"Thank you very much."}\n{"src":"  Au revoir.  ","tgt":"Goodbye."}\n');
    expect(r.body.sha256).toBe(await sha256(text));
    const got = await call('GET', `/v1/corpora/${r.body.id}`, { token: writer });
    expect(got.body).toMatchObject({ id: r.body.id, owner: 'corpus-owner', src: 'fr', tgt: 'en', visibility: 'private' });
  });

  it('accepts JSONL and sniffs the format', async () => {
    const r = await upload('{"src":"Hallo","tgt":"Hello"}\n{"src":"Danke","tgt":"Thanks"}\n', 'src=de&tgt=en');
    expect(r.status).toBe(201);
    expect(r.body.stats.pairsKept).toBe(2);
  });

  const cases: [string, string | Uint8Array, number, string][] = [
    ['missing tab', 'ok\tfine\nno tab here\n', 2, 'missing_tab'],
    ['empty side', 'ok\tfine\n\tempty source\n', 2, 'empty_side'],
    ['control characters (onError=reject)', 'ok\tfine\nbell\u0007\tx\n', 2, 'control_chars'],
    ['a side over 4096 characters', `ok\tfine\nok\tfine2\n${'a'.repeat(4097)}\tx\n`, 3, 'too_long'],
    ['not UTF-8', new Uint8Array([...new TextEncoder().encode('ok\tfine\n'), 0xff, 0xfe, 0x09, 0x41, 0x0a]), 2, 'invalid_utf8'],
    ['bad JSON', '{"src":"a","tgt":"b"}\n{"src": oops}\n', 2, 'bad_json'],
    ['JSON without tgt', '{"src":"a","tgt":"b"}\n{"src":"a"}\n', 2, 'missing_field'],
    ['extra columns', 'ok\tfine\na\tb\tc\n', 2, 'extra_columns'],
  ];
  for (const [name, body, line, reason] of cases) {
    it(`rejects ${name} with its line number and keeps nothing`, async () => {
      const before = await rowCount();
      const r = await upload(body, `src=fr&tgt=en${reason === 'control_chars' ? '&onError=reject' : ''}`);
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe('invalid_lines');
      expect(r.body.error.details.problems[0]).toMatchObject({ line, reason });
      expect(r.body.error.message).toContain(`line ${line}`);
      expect(await rowCount()).toBe(before);
    });
  }

  it('lists at most 100 problems; a rejected upload stops there, a skipped one counts them all', async () => {
    const body = Array.from({ length: 150 }, (_, i) => `bad line ${i}`).join('\n');
    const r = await upload(body, 'src=fr&tgt=en');
    expect(r.status).toBe(422);
    expect(r.body.error.details.problems).toHaveLength(100);
    expect(r.body.error.details).toMatchObject({ total: 100, stoppedAtLine: 100 });
    const s = await upload(body, 'src=fr&tgt=en&onError=skip');
    expect(s.body.error.code).toBe('no_valid_lines');
    expect(s.body.error.details.problems).toHaveLength(100);
    expect(s.body.error.details.total).toBe(150);
  });

  it('answers a file with spaces for tabs with one problem that names the cause, not a problem per line', async () => {
    const body = Array.from({ length: 500 }, (_, i) => `Phrase numéro ${i}.    Sentence number ${i}.`).join('\n');
    for (const q of ['src=fr&tgt=en', 'src=fr&tgt=en&onError=skip']) {
      const before = await rowCount();
      const r = await upload(body, q);
      expect(r.status).toBe(422);
      expect(r.body.error.code).toBe('invalid_lines');
      expect(r.body.error.message).toContain('looks like spaces, not tabs');
      expect(r.body.error.details.problems).toEqual([expect.objectContaining({ reason: 'spaces_not_tabs' })]);
      expect(r.body.error.details.total).toBe(1);
      expect(await rowCount()).toBe(before);
    }
    // a stray spaced line among tab-separated ones is that line's problem
    const mixed = await upload('Bonjour\tHello\nMerci    Thanks\n', 'src=fr&tgt=en');
    expect(mixed.body.error.details.problems).toEqual([expect.objectContaining({ line: 2, reason: 'missing_tab' })]);
  });

  it('says that control characters refused by onError=reject are stripped without it, as onError=skip does', async () => {
    const body = 'ok\tfine\nbell\u0007\tx\n';
    const r = await upload(body, 'src=fr&tgt=en&onError=reject');
    expect(r.body.error.message).toContain('upload without onError=reject: control characters are then stripped');
    expect(r.body.error.message).not.toContain('onError=skip');
    // what the hint promises: stripped, counted, the line kept (default and skip alike)
    for (const q of ['src=fr&tgt=en', 'src=fr&tgt=en&onError=skip']) {
      const ok = await upload(body, q);
      expect(ok.status).toBe(201);
      expect(ok.body.stats.pairsKept).toBe(2);
      expect(ok.body.stats.controlChars.count).toBe(1);
    }
  });

  it('onError=skip keeps good lines and reports skipped ones by reason', async () => {
    const r = await upload('a\tb\nno tab\nc\t\n\td\ne\tf\n', 'src=es&tgt=en&onError=skip');
    expect(r.status).toBe(201);
    expect(r.body.stats.pairsKept).toBe(2);
    expect(r.body.stats.skipped).toEqual({ missing_tab: 1, empty_side: 2 });
    expect(r.body.skippedLines.map((p: { line: number }) => p.line)).toEqual([2, 3, 4]);
  });

  it('validates language tags and the query', async () => {
    for (const q of ['src=french&tgt=en', 'src=fr', 'src=fr&tgt=EN', 'src=fr&tgt=en&onError=maybe', 'src=fr&tgt=en&visibility=secret']) {
      const r = await upload('a\tb\n', q);
      expect(r.status, q).toBe(400);
      expect(r.body.error.code).toBe('invalid_request');
    }
    expect((await upload('a\tb\n', 'src=pt-BR&tgt=zh-Hant')).status).toBe(201);
  });

  it('refuses an upload with no usable pair', async () => {
    expect((await upload('', 'src=fr&tgt=en')).status).toBe(422);
    expect((await upload('x\n', 'src=fr&tgt=en&onError=skip')).body.error.code).toBe('no_valid_lines');
  });
});

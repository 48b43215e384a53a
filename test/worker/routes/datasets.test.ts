import { beforeAll, describe, expect, it } from 'vitest';
import engShort from '../../fixtures/datasets/eng_Latn.short?raw';
import eng from '../../fixtures/datasets/eng_Latn.devtest?raw';
import hubJsonl from '../../fixtures/datasets/fr-en.hub.jsonl?raw';
import frEnTsv from '../../fixtures/datasets/fr-en.tsv?raw';
import fra from '../../fixtures/datasets/fra_Latn.devtest?raw';
import pawsx from '../../fixtures/datasets/pawsx.de.tsv?raw';
import xcopa from '../../fixtures/datasets/xcopa.it.jsonl?raw';
import xnliHubStrings from '../../fixtures/datasets/xnli.hub-strings.jsonl?raw';
import xnliHub from '../../fixtures/datasets/xnli.hub.jsonl?raw';
import xnli10 from '../../fixtures/datasets/xnli-1.0.tsv?raw';
import xnliTsv from '../../fixtures/datasets/xnli.fr.tsv?raw';
import storyCsv from '../../fixtures/datasets/xstorycloze.en.csv?raw';
import storyTsv from '../../fixtures/datasets/xstorycloze.en.tsv?raw';
import { formDataBody } from '@polyprune/shared/form-data';
import { call, makeToken } from '../helpers';

let writer: string;
beforeAll(async () => {
  writer = await makeToken('dataset-owner', ['write']);
});

const corpus = (body: BodyInit, query: string) => call('POST', `/v1/corpora?${query}`, { token: writer, body });
const suite = (body: BodyInit, query: string) => call('POST', `/v1/suites?${query}`, { token: writer, body });
const twoFiles = (src: string, tgt: string, extra: Record<string, string> = {}) => {
  const form = new FormData();
  form.append('src', new Blob([src]), 'fra_Latn.devtest');
  form.append('tgt', new Blob([tgt]), 'eng_Latn.devtest');
  for (const [k, v] of Object.entries(extra)) form.append(k, v);
  return form;
};
const stored = async (kind: 'corpora' | 'suites', id: string) => {
  const r = await call('GET', `/v1/${kind}/${id}/data`, { token: writer });
  return new TextDecoder()
    .decode(r.bytes)
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l));
};
const lines = (text: string) => text.trimEnd().split('\n');

describe('parallel corpora in their native formats', () => {
  it('two line-aligned files (FLORES-200) in one multipart request, codes normalised, text stored byte for byte', async () => {
    const r = await corpus(twoFiles(fra, eng), 'src=fra_Latn&tgt=eng_Latn');
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ src: 'fr', tgt: 'en', name: 'fr-en' });
    expect(r.body.stats).toMatchObject({ format: 'two-files', lines: 5, pairsKept: 5, languages: { src: 'fra_Latn', tgt: 'eng_Latn' }, warnings: [] });
    const rows = await stored('corpora', r.body.id);
    expect(rows).toEqual(lines(fra).map((src, i) => ({ src, tgt: lines(eng)[i] })));
    // Line 2 holds two leading spaces and a decomposed "é" (e + U+0301): neither trimmed nor NFC-composed.
    expect(rows[1].src.startsWith('  Il fait tre\u0301s')).toBe(true);
    expect(rows[1].src).not.toBe(rows[1].src.normalize('NFC'));
  });

  it('TSV and hub JSONL {"translation": {…}} of the same pairs store the same bytes as the two files', async () => {
    const a = await corpus(twoFiles(fra, eng), 'src=fr&tgt=en');
    const b = await corpus(frEnTsv, 'src=fra&tgt=eng');
    const c = await corpus(hubJsonl, 'src=fr&tgt=en');
    expect([b.status, c.status]).toEqual([201, 201]);
    expect(b.body.stats.format).toBe('tsv');
    expect(c.body.stats.format).toBe('hub-jsonl');
    expect(b.body.sha256).toBe(a.body.sha256);
    expect(c.body.sha256).toBe(a.body.sha256);
    // Sides are picked by language, not by position: the reverse direction swaps them.
    const d = await corpus(hubJsonl, 'src=en&tgt=fr');
    expect((await stored('corpora', d.body.id))[0]).toEqual({ src: lines(eng)[0], tgt: lines(fra)[0] });
  });

  it("the CLI's hand-built multipart body (polyprune corpora upload --src-file --tgt-file) is read the same as FormData", async () => {
    const enc = new TextEncoder();
    const form = formDataBody([
      { name: 'src', filename: 'fra_Latn.devtest', bytes: enc.encode(fra) },
      { name: 'tgt', filename: 'eng_Latn.devtest', bytes: enc.encode(eng) },
    ]);
    const r = await call('POST', '/v1/corpora?src=fra_Latn&tgt=eng_Latn', { token: writer, body: form.body, headers: { 'content-type': form.contentType } });
    expect(r.status).toBe(201);
    expect(r.body.sha256).toBe((await corpus(twoFiles(fra, eng), 'src=fr&tgt=en')).body.sha256);
  });

  it('a line-count mismatch is a 422 naming both counts; unknown or missing parts are 400s', async () => {
    const r = await corpus(twoFiles(fra, engShort), 'src=fr&tgt=en');
    expect(r.status).toBe(422);
    expect(r.body.error.code).toBe('line_count_mismatch');
    expect(r.body.error.message).toContain('src has 5 lines, tgt has 4');
    expect(r.body.error.details).toEqual({ srcLines: 5, tgtLines: 4 });
    const extra = await corpus(twoFiles(fra, eng, { notes: 'x' }), 'src=fr&tgt=en');
    expect([extra.status, extra.body.error.code]).toEqual([400, 'unknown_part']);
    expect(extra.body.error.message).toContain('"notes"');
    const form = new FormData();
    form.append('src', new Blob([fra]));
    expect((await corpus(form, 'src=fr&tgt=en')).body.error.code).toBe('missing_part');
  });

  it('hub rows without the declared languages name the keys they have', async () => {
    const r = await corpus(hubJsonl, 'src=de&tgt=en');
    expect(r.status).toBe(422);
    expect(r.body.error.details.problems[0]).toMatchObject({ line: 1, reason: 'missing_field' });
    expect(r.body.error.details.problems[0].message).toContain('"fr", "en"');
  });
});

describe('language codes', () => {
  it('ISO 639-1, ISO 639-3 and FLORES-200 codes become one canonical code, the original kept', async () => {
    const cases: [string, string][] = [
      ['fr', 'fr'],
      ['fra', 'fr'],
      ['fra_Latn', 'fr'],
      ['arb_Arab', 'ar'],
      ['zho_Hans', 'zh'],
      ['zho_Hant', 'zh-Hant'],
      ['pes_Arab', 'fa'],
      ['swh_Latn', 'sw'],
      ['por-BR', 'pt-BR'],
    ];
    for (const [given, canonical] of cases) {
      const r = await corpus('x y\tz w\n', `src=${given}&tgt=eng_Latn&onError=skip`);
      expect(r.status, given).toBe(201);
      expect(r.body.src, given).toBe(canonical);
      expect(r.body.stats.languages.src, given).toBe(given);
    }
    const s = await suite('{"premise":"a","hypothesis":"b","label":0}\n', 'format=xnli&lang=deu_Latn');
    expect([s.body.lang, s.body.stats.langGiven]).toEqual(['de', 'deu_Latn']);
    // List filters accept any spelling.
    const listed = await call('GET', `/v1/suites?lang=deu&owner=dataset-owner`, { token: writer });
    expect(listed.body.items.map((i: { id: string }) => i.id)).toContain(s.body.id);
  });

  it('a code the calibration template cannot name is refused at upload', async () => {
    for (const code of ['tlh', 'xx', 'qaa_Latn']) {
      const r = await corpus('a\tb\n', `src=${code}&tgt=en`);
      expect(r.status, code).toBe(422);
      expect(r.body.error.code).toBe('unknown_language');
      expect(r.body.error.message).toContain(code);
    }
    expect((await suite('{"text":"x"}\n', 'format=ppl&lang=tlh')).body.error.code).toBe('unknown_language');
  });

  it('src equal to tgt is a 422: the same language twice, or the same file on both sides', async () => {
    const same = await corpus('a\tb\n', 'src=fr&tgt=fra_Latn');
    expect([same.status, same.body.error.code]).toEqual([422, 'src_equals_tgt']);
    const twice = await corpus(twoFiles(fra, fra), 'src=fr&tgt=en');
    expect([twice.status, twice.body.error.code]).toEqual([422, 'src_equals_tgt']);
    // One identical pair among others (a name, a number) is counted, not refused.
    const one = await corpus('Paris\tParis\nBonjour\tHello\n', 'src=fr&tgt=en');
    expect(one.status).toBe(201);
    expect(one.body.stats.identicalPairs).toBe(1);
  });

  it('a side whose script does not fit its language is a warning in stats', async () => {
    const r = await corpus('مرحبا بالعالم\tHello world\nشكرا جزيلا\tThank you\n', 'src=zh&tgt=en');
    expect(r.status).toBe(201);
    expect(r.body.stats.warnings).toHaveLength(1);
    expect(r.body.stats.warnings[0]).toMatchObject({ field: 'src', lang: 'zh', expected: 'Hans', found: 'Arab', share: 0 });
    const ok = await corpus('你好世界\tHello world\n', 'src=zh&tgt=en');
    expect(ok.body.stats.warnings).toEqual([]);
    const s = await suite('{"text":"Привет, мир"}\n', 'format=ppl&lang=ja');
    expect(s.body.stats.warnings[0]).toMatchObject({ expected: 'Jpan', found: 'Cyrl' });
  });
});

describe('control characters', () => {
  it('are stripped by default, counted, and the first ones reported with line and code point', async () => {
    const r = await corpus('ok\tfine\nbell\u0007 here\tx\u0008y\u0008\n', 'src=fr&tgt=en');
    expect(r.status).toBe(201);
    expect(r.body.stats.controlChars).toEqual({
      count: 3,
      lines: 1,
      first: [
        { line: 2, codePoint: 'U+0007' },
        { line: 2, codePoint: 'U+0008' },
        { line: 2, codePoint: 'U+0008' },
      ],
    });
    expect((await stored('corpora', r.body.id))[1]).toEqual({ src: 'bell here', tgt: 'xy' });
    // JSON escapes decode to control characters too; tab is text, not a control character here.
    const s = await suite('{"premise":"a\\u001bb\\tc","hypothesis":"h","label":0}\n', 'format=xnli&lang=fr');
    expect(s.body.stats.controlChars.first).toEqual([{ line: 1, codePoint: 'U+001B' }]);
    expect((await stored('suites', s.body.id))[0].premise).toBe('ab\tc');
  });

  it('onError=reject keeps the strict behaviour', async () => {
    const r = await corpus('ok\tfine\nbell\u0007\tx\n', 'src=fr&tgt=en&onError=reject');
    expect(r.status).toBe(422);
    expect(r.body.error.details.problems[0]).toMatchObject({ line: 2, reason: 'control_chars' });
  });
});

describe('suites in their published shapes', () => {
  it('XNLI: XTREME TSV with string labels, XNLI 1.0 TSV with its header, hub JSONL with int or string labels', async () => {
    const tsv = await suite(xnliTsv, 'format=xnli&lang=fr');
    expect(tsv.status).toBe(201);
    expect(tsv.body.stats.recognised).toEqual({ input: 'tsv', header: false, columns: null });
    expect((await stored('suites', tsv.body.id)).map((r) => r.label)).toEqual([0, 1, 2, 0]);
    const v10 = await suite(xnli10, 'format=xnli&lang=fr');
    expect(v10.body.stats.recognised).toMatchObject({ input: 'tsv', header: true });
    expect(await stored('suites', v10.body.id)).toEqual([
      { premise: 'Le chien aboie.', hypothesis: 'Le chien dort en silence.', label: 2 },
      { premise: 'Le chien aboie.', hypothesis: 'Le chien fait du bruit.', label: 0 },
    ]);
    const hub = await suite(xnliHub, 'format=xnli&lang=de');
    expect(hub.body.stats.recognised.input).toBe('jsonl');
    expect((await stored('suites', hub.body.id)).map((r) => r.label)).toEqual([0, 2]);
    const strings = await suite(xnliHubStrings, 'format=xnli&lang=de');
    expect((await stored('suites', strings.body.id)).map((r) => r.label)).toEqual([0, 1]);
    const bad = await suite('a\tb\tmaybe\n', 'format=xnli&lang=fr');
    expect(bad.status).toBe(422);
    expect(bad.body.error.details.problems[0]).toMatchObject({ line: 1, reason: 'invalid_row' });
  });

  it('PAWS-X TSV: header and id column read, NS placeholders dropped and counted, duplicates kept unless dedupe', async () => {
    const r = await suite(pawsx, 'format=pawsx&lang=de');
    expect(r.status).toBe(201);
    expect(r.body.stats).toMatchObject({ lines: 5, rowsKept: 3, placeholders: 1, duplicates: 1, deduped: false });
    expect(r.body.stats.recognised).toEqual({ input: 'tsv', header: true, columns: ['id', 'sentence1', 'sentence2', 'label'] });
    const rows = await stored('suites', r.body.id);
    expect(rows[0]).toEqual({ sentence1: 'Der Hund jagt die Katze.', sentence2: 'Die Katze wird vom Hund gejagt.', label: 1 });
    expect(rows.some((x) => x.sentence1 === 'NS' || x.sentence2 === 'NS')).toBe(false);
    const d = await suite(pawsx, 'format=pawsx&lang=de&dedupe=true');
    expect(d.body.stats).toMatchObject({ rowsKept: 2, placeholders: 1, duplicates: 1, deduped: true });
  });

  it('XCOPA JSONL as published (extra idx/changed fields) is read into the xcopa row', async () => {
    const r = await suite(xcopa, 'format=xcopa&lang=it');
    expect(r.status).toBe(201);
    const rows = await stored('suites', r.body.id);
    expect(rows[0]).toEqual({
      premise: "L'uomo si è rotto un dito.",
      choice1: 'Gli è caduto un martello sul piede.',
      choice2: 'Ha corso una maratona.',
      question: 'cause',
      label: 0,
    });
  });

  it('XStoryCloze CSV (quoted commas) and TSV give the same rows; the 1-based right ending becomes label 0/1', async () => {
    const csv = await suite(storyCsv, 'format=xstorycloze&lang=en');
    const tsv = await suite(storyTsv, 'format=xstorycloze&lang=en');
    expect([csv.status, tsv.status]).toEqual([201, 201]);
    expect(csv.body.stats.recognised).toMatchObject({ input: 'csv', header: true });
    expect(tsv.body.stats.recognised).toMatchObject({ input: 'tsv', header: true });
    expect(csv.body.sha256).toBe(tsv.body.sha256);
    const rows = await stored('suites', csv.body.id);
    expect(rows[0]).toEqual({
      sentences: ['Ana went to the market.', 'She wanted apples, pears and plums.', 'The stall was closed.', 'She went home.'],
      endings: ['She bought nothing.', 'She bought a car.'],
      label: 0,
    });
    expect(rows[1].label).toBe(1);
    // The hub's JSONL field names too.
    const hub = {
      story_id: 'x',
      input_sentence_1: 'a.',
      input_sentence_2: 'b.',
      input_sentence_3: 'c.',
      input_sentence_4: 'd.',
      sentence_quiz1: 'e.',
      sentence_quiz2: 'f.',
      answer_right_ending: 2,
    };
    const h = await suite(JSON.stringify(hub), 'format=xstorycloze&lang=en');
    expect(await stored('suites', h.body.id)).toEqual([{ sentences: ['a.', 'b.', 'c.', 'd.'], endings: ['e.', 'f.'], label: 1 }]);
  });
});

describe('subsets', () => {
  // 100 rows: 50 entailment, 30 neutral, 20 contradiction.
  const labels = [...Array(50).fill('entailment'), ...Array(30).fill('neutral'), ...Array(20).fill('contradiction')];
  const body = labels.map((l, i) => `Prémisse ${i}.\tHypothèse ${i}.\t${l}`).join('\n');

  it('subset=N&seed=S is reproducible, stratified by label, recorded in stats, and keeps file order', async () => {
    const a = await suite(body, 'format=xnli&lang=fr&subset=10&seed=7');
    const b = await suite(body, 'format=xnli&lang=fr&subset=10&seed=7');
    const c = await suite(body, 'format=xnli&lang=fr&subset=10&seed=8');
    expect(a.status).toBe(201);
    expect(a.body.stats.subset).toEqual({ n: 10, seed: 7, of: 100 });
    expect(a.body.stats.rowsKept).toBe(10);
    expect(b.body.sha256).toBe(a.body.sha256);
    expect(c.body.sha256).not.toBe(a.body.sha256);
    const rows = await stored('suites', a.body.id);
    // 10 × (50, 30, 20)/100 per label.
    const count = (l: number) => rows.filter((r) => r.label === l).length;
    expect([count(0), count(1), count(2)]).toEqual([5, 3, 2]);
    const idx = rows.map((r) => Number(/\d+/.exec(r.premise)![0]));
    expect(idx).toEqual([...idx].sort((x, y) => x - y));
    expect(new Set(idx).size).toBe(10);
    // A subset larger than the suite keeps everything.
    const all = await suite(body, 'format=xnli&lang=fr&subset=500');
    expect(all.body.stats.subset).toEqual({ n: 100, seed: 0, of: 100 });
  });
});

import { beforeAll, describe, expect, it } from 'vitest';
import { call, makeToken } from '../helpers';

let writer: string;
beforeAll(async () => {
  writer = await makeToken('suite-owner', ['write']);
});
const upload = (body: string, query: string) => call('POST', `/v1/suites?${query}`, { token: writer, body });
const jsonl = (...rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n');

const good: Record<string, unknown> = {
  xnli: { premise: 'Il pleut.', hypothesis: 'Le sol est mouillé.', label: 0 },
  marc: { text: 'Très bon produit.', stars: 5 },
  pawsx: { sentence1: 'A b.', sentence2: 'B a.', label: 1 },
  xcopa: { premise: 'The glass broke.', choice1: 'It fell.', choice2: 'It sang.', question: 'cause', label: 0 },
  xstorycloze: { sentences: ['a.', 'b.', 'c.', 'd.'], endings: ['e.', 'f.'], label: 1 },
  mc: { context: 'The sky is', choices: ['blue', 'loud'], label: 0 },
  ppl: { text: 'Une phrase.' },
  mt: { src: 'Bonjour', tgt: 'Hello' },
};
const bad: Record<string, [unknown, string]> = {
  xnli: [{ premise: 'x', hypothesis: 'y', label: 3 }, 'label'],
  marc: [{ text: 'x', stars: 0 }, 'stars'],
  pawsx: [{ sentence1: 'x', label: 1 }, 'sentence2'],
  xcopa: [{ premise: 'p', choice1: 'a', choice2: 'b', question: 'why', label: 0 }, 'question'],
  xstorycloze: [{ sentences: ['a.'], endings: ['e.', 'f.'], label: 0 }, 'sentences'],
  mc: [{ context: 'c', choices: ['a', 'b'], label: 2 }, 'label'],
  ppl: [{ text: '' }, 'text'],
  mt: [{ src: 'a' }, 'tgt'],
};

describe('suite upload', () => {
  for (const format of Object.keys(good)) {
    it(`${format}: accepts valid rows and names the field of a bad row with its line`, async () => {
      // Exact duplicates are kept (published counts stay comparable) and counted; dedupe=true drops them.
      const ok = await upload(jsonl(good[format], good[format]), `format=${format}&lang=fr`);
      expect(ok.status).toBe(201);
      expect(ok.body.stats).toMatchObject({ rowsKept: 2, duplicates: 1, deduped: false });
      const once = await upload(jsonl(good[format], good[format]), `format=${format}&lang=fr&dedupe=true`);
      expect(once.body.stats).toMatchObject({ rowsKept: 1, duplicates: 1, deduped: true });
      const [row, field] = bad[format]!;
      const r = await upload(jsonl(good[format], row), `format=${format}&lang=fr`);
      expect(r.status).toBe(422);
      expect(r.body.error.details.problems[0].line).toBe(2);
      expect(r.body.error.details.problems[0].message).toContain(field);
    });
  }

  it('ppl accepts plain text lines and mt accepts TSV', async () => {
    const p = await upload('text\nPremière phrase.\nDeuxième\tphrase, avec tab.\n', 'format=ppl&lang=fr');
    expect(p.status).toBe(201);
    // A first line "text" is a passage, not a header; tabs and commas stay inside the passage.
    expect(p.body.stats.rowsKept).toBe(3);
    expect(p.body.stats.recognised).toEqual({ input: 'text', header: false, columns: null });
    const m = await upload('Bonjour\tHello\nno tab\n', 'format=mt&lang=fr');
    expect(m.status).toBe(422);
    expect(m.body.error.details.problems[0]).toMatchObject({ line: 2, reason: 'missing_tab' });
  });

  it('onError=reject refuses control characters inside nested fields', async () => {
    const r = await upload(jsonl({ sentences: ['a.', 'b\u0001', 'c.', 'd.'], endings: ['e.', 'f.'], label: 0 }), 'format=xstorycloze&lang=en&onError=reject');
    expect(r.status).toBe(422);
    expect(r.body.error.details.problems[0]).toMatchObject({ line: 1, reason: 'control_chars' });
  });

  it('rejects unknown formats and bad language tags with 400', async () => {
    expect((await upload(jsonl(good.mc), 'format=quiz&lang=fr')).status).toBe(400);
    expect((await upload(jsonl(good.mc), 'format=mc&lang=fr_FR')).status).toBe(400);
  });
});

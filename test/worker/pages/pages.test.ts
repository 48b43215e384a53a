/** What the pages draw: log axes for perplexity, one colour per variant, one legend per figure, heatmap scales, the run page's one table. */
import { beforeAll, describe, expect, it } from 'vitest';
import { Heatmap } from '@polyprune/worker/pages/heatmap.tsx';
import { call } from '../helpers';
import { completeWithScores, makeWorld, pruneSpec, type World } from '../fixtures';

const complete = completeWithScores;

/** The attributes of every tag matching `re` (a tag-name-and-class pattern). */
const tags = (html: string, re: RegExp) => [...html.matchAll(re)].map((m) => m[0]);
const attr = (tag: string, name: string) => tag.match(new RegExp(` ${name}="([^"]*)"`))?.[1];
const rgb = (s: string) => s.match(/\d+/g)!.map(Number);

let w: World;
let ppl: string;
const PPL: Record<string, number> = { dense: 20, 'magnitude 30%': 22, 'magnitude 50%': 31, 'random 30%': 180, 'random 50%': 5000 };

beforeAll(async () => {
  w = await makeWorld('pages', 'public');
  const r = await call('POST', '/v1/suites?format=ppl&lang=fr&visibility=public&name=wiki-fr', { token: w.writer, body: 'Un texte.\nUn autre.\n' });
  ppl = r.body.id;
  const s = (suiteId: string, format: string, metric: string, value: number) => ({ suiteId, format, lang: 'fr', scoring: 'paper', metric, value, n: 40 });
  await complete(w, { kind: 'evaluate', modelId: w.model, suites: [ppl, w.suites.fr], visibility: 'public' }, [
    s(ppl, 'ppl', 'ppl', PPL.dense!),
    s(w.suites.fr, 'xnli', 'acc', 0.6),
  ]);
  for (const method of ['magnitude', 'random'])
    for (const sparsity of [0.3, 0.5])
      await complete(w, { kind: 'prune', modelId: w.model, method, sparsity, suites: [ppl, w.suites.fr], visibility: 'public' }, [
        s(ppl, 'ppl', 'ppl', PPL[`${method} ${sparsity * 100}%`]!),
        s(w.suites.fr, 'xnli', 'acc', method === 'random' ? 0.34 : 0.55),
        s(w.suites.fr, 'xnli', 'acc_lo', 0.5),
        s(w.suites.fr, 'xnli', 'acc_hi', 0.6),
        s(w.suites.fr, 'xnli', 'acc_delta', -0.05),
        s(w.suites.fr, 'xnli', 'acc_delta_lo', -0.08),
        s(w.suites.fr, 'xnli', 'acc_delta_hi', -0.02),
        s(w.suites.fr, 'xnli', 'acc_delta_p', 0.01),
      ]);
});

describe('perplexity charts', () => {
  it('draw on a log axis: ticks at powers of ten, bar heights proportional to log ratios', async () => {
    const html = (await call('GET', `/leaderboards/${w.model}?format=ppl`)).body as string;
    const chart = html.slice(html.indexOf('<svg id="chart"'), html.indexOf('</svg>', html.indexOf('<svg id="chart"')));
    expect(chart).toContain('data-scale="log"');
    const ticks = tags(chart, /<text class="tick"[^>]*>[^<]*</g).map((t) => Number(attr(t, 'data-value')));
    expect(ticks.length).toBeGreaterThanOrEqual(2);
    for (const t of ticks) expect(Math.log10(t)).toBeCloseTo(Math.round(Math.log10(t)), 9);
    expect(ticks).toEqual(expect.arrayContaining([100, 1000]));
    // a bar's height grows with log(value): (h_random50 − h_dense) / (h_mag50 − h_dense) = log(5000/20) / log(31/20)
    const bars = tags(chart, /<rect class="bar"[^>]*>/g);
    const h = (v: number) => Number(attr(bars.find((b) => Number(attr(b, 'data-value')) === v)!, 'height'));
    const ratio = (h(5000) - h(20)) / (h(31) - h(20));
    expect(ratio).toBeCloseTo(Math.log(5000 / 20) / Math.log(31 / 20), 6);
    // the sparsity panels too
    expect(html).toMatch(/<svg class="sparsity-chart"[^>]*data-scale="log"/);
  });

  it('keep a linear axis for accuracy', async () => {
    const html = (await call('GET', `/leaderboards/${w.model}?format=xnli`)).body as string;
    expect(html).toMatch(/<svg id="chart"[^>]*data-scale="linear"/);
  });
});

describe('colours and legends', () => {
  it('give a variant one hex on the bars and the sparsity lines, and each figure one legend', async () => {
    const html = (await call('GET', `/leaderboards/${w.model}?format=ppl`)).body as string;
    const bars = tags(html, /<rect class="bar"[^>]*>/g);
    const fill = (v: number) => attr(bars.find((b) => Number(attr(b, 'data-value')) === v)!, 'fill');
    const stroke = (key: string) => attr(tags(html, new RegExp(`<polyline class="series" data-key="${key}"[^>]*>`, 'g'))[0]!, 'stroke');
    expect(fill(PPL['magnitude 50%']!)).toMatch(/^#[0-9a-f]{6}$/);
    expect(fill(PPL['magnitude 50%']!)).toBe(stroke('magnitude'));
    expect(fill(PPL['magnitude 30%']!)).toBe(stroke('magnitude'));
    expect(fill(PPL['random 50%']!)).toBe(stroke('random'));
    expect(fill(PPL['random 50%']!)).not.toBe(fill(PPL['magnitude 50%']!));
    // dense: the bar and the dashed line
    expect(fill(PPL.dense!)).toBe(attr(tags(html, /<line class="dense"[^>]*>/g)[0]!, 'stroke'));
    // the same variant keeps its colour on the accuracy tab
    const acc = (await call('GET', `/leaderboards/${w.model}?format=xnli`)).body as string;
    const accMag = tags(acc, /<rect class="bar"[^>]*>/g).find((b) => acc.includes('magnitude') && attr(b, 'data-value') === '0.55');
    expect(attr(accMag!, 'fill')).toBe(fill(PPL['magnitude 50%']!));
    // one legend for the sparsity figure (not one per panel), one for the bar chart
    const figure = html.slice(html.indexOf('<figure id="sparsity-figure"'), html.indexOf('</figure>', html.indexOf('<figure id="sparsity-figure"')));
    expect(figure.match(/class="legend"/g)?.length).toBe(1);
    expect((figure.match(/<svg class="sparsity-chart"/g) ?? []).length).toBe(1);
    expect(html.match(/class="legend"/g)?.length).toBe(2);
  });

  it('shows a table, not a chart, when every method has one sparsity', async () => {
    const v = await makeWorld('pages-one', 'public');
    const s = (value: number) => [{ suiteId: v.suites.fr, format: 'xnli', lang: 'fr', scoring: 'paper', metric: 'acc', value, n: 40 }];
    await complete(v, { kind: 'evaluate', modelId: v.model, suites: [v.suites.fr], visibility: 'public' }, s(0.6));
    await complete(v, { ...pruneSpec(v), suites: [v.suites.fr], visibility: 'public' }, s(0.5));
    const html = (await call('GET', `/leaderboards/${v.model}`)).body as string;
    expect(html).toContain('<table id="sparsity-table">');
    expect(html).not.toContain('class="sparsity-chart"');
    // accuracy in % for people
    expect(html).toMatch(/<tr class="dense">[\s\S]*?<td>60\.0<\/td>/);
  });
});

describe('heatmaps', () => {
  it('carry a colour scale whose range puts 0.82 and 1.00 far apart', () => {
    const svg = String(
      Heatmap({
        id: 'h',
        title: 't',
        labels: ['a', 'b'],
        values: [
          [1, 0.82],
          [0.82, 1],
        ],
      }),
    );
    const legend = tags(svg, /<g class="heatmap-legend"[^>]*>/g);
    expect(legend.length).toBe(1);
    const lo = Number(attr(legend[0]!, 'data-lo'));
    const hi = Number(attr(legend[0]!, 'data-hi'));
    expect(lo).toBeLessThanOrEqual(0.82);
    expect(hi).toBeGreaterThanOrEqual(1);
    expect(hi - lo).toBeLessThan(0.5);
    const cells = tags(svg, /<rect class="cell"[^>]*>/g);
    const fillOf = (v: number) => rgb(attr(cells.find((c) => Number(attr(c, 'data-value')) === v)!, 'fill')!);
    const [a, b] = [fillOf(0.82), fillOf(1)];
    const distance = Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);
    expect(distance).toBeGreaterThan(150);
  });
});

describe('run page', () => {
  it('shows the scores as one table: suite names, a column per metric, interval and Δ in the cell', async () => {
    const runs = (await call('GET', `/v1/runs?model=${w.model}&limit=200`, { token: w.writer })).body;
    const run = (runs.items as { id: string; variant: string }[]).find((r) => r.variant === 'magnitude 50%')!;
    const html = (await call('GET', `/runs/${run.id}`)).body as string;
    expect(html.match(/<table id="scores">/g)?.length).toBe(1);
    const table = html.slice(html.indexOf('<table id="scores">'), html.indexOf('</table>', html.indexOf('<table id="scores">')));
    expect(table).not.toContain('acc_delta_lo');
    expect(table).toContain('wiki-fr');
    // two suites, one row each
    expect(table.match(/<tr>/g)?.length).toBe(3);
    expect(table).toContain('<th class="metric">acc %</th>');
    expect(table).toContain('<th class="metric">ppl</th>');
    // 0.55 → 55.0 %, interval [50.0, 60.0], Δ −5.0 [−8.0, −2.0], p 0.010
    expect(table).toMatch(/55\.0<small class="ci">\[50\.0, 60\.0\]<\/small><small class="delta">Δ −5\.0 \[−8\.0, −2\.0\] p = 0\.010 \*<\/small>/);
    expect(table).toMatch(/>31\.00</);
  });
});

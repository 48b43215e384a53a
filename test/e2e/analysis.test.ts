/**
 * What calibrating on a language pair changes, end to end: a two-pair sweep with `analyze: true`
 * through the HTTP API, run by a real runner against `wrangler dev`; the analysis checked against
 * the runs' own masks.bin; the CLI's `analyze`; and the sweep, analysis and run pages in Chromium.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MaskAnalysis } from '@polyprune/shared/api/analysis';
import { unpackMasks } from '@polyprune/gpu-runner/prune/pack';
import { repoRoot } from '../../scripts/lib/stack';
import { launchChromium } from './browser';
import { demoData, seed, type Seeded, startTestStack, type TestStack, waitJob } from './helpers';

let t: TestStack;
let s: Seeded;
let deCorpus: string;
let browser: Browser;

beforeAll(async () => {
  t = await startTestStack();
  s = await seed(t.api);
  deCorpus = (await t.api.uploadCorpus(await demoData('corpus.de-en.tsv'), { src: 'de', tgt: 'en', format: 'tsv' })).id;
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await t?.close();
});

function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = { PATH: process.env.PATH, HOME: t.tmp, POLYPRUNE_URL: t.stack.url, POLYPRUNE_TOKEN: t.stack.adminToken };
  return new Promise((resolve) => {
    execFile(process.execPath, [path.join(repoRoot, 'bin/polyprune.mjs'), ...args], { env, cwd: t.tmp, timeout: 300_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

/** Jaccard of the pruned weights of two masks.bin files, over all layers, with plain loops. */
function plainJaccard(a: Uint8Array, b: Uint8Array): number {
  const ma = unpackMasks(a).masks;
  const mb = new Map(unpackMasks(b).masks.map((m) => [m.id, m]));
  let both = 0;
  let either = 0;
  for (const m of ma) {
    const n = mb.get(m.id)!;
    for (let i = 0; i < m.keep.length; i++) {
      if (m.keep[i] === 0 && n.keep[i] === 0) both++;
      if (m.keep[i] === 0 || n.keep[i] === 0) either++;
    }
  }
  return both / either;
}

describe('mask analysis of a two-pair sweep', () => {
  it('compares the masks of every pair and calibration once the prune jobs end, and shows it', async () => {
    const sweep = await t.api.createSweep({
      modelId: s.modelId,
      pairs: [{ corpusId: s.corpusId }, { corpusId: deCorpus }],
      sparsities: [0.5],
      methods: [
        { method: 'wanda', dataType: 'mt' },
        { method: 'wanda', dataType: 'mono' },
      ],
      includeDense: false,
      analyze: true,
      base: { mode: 'oneshot', calibration: { samples: 8, shots: 2, maxLength: 64 }, visibility: 'public' },
    });
    expect(sweep.jobs.map((j) => j.kind).sort()).toEqual(['analyze', 'prune', 'prune', 'prune', 'prune']);
    const done = [];
    for (const j of sweep.jobs) done.push(await waitJob(t.api, j.id, (x) => x.status !== 'queued' && x.status !== 'running'));
    for (const j of done) expect(j.status, `${j.id} ${j.error}`).toBe('succeeded');
    const analysisJob = done.find((j) => j.kind === 'analyze')!;
    // The analysis ran after every prune job it compares.
    for (const j of done.filter((x) => x.kind === 'prune')) expect(j.finishedAt! <= analysisJob.startedAt!).toBe(true);

    const run = await t.api.getRun(analysisJob.runId!);
    expect(run.kind).toBe('analyze');
    expect(run.artifacts.map((a) => a.name)).toEqual(['analysis.json']);
    const a: MaskAnalysis = await t.api.analysis(run.id);
    expect(a.runs.map((r) => r.label).sort()).toEqual(['mono:de-en', 'mono:fr-en', 'mt:de-en', 'mt:fr-en']);
    expect(a.lmf!.labels.sort()).toEqual(['de-en', 'fr-en']);
    const masks = await Promise.all(a.runs.map((r) => t.api.runArtifact(r.runId, 'masks.bin')));
    for (let i = 0; i < 4; i++) {
      expect(a.matrices.jaccard[i]![i]).toBe(1);
      for (let j = i + 1; j < 4; j++) {
        expect(a.matrices.jaccard[i]![j]).toBeCloseTo(plainJaccard(masks[i]!, masks[j]!), 12);
        // Masks of one model agree beyond chance whatever the calibration.
        expect(a.matrices.jaccard[i]![j]!).toBeGreaterThan(a.matrices.jaccardChance[i]![j]!);
      }
    }
    // Each prune run says it has an LMF report.
    const prune = await t.api.getRun(a.runs[0]!.runId);
    expect(prune.extra.lmf).toMatchObject({ status: 'available' });

    // The CLI: two runs compared again, matrix printed.
    const fr = a.runs.findIndex((r) => r.label === 'mt:fr-en');
    const de = a.runs.findIndex((r) => r.label === 'mt:de-en');
    const out = await cli(['analyze', '--run', a.runs[fr]!.runId, '--run', a.runs[de]!.runId, '--watch']);
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout).toContain('mask overlap of 2 runs');
    expect(out.stdout).toMatch(new RegExp(`mt:fr-en\\s+1\\.000\\s+${a.matrices.jaccard[fr]![de]!.toFixed(3)}`));
    expect(out.stdout).toContain('/runs/run_');

    // The pages: sweep → analysis heatmap → one pair's layers → a run's LMF chart.
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    expect((await page.goto(t.api.pageUrl('sweeps', sweep.sweepId)))?.status()).toBe(200);
    await page.locator('#analyses a', { hasText: 'mask analysis of 4 prune jobs' }).click();
    await page.waitForURL(`**/runs/${run.id}`);
    const cells = page.locator('#mask-jaccard rect.cell');
    expect(await cells.count()).toBe(16);
    const values = await cells.evaluateAll((rs) =>
      rs.map((r) => [Number(r.getAttribute('data-row')), Number(r.getAttribute('data-col')), r.getAttribute('data-value')]),
    );
    for (const [i, j, v] of values) expect(Number(v)).toBeCloseTo(a.matrices.jaccard[i as number]![j as number]!, 9);
    expect(await page.locator('#lmf-overlap rect.cell').count()).toBe(4);
    expect(await page.locator('#mask-lmf-share rect.cell').count()).toBe(16);
    const box = await page.locator('#mask-jaccard').boundingBox();
    expect(box!.width).toBeGreaterThan(200);
    await mkdir(path.join(repoRoot, 'test/artifacts'), { recursive: true });
    await page.screenshot({ path: path.join(repoRoot, 'test/artifacts/analysis.png'), fullPage: true });

    await page.locator('#mask-jaccard a').first().click();
    await page.waitForURL(/pair=\d+/);
    expect(await page.locator('#layers tbody tr').count()).toBe(a.layers.length);
    expect(await page.locator('h3').textContent()).toContain(' × ');

    await page.locator('#analysis .note a').first().click();
    await page.waitForURL(`**/runs/${a.runs[0]!.runId}`);
    const blocks = a.lmf!.blocks.length;
    expect(await page.locator('#lmf-chart rect.bar.mt').count()).toBe(blocks);
    expect(await page.locator('#lmf-chart rect.bar.mono').count()).toBe(blocks);
    await page.screenshot({ path: path.join(repoRoot, 'test/artifacts/lmf.png'), fullPage: true });
    await page.close();
  });
});

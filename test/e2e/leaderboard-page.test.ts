import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyMigrations, createToken, freePort, repoRoot, startWorker, type WorkerProcess } from '../../scripts/lib/stack';
import { launchChromium } from './browser';

/**
 * The leaderboard page as a person sees it: a real `wrangler dev`, results reported through the
 * runner protocol, and the page opened in headless Chromium (Debian's, never a downloaded one).
 */
const ADMIN = 'pp_admin_e2e_page_0123456789abcdef';

let worker: WorkerProcess;
let state: string;
let browser: Browser;
let modelId: string;
let writer: string;

const seeded: Record<string, Record<string, number>> = {
  dense: { de: 0.52, en: 0.61, fr: 0.55 },
  wanda: { de: 0.49, en: 0.58, fr: 0.53 },
  magnitude: { de: 0.4, en: 0.47, fr: 0.41 },
  wanda70: { de: 0.38, en: 0.45, fr: 0.44 },
};

async function api(method: string, p: string, token: string, body?: unknown, raw?: string | Uint8Array) {
  const res = await fetch(`${worker.url}${p}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
    body: body !== undefined ? JSON.stringify(body) : raw,
  });
  const text = await res.text();
  if (res.status >= 400) throw new Error(`${method} ${p} → ${res.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

beforeAll(async () => {
  state = await mkdtemp(path.join(os.tmpdir(), 'pp-page-'));
  await applyMigrations(state);
  worker = await startWorker({ port: await freePort(), persistTo: state, vars: { ADMIN_TOKEN: ADMIN } });
  writer = await createToken(worker.url, ADMIN, { owner: 'page', scopes: ['write'] });
  const runner = await createToken(worker.url, ADMIN, { owner: 'page-runner', scopes: ['runner'] });
  modelId = (await api('POST', '/v1/models', writer, { name: 'page-model', family: 'xglm', visibility: 'public' })).id;
  // A real graph: *.onnx uploads are scanned and anything else is refused.
  await api('PUT', `/v1/models/${modelId}/files/model.onnx`, writer, undefined, await readFile(path.join(repoRoot, 'test/fixtures/models/xglm/model.onnx')));
  await api('PUT', `/v1/models/${modelId}/files/tokenizer.json`, writer, undefined, '{}');
  const corpus = (await api('POST', '/v1/corpora?src=fr&tgt=en&visibility=public', writer, undefined, 'Bonjour\tHello\n')).id;
  const suites: Record<string, string> = {};
  for (const lang of ['de', 'en', 'fr']) {
    suites[lang] = (
      await api('POST', `/v1/suites?format=xnli&lang=${lang}&visibility=public`, writer, undefined, '{"premise":"p","hypothesis":"h","label":1}')
    ).id;
  }
  const specs: Record<string, unknown> = {
    dense: { kind: 'evaluate', modelId, suites: Object.values(suites), visibility: 'public' },
    wanda: { kind: 'prune', modelId, calibration: { corpusId: corpus }, suites: Object.values(suites), visibility: 'public' },
    magnitude: { kind: 'prune', modelId, method: 'magnitude', suites: Object.values(suites), visibility: 'public' },
    wanda70: { kind: 'prune', modelId, calibration: { corpusId: corpus }, sparsity: 0.7, suites: Object.values(suites), visibility: 'public' },
  };
  for (const [name, spec] of Object.entries(specs)) {
    const job = await api('POST', '/v1/jobs', writer, spec);
    const lease = await api('POST', '/v1/runner/lease', runner, { runnerId: 'page' });
    expect(lease.job.id).toBe(job.id);
    const scores = Object.entries(seeded[name]!).map(([lang, value]) => ({
      suiteId: suites[lang],
      format: 'xnli',
      lang,
      scoring: 'paper',
      metric: 'acc',
      value,
      n: 50,
    }));
    await api('POST', `/v1/runner/jobs/${job.id}/complete`, runner, { leaseToken: lease.leaseToken, result: { scores } });
  }
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await worker?.stop();
  if (state) await rm(state, { recursive: true, force: true });
});

describe('leaderboard page in Chromium', () => {
  it('renders the table and the per-language chart, and links to runs', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    const res = await page.goto(`${worker.url}/leaderboards/${modelId}`);
    expect(res?.status()).toBe(200);
    // Header cells: the language, then the suite's name and the chance level in smaller print.
    const headers = await page.locator('#leaderboard thead th').evaluateAll((ths) => ths.map((th) => th.firstChild?.textContent));
    expect(headers).toEqual(['variant', 'de', 'en', 'fr', 'mean', 'mean non-En', 'Δ vs dense']);
    expect(await page.locator('#leaderboard thead th small.suite').allTextContents()).toEqual(['xnli-de', 'xnli-en', 'xnli-fr']);
    const rows = await page
      .locator('#leaderboard tbody tr')
      .evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.firstChild?.textContent ?? td.textContent)));
    const variants = await page.locator('#leaderboard tbody tr td.l > a:first-of-type').allTextContents();
    expect(variants).toEqual(['dense', 'wanda 50% mt:fr-en', 'magnitude 50%', 'wanda 70% mt:fr-en']);
    const dense = rows[0]!;
    // accuracy in % for people
    expect(Number(dense[4])).toBeCloseTo((100 * (0.52 + 0.61 + 0.55)) / 3, 1);
    // Every cell says how many rows it rests on; hovering gives the interval and Δ vs dense.
    expect(await page.locator('#leaderboard tbody small.n').count()).toBe(12);
    expect(await page.locator('#leaderboard tbody td[title]').first().getAttribute('title')).toMatch(/^n = 50 · 95% interval/);
    // Bars: 4 variants × 3 languages, each taller for a higher score within a language group.
    const bars = page.locator('#chart rect.bar');
    expect(await bars.count()).toBe(12);
    const heights = await bars.evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('height'))));
    expect(heights[0]! > heights[2]!).toBe(true); // de: dense 0.52 > magnitude 0.40
    // The scale starts near the smallest value, not at 0: the shortest bar is much shorter than the tallest.
    expect(Math.min(...heights) / Math.max(...heights)).toBeLessThan(0.5);
    // Metric vs sparsity: one line per method and suite, wanda with its two sparsities, dense dashed.
    const lines = page.locator('#sparsity-charts polyline.series');
    expect(await lines.count()).toBe(6);
    const points = await lines.evaluateAll((ls) => ls.map((l) => (l.getAttribute('points') ?? '').split(' ').length));
    expect(points.sort()).toEqual([1, 1, 1, 2, 2, 2]);
    expect(await page.locator('#sparsity-charts line.dense').count()).toBe(3);
    // One legend for the whole figure (not one per panel); accuracy panels on a linear axis.
    expect(await page.locator('#sparsity-figure ul.legend').count()).toBe(1);
    expect(await page.locator('#sparsity-charts svg.sparsity-chart').count()).toBe(3);
    expect(await page.locator('#sparsity-charts svg.sparsity-chart ul.legend, #sparsity-charts svg g.legend').count()).toBe(0);
    expect(new Set(await page.locator('#sparsity-charts svg.sparsity-chart').evaluateAll((ss) => ss.map((x) => x.getAttribute('data-scale'))))).toEqual(
      new Set(['linear']),
    );
    const box = await page.locator('#chart').boundingBox();
    expect(box!.width).toBeGreaterThan(200);
    await mkdir(path.join(repoRoot, 'test/artifacts'), { recursive: true });
    await page.screenshot({ path: path.join(repoRoot, 'test/artifacts/leaderboard.png'), fullPage: true });
    const href = await page.locator('#leaderboard tbody tr td a').first().getAttribute('href');
    expect(href).toMatch(/^\/v1\/runs\/run_/);
    const run = await page.request.get(`${worker.url}${href}`);
    expect(run.status()).toBe(200);
  });

  it('ranks models against each other on the across-models page, filtered by language and sparsity', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 800 } });
    const res = await page.goto(`${worker.url}/leaderboards?format=xnli`);
    expect(res?.status()).toBe(200);
    await page.fill('#filters input[name=lang]', 'fr');
    await page.fill('#filters input[name=sparsity]', '0.5');
    await Promise.all([page.waitForURL(/lang=fr/), page.click('#filters button[type=submit]')]);
    const models = await page.locator('#leaderboard tbody tr td:first-child').allTextContents();
    expect(models).toEqual(['page-model', 'page-model', 'page-model']);
    const variants = await page
      .locator('#leaderboard tbody tr td.l > a:first-of-type')
      .evaluateAll((as) => as.map((a) => a.textContent).filter((t) => t !== 'page-model'));
    expect(variants).toEqual(['dense', 'wanda 50% mt:fr-en', 'magnitude 50%']);
    expect(await page.locator('#leaderboard thead th small.suite').allTextContents()).toEqual(['xnli-fr']);
    const csv = await page.request.get(`${worker.url}/v1/leaderboards?format=xnli&lang=fr&sparsity=0.5`, { headers: { accept: 'text/csv' } });
    expect((await csv.text()).trim().split('\r\n')).toHaveLength(4);
    await page.screenshot({ path: path.join(repoRoot, 'test/artifacts/leaderboard-across-models.png'), fullPage: true });
  });

  it('signs in with a token (a session cookie on loopback), shows private work, and signs out', async () => {
    const hidden = (await api('POST', '/v1/models', writer, { name: 'page-private-model', family: 'xglm' })).id as string;
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${worker.url}/leaderboards/${hidden}`);
    expect(await page.locator('h1').textContent()).toBe('Not found');
    await Promise.all([page.waitForURL(/\/login\?next=/), page.click('a[href^="/login?next="]')]);
    await page.fill('input[name=token]', writer);
    await Promise.all([page.waitForURL(`${worker.url}/leaderboards/${hidden}`), page.click('form[action="/login"] button[type=submit]')]);
    expect(await page.content()).toContain('page-private-model');
    const [cookie] = await context.cookies();
    expect(cookie).toMatchObject({ name: 'pp_session', httpOnly: true, sameSite: 'Lax', secure: false });
    expect(cookie!.value).not.toBe(writer);
    await page.goto(`${worker.url}/`);
    expect(await page.locator('body').textContent()).toContain('Signed in as page');
    // The front door, signed in: the private model among the user's models.
    expect(await page.locator('#models').textContent()).toContain('page-private-model');
    await page.screenshot({ path: path.join(repoRoot, 'test/artifacts/front-door.png'), fullPage: true });
    await Promise.all([page.waitForURL(`${worker.url}/`), page.click('form[action="/logout"] button[type=submit]')]);
    expect(await page.locator('body').textContent()).not.toContain('Signed in as');
    expect(await context.cookies()).toEqual([]);
    expect(await page.locator('#models').textContent()).not.toContain('page-private-model');
    expect((await page.goto(`${worker.url}/leaderboards/${hidden}`))?.status()).toBe(404);
    await context.close();
  });
});

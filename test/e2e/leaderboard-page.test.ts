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

const seeded: Record<string, Record<string, number>> = {
  dense: { de: 0.52, en: 0.61, fr: 0.55 },
  wanda: { de: 0.49, en: 0.58, fr: 0.53 },
  magnitude: { de: 0.4, en: 0.47, fr: 0.41 },
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
  const writer = await createToken(worker.url, ADMIN, { owner: 'page', scopes: ['write'] });
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
    const headers = await page.locator('#leaderboard thead th').allTextContents();
    expect(headers).toEqual(['variant', 'de', 'en', 'fr', 'mean', 'mean non-En', 'Δ vs dense']);
    const rows = await page.locator('#leaderboard tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent)));
    expect(rows.map((r) => r[0])).toEqual(['dense', 'wanda 50% mt:fr-en', 'magnitude 50%']);
    const dense = rows[0]!;
    expect(Number(dense[4])).toBeCloseTo((0.52 + 0.61 + 0.55) / 3, 3);
    // Bars: 3 variants × 3 languages, each taller for a higher score within a language group.
    const bars = page.locator('#chart rect.bar');
    expect(await bars.count()).toBe(9);
    const heights = await bars.evaluateAll((rs) => rs.map((r) => Number(r.getAttribute('height'))));
    expect(heights[0]! > heights[2]!).toBe(true); // de: dense 0.52 > magnitude 0.40
    const box = await page.locator('#chart').boundingBox();
    expect(box!.width).toBeGreaterThan(200);
    await mkdir(path.join(repoRoot, 'test/artifacts'), { recursive: true });
    await page.screenshot({ path: path.join(repoRoot, 'test/artifacts/leaderboard.png'), fullPage: true });
    const href = await page.locator('#leaderboard tbody tr td a').first().getAttribute('href');
    expect(href).toMatch(/^\/v1\/runs\/run_/);
    const run = await page.request.get(`${worker.url}${href}`);
    expect(run.status()).toBe(200);
  });
});

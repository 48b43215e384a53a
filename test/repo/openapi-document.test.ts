/**
 * The API document as clients read it: Redocly's recommended ruleset finds nothing in it, and
 * openapi-typescript turns it into types that a small client compiles against. Both tools run
 * offline (CI has no network): Redocly's telemetry and update check are off.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import openapiTS, { astToString } from 'openapi-typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { app } from '@polyprune/worker/index';
import { openApiDocument } from '@polyprune/worker/lib/openapi';

const run = promisify(execFile);
const root = path.join(import.meta.dirname, '../..');
const bin = (name: string) => path.join(root, 'node_modules/.bin', name);
const offline = { ...process.env, REDOCLY_TELEMETRY: 'off', REDOCLY_SUPPRESS_UPDATE_NOTICE: 'true', NO_COLOR: '1' };

let dir: string;
let docFile: string;
const doc = openApiDocument(app, 'test') as { paths: Record<string, Record<string, { operationId?: string }>> };

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'polyprune-openapi-'));
  docFile = path.join(dir, 'openapi.json');
  writeFileSync(docFile, JSON.stringify(doc));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface LintReport {
  totals: { errors: number; warnings: number; ignored: number };
  problems: { ruleId: string; message: string; location: { pointer: string }[] }[];
}

async function lint(file: string): Promise<LintReport> {
  // redocly exits 1 when it finds errors; the JSON report is on stdout either way.
  const out = await run(process.execPath, [bin('redocly'), 'lint', file, '--config', path.join(root, 'redocly.yaml'), '--format', 'json'], {
    env: offline,
    cwd: dir,
    maxBuffer: 64 << 20,
  }).catch((e: { stdout?: string }) => ({ stdout: e.stdout ?? '' }));
  return JSON.parse(out.stdout) as LintReport;
}

describe('OpenAPI document, as clients read it', () => {
  it('lints clean under Redocly recommended (redocly.yaml)', async () => {
    const report = await lint(docFile);
    const problems = report.problems.map((p) => `${p.ruleId}: ${p.message} at ${p.location[0]?.pointer}`);
    expect(problems).toEqual([]);
    expect(report.totals).toEqual({ errors: 0, warnings: 0, ignored: 0 });
  });

  it('the lint does find problems (a document without security and operationIds fails it)', async () => {
    const broken = structuredClone(doc) as { paths: Record<string, Record<string, Record<string, unknown>>> };
    delete broken.paths['/v1/models']!.get!.security;
    delete broken.paths['/v1/models']!.get!.operationId;
    const file = path.join(dir, 'broken.json');
    writeFileSync(file, JSON.stringify(broken));
    const report = await lint(file);
    expect(report.problems.map((p) => p.ruleId).sort()).toEqual(['operation-operationId', 'security-defined']);
  });

  it('every operation has a camelCase operationId, unique across the document', () => {
    const ids = Object.values(doc.paths).flatMap((ops) => Object.values(ops).map((o) => o.operationId));
    expect(ids.length).toBeGreaterThan(50);
    for (const id of ids) expect(id).toMatch(/^[a-z][a-zA-Z0-9]*$/);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('generates a typed client (openapi-typescript) that compiles calls to three routes, and refuses wrong ones', async () => {
    writeFileSync(path.join(dir, 'api.d.ts'), astToString(await openapiTS(doc as never)));
    // Typed calls to fetch through the generated `paths` and `operations`: no client library needed.
    writeFileSync(
      path.join(dir, 'client.ts'),
      `import type { operations, paths } from './api';

type Ok<O> = O extends { responses: { 200: { content: { 'application/json': infer T } } } } ? T : never;
type Query<O> = O extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;
type Body<O> = O extends { requestBody?: { content: { 'application/json': infer B } } } ? B : never;

const base = 'https://polyprune.example';
const auth = (token: string) => ({ authorization: \`Bearer \${token}\` });

export async function getModel(token: string, id: operations['getModel']['parameters']['path']['id']): Promise<Ok<paths['/v1/models/{id}']['get']>> {
  const res = await fetch(\`\${base}/v1/models/\${encodeURIComponent(id)}\`, { headers: auth(token) });
  return (await res.json()) as Ok<operations['getModel']>;
}

export async function createJob(token: string, body: Body<operations['createJob']>): Promise<Ok<operations['getJob']>> {
  const res = await fetch(\`\${base}/v1/jobs\`, { method: 'POST', headers: { ...auth(token), 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return (await res.json()) as Ok<operations['getJob']>;
}

export async function getLeaderboard(query: Query<operations['getLeaderboard']>): Promise<Ok<operations['getLeaderboard']>> {
  const qs = new URLSearchParams(Object.entries(query).map(([k, v]) => [k, String(v)]));
  const res = await fetch(\`\${base}/v1/leaderboards?\${qs}\`);
  return (await res.json()) as Ok<operations['getLeaderboard']>;
}

export async function use(token: string) {
  const model = await getModel(token, 'mdl_1');
  const name: string = model.name;
  const job = await createJob(token, { kind: 'evaluate', modelId: model.id, suites: ['ste_1'] });
  const status: string = job.status;
  const board = await getLeaderboard({ model: model.id, format: 'xnli' });
  const rows: number = board.rows.length;
  // Wrong calls must not compile: if the types degraded to any, these directives would be unused (an error).
  // @ts-expect-error a model's name is a string
  const wrong: number = model.name;
  // @ts-expect-error a job needs its kind
  await createJob(token, { modelId: model.id });
  // @ts-expect-error no such route
  type Missing = paths['/v1/nowhere'];
  return { name, status, rows, wrong };
}
`,
    );
    const compilerOptions = { strict: true, noEmit: true, target: 'ES2022', module: 'ESNext', moduleResolution: 'Bundler', lib: ['ES2022', 'DOM'], types: [] };
    writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({ compilerOptions, files: ['client.ts'] }));
    const r = await run(process.execPath, [bin('tsc'), '-p', dir], { cwd: dir }).catch((e: { stdout?: string; code?: number }) => ({
      stdout: e.stdout ?? '',
      code: e.code,
    }));
    expect(r.stdout).toBe('');
    expect('code' in r ? r.code : 0).toBe(0);
  }, 60_000);
});

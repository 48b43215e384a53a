import { describe, expect, it } from 'vitest';
import { suiteFormats } from '../../shared/src/suites';
import { ADMIN, call, makeToken } from './helpers';

/** Seeded generator so a failure reproduces. */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

const fragments = [
  '\t',
  '\n',
  '\r\n',
  '{',
  '}',
  '"src"',
  '"tgt"',
  ':',
  ',',
  '[',
  ']',
  'null',
  '1e999',
  '-1',
  '"label"',
  '\u0000',
  '\u0007',
  'é',
  '日本',
  '\uFFFD',
  '"',
  '\\',
  ' ',
  'true',
  '"choices"',
  '"text"',
];

function randomBody(r: () => number): Uint8Array {
  const kind = Math.floor(r() * 3);
  if (kind === 0) {
    const n = Math.floor(r() * 300);
    return Uint8Array.from({ length: n }, () => Math.floor(r() * 256));
  }
  let s = '';
  const n = Math.floor(r() * 40);
  for (let i = 0; i < n; i++) s += fragments[Math.floor(r() * fragments.length)]!;
  if (kind === 2) s = `{"src":"${s}","tgt":${JSON.stringify(s)}}\n${s}`;
  return new TextEncoder().encode(s);
}

describe('fuzzed uploads never cause a 500', () => {
  it('throws random and malformed bodies at every upload route', async () => {
    const w = await makeToken('fuzzer', ['write']);
    const model = (await call('POST', '/v1/models', { token: w, json: { name: 'fz', family: 'gpt2' } })).body.id;
    const r = rng(20261129);
    const targets: ((b: Uint8Array) => [string, string, string?])[] = [
      () => ['POST', `/v1/corpora?src=fr&tgt=en${r() < 0.5 ? '&onError=skip' : ''}`],
      () => ['POST', `/v1/suites?format=${suiteFormats[Math.floor(r() * suiteFormats.length)]}&lang=es${r() < 0.5 ? '&onError=skip' : ''}`],
      () => ['POST', '/v1/models', 'application/json'],
      () => ['POST', '/v1/tokens', 'application/json'],
      () => ['PATCH', `/v1/models/${model}`, 'application/json'],
      () => ['PUT', `/v1/models/${model}/files/model.onnx`],
      () => ['POST', `/v1/models/${model}/files/x.bin/uploads/upl_nope/complete`, 'application/json'],
    ];
    let count = 0;
    for (let i = 0; i < 40; i++) {
      for (const target of targets) {
        const body = randomBody(r);
        const [method, path, ct] = target(body);
        const headers: Record<string, string> = ct ? { 'content-type': ct } : {};
        if (r() < 0.2) headers['x-content-sha256'] = r() < 0.5 ? 'zz' : 'a'.repeat(64);
        const res = await call(method, path, { token: path.startsWith('/v1/tokens') ? ADMIN : w, body, headers });
        expect(res.status, `${method} ${path} ${JSON.stringify(new TextDecoder().decode(body)).slice(0, 80)}`).toBeLessThan(500);
        if (res.status >= 400) expect(res.body.error.code).toBeTypeOf('string');
        count++;
      }
    }
    expect(count).toBe(280);
  });
});

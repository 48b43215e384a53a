/**
 * A pruned real export keeps the uploaded layout — graph and external-data file names as recorded,
 * weight dtypes, cache inputs and outputs — loads in onnxruntime, and computes what the masked
 * dense reference computes.
 */
import { existsSync } from 'node:fs';
import { mkdtemp, readdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { scoreRequests } from '@polyprune/gpu-runner/evaluate/batching';
import { openEvalModel } from '@polyprune/gpu-runner/evaluate/model';
import { writePrunedModel } from '@polyprune/gpu-runner/onnx/apply-mask';
import { externalRef, isExternal, loadModel, readWeight } from '@polyprune/gpu-runner/onnx/read';
import { createSession } from '@polyprune/gpu-runner/ort';
import { LAYOUTS, REAL, REFERENCE, masksFor, open } from './layouts.js';

const io = (m: Awaited<ReturnType<typeof loadModel>>) => ({
  inputs: (m.proto.graph!.input ?? []).map((i) => [i.name, i.type?.tensorType?.elemType]),
  outputs: (m.proto.graph!.output ?? []).map((o) => [o.name, o.type?.tensorType?.elemType]),
  weights: (m.proto.graph!.initializer ?? []).map((t) => [t.name, t.dataType]),
  ops: (m.proto.graph!.node ?? []).map((n) => `${n.domain ?? ''}:${n.opType}`).sort(),
});

describe.each(LAYOUTS)('$dir: the pruned model', (layout) => {
  it('keeps the layout, loads, and matches the masked reference', async () => {
    const real = await open(path.join(REAL, layout.dir), layout.graph);
    const ref = await open(path.join(REFERENCE, layout.dir), 'model.onnx');
    const { masks } = await masksFor(real, 'magnitude', 'oneshot', { kind: 'unstructured', sparsity: 0.5 });
    const out = await mkdtemp(path.join(os.tmpdir(), 'pp-real-'));
    const refOut = await mkdtemp(path.join(os.tmpdir(), 'pp-ref-'));
    const saved = await writePrunedModel(real.uploaded, real.linears, masks, path.join(out, layout.graph));
    await writePrunedModel(ref.uploaded, ref.linears, masks, path.join(refOut, 'model.onnx'));

    // Same file names as the upload, external data under the name the graph recorded.
    expect((await readdir(out)).sort()).toEqual([layout.graph, ...(layout.data ? [layout.data] : [])].sort());
    expect(saved.dataPath ? path.basename(saved.dataPath) : undefined).toBe(layout.data);
    const pruned = await loadModel(path.join(out, layout.graph));
    if (layout.data) {
      const locations = new Set([...pruned.initializers.values()].filter(isExternal).map((t) => externalRef(t).location));
      expect([...locations].filter((l) => l !== pruned.selfFile)).toEqual([layout.data]);
    }
    // Same inputs, outputs, weight names and dtypes, same ops.
    expect(io(pruned)).toEqual(io(real.uploaded));
    // Half the weights of every linear are zero, read back from the pruned file.
    for (const l of real.linears) {
      const w = await readWeight(pruned, l.weightName);
      const zeros = w.data.reduce((n, v) => n + (v === 0 ? 1 : 0), 0);
      expect(zeros / w.data.length, l.id).toBeGreaterThanOrEqual(0.5);
    }

    if (!layout.scorable) {
      const { session } = await createSession(path.join(out, layout.graph), { device: 'cpu' });
      expect(session.outputNames).toContain('last_state');
      await session.release();
      return;
    }
    for (const f of ['tokenizer.json']) expect(existsSync(path.join(REAL, layout.dir, f))).toBe(true);
    const { copyFile } = await import('node:fs/promises');
    for (const f of await readdir(path.join(REAL, layout.dir))) if (f.endsWith('.json')) await copyFile(path.join(REAL, layout.dir, f), path.join(out, f));
    for (const f of await readdir(path.join(REFERENCE, layout.dir)))
      if (f.endsWith('.json')) await copyFile(path.join(REFERENCE, layout.dir, f), path.join(refOut, f));
    const a = await openEvalModel(out, { device: 'cpu', graphFile: layout.graph });
    const b = await openEvalModel(refOut, { device: 'cpu' });
    const text = ['French: Le chat dort sur le canapé.</s>English: The cat sleeps.', 'The weather is nice today.'];
    const reqs = (m: typeof a) => text.map((t) => ({ tokens: Int32Array.from(m.tokenizer.encode(t)), scoreFrom: 1 }));
    const ra = await scoreRequests(a, reqs(a));
    const rb = await scoreRequests(b, reqs(b));
    const tol = layout.fp16 ? 6e-2 : 1e-3;
    for (const [i, lp] of rb.logprobs.entries()) for (let k = 0; k < lp.length; k++) expect(Math.abs(ra.logprobs[i]![k]! - lp[k]!)).toBeLessThan(tol);
    await a.session.release();
    await b.session.release();
  });
});

/**
 * Structure discovery on every real export: every prunable linear (inside fused attention and If
 * branches too), never an embedding or the LM head, found by names where the exporter kept module
 * paths and by topology where it did not; block outputs found for the sequential cut.
 */
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { findBlockOutputs } from '@polyprune/gpu-runner/onnx/structure';
import { LAYOUTS, REAL, open } from './layouts.js';

describe.each(LAYOUTS)('$dir', (layout) => {
  it(`finds ${layout.perBlock} linears per block by ${layout.discovery}`, async () => {
    const o = await open(path.join(REAL, layout.dir), layout.graph);
    expect(o.family).toBe(layout.family);
    expect(o.discovery.method).toBe(layout.discovery);
    expect(o.linears.length).toBe(2 * layout.perBlock);
    // Never the embedding table nor the LM head: both have the vocabulary as one of their dims.
    const vocab = o.tokenizer.vocabSize;
    expect(o.linears.some((l) => l.dIn === vocab || l.dOut === vocab)).toBe(false);
    // Every linear's weight is a main-graph initializer of the graph as uploaded (masks land there).
    for (const l of o.linears) expect(o.uploaded.initializers.has(l.weightName), l.weightName).toBe(true);
    // Block boundaries (residual adds, fused skip-norms split) are found in the working graph.
    const outs = findBlockOutputs(o.model, o.linears);
    expect(outs.map((b) => b.block)).toEqual([0, 1]);
  });
});

describe('what the working graph changed, per exporter', () => {
  it.each([
    ['optimum-llama-merged', 'decoder_model_merged.onnx', /inlined the no-cache branch of optimum::if/],
    ['genai-llama-fp16', 'model.onnx', /split 4 fused residual-add \+ norm node\(s\)/],
    ['ort-fused-gpt2', 'model.onnx', /split 4 fused residual-add \+ norm node\(s\)/],
    ['torch-plain', 'model.onnx', /sorted the nodes topologically/],
    // optimum re-ties GPT-2's head as MatMul(Transpose(wte)): read through FusedMatMul, no transposed copy
    ['optimum-gpt2', 'model.onnx', /tied head read through FusedMatMul\(transB\) instead of a transposed copy/],
  ])('%s', async (dir, graph, note) => {
    const o = await open(path.join(REAL, dir), graph);
    expect(o.notes.join('; ')).toMatch(note);
  });
});
